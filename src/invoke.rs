//! The entry of every invocation: the router says what it asks for and whether this function
//! answers it; the use case's room does the rest. I/O.

use std::time::Duration;

use crate::app::App;
use crate::domain::doctor::DoctorReport;
use crate::domain::offboarding::access::{AccessReport, ReportFormat};
use crate::domain::offboarding::sweep::SweepAnswer;
use crate::domain::router::{Invocation, classify};
use crate::error::{Error, InvocationFailed};
use crate::sign_in::Outcome;

/// What an invocation answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The event, exactly as received.
    Unchanged,
    /// The event with its response set: the vetted groups in the tokens (`TOKEN_GROUPS`).
    Event(String),
    /// The doctor's report.
    Doctor(DoctorReport),
    /// What the sweep did.
    Sweep(SweepAnswer),
    /// The access report.
    Access(AccessAnswer),
}

/// The access report as asked: JSON, or one CSV table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum AccessAnswer {
    Json(AccessReport),
    /// One CSV table, and where the next page starts.
    Csv {
        csv: String,
        next: Option<String>,
    },
}

impl App {
    /// Handles one invocation: a Cognito event (the caller returns it unchanged on
    /// [`Answer::Unchanged`]) or a command to this function (the doctor, the sweep, the access
    /// report).
    pub async fn invoke(
        &self,
        raw: &str,
        remaining: Option<Duration>,
    ) -> Result<Answer, InvocationFailed> {
        let invocation = classify(raw);
        if let Some(message) = invocation.refused_by(self.config.function_role) {
            tracing::warn!(%message, "invocation refused");
            return Err(InvocationFailed::WrongFunction(message));
        }
        match invocation {
            Invocation::SignIn => match self.handle(raw, remaining).await? {
                Outcome::Gated => Err(InvocationFailed::Gated(
                    self.config.token.gate.clone().unwrap_or_default(),
                )),
                outcome => Ok(self
                    .token_answer(raw, &outcome)
                    .map_or(Answer::Unchanged, Answer::Event)),
            },
            Invocation::Doctor(request) => {
                Ok(Answer::Doctor(self.doctor(&request, remaining).await))
            }
            Invocation::Sweep => self
                .sweep(remaining)
                .await
                .map(Answer::Sweep)
                .map_err(|error| command_failed("sweep", &error)),
            Invocation::AccessReport(request) => {
                let report = self
                    .access_report(&request, remaining)
                    .await
                    .map_err(|error| command_failed("access-report", &error))?;
                Ok(Answer::Access(match request.format {
                    ReportFormat::Json => AccessAnswer::Json(report),
                    ReportFormat::Csv => AccessAnswer::Csv {
                        csv: report.to_csv(),
                        next: report.next.clone(),
                    },
                }))
            }
            Invocation::BadCommand(message) => {
                tracing::warn!(%message, "command refused");
                Err(InvocationFailed::BadCommand(message))
            }
        }
    }
}

/// A command that failed: logged with its causes and fix, reported to Lambda with them.
fn command_failed(command: &'static str, error: &Error) -> InvocationFailed {
    tracing::error!(
        command,
        error = error.chain(),
        hint = error.hint().unwrap_or(""),
        "command failed"
    );
    InvocationFailed::CommandFailed(format!("{command}: {}", error.with_fix()))
}
