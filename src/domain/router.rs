//! The invocation router: what a payload asks for (a Cognito event, or a command to this
//! function: the doctor, the sweep, the access report), and which function of the stack
//! answers it. Pure.
//!
//! A command is a JSON object whose `kubeflow-profile-manager` member names it; Cognito's
//! events never carry that member.

use serde::Deserialize;
use serde_json::Value;

use crate::domain::config::FunctionRole;
use crate::domain::doctor::DoctorRequest;
use crate::domain::offboarding::access::ReportRequest;

/// The member that marks an invocation as a command to this function rather than a Cognito
/// event.
pub const COMMAND_MEMBER: &str = "kubeflow-profile-manager";

/// What an invocation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// A Cognito event (or anything without the command member): handled as a sign-in.
    SignIn,
    Doctor(DoctorRequest),
    /// The offboarding sweep.
    Sweep,
    AccessReport(ReportRequest),
    /// A command member this version does not know, or a malformed command.
    BadCommand(String),
}

#[derive(Deserialize)]
struct Command {
    #[serde(rename = "kubeflow-profile-manager")]
    command: String,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

/// Classifies an invocation's payload. Cheap for sign-ins: only a payload that mentions the
/// command member at all is parsed for it.
pub fn classify(raw: &str) -> Invocation {
    if !raw.contains(COMMAND_MEMBER) {
        return Invocation::SignIn;
    }
    let Ok(command) = serde_json::from_str::<Command>(raw) else {
        return Invocation::SignIn;
    };
    match command.command.as_str() {
        "doctor" => match serde_json::from_value::<DoctorRequest>(Value::Object(command.rest)) {
            Ok(request) => Invocation::Doctor(request),
            Err(error) => Invocation::BadCommand(format!("doctor: {error}")),
        },
        "sweep" if command.rest.is_empty() => Invocation::Sweep,
        "sweep" => Invocation::BadCommand("sweep takes no other member".to_owned()),
        "access-report" => {
            match serde_json::from_value::<ReportRequest>(Value::Object(command.rest)) {
                Ok(request) => match request.start() {
                    Ok(_) => Invocation::AccessReport(request),
                    Err(error) => Invocation::BadCommand(format!("access-report: {error}")),
                },
                Err(error) => Invocation::BadCommand(format!("access-report: {error}")),
            }
        }
        other => Invocation::BadCommand(format!(
            "unknown command {other:?}; this version knows \"doctor\", \"sweep\" and \"access-report\""
        )),
    }
}

impl Invocation {
    /// The function that answers this invocation: Cognito events and the doctor go to the
    /// trigger, the sweep and the access report to the sweep function. `None` for a refused
    /// command, which every function refuses alike.
    pub fn answered_by(&self) -> Option<FunctionRole> {
        match self {
            Invocation::SignIn | Invocation::Doctor(_) => Some(FunctionRole::Trigger),
            Invocation::Sweep | Invocation::AccessReport(_) => Some(FunctionRole::Sweep),
            Invocation::BadCommand(_) => None,
        }
    }

    /// Why a function of `role` refuses this invocation, if it does: permission to invoke one
    /// function must never be permission to do the other's job (invoking the sweep function
    /// with a sign-in event would grant access with the sweep's rights).
    pub fn refused_by(&self, role: FunctionRole) -> Option<String> {
        let answerer = self.answered_by().filter(|answerer| *answerer != role)?;
        let (what, other) = match answerer {
            FunctionRole::Trigger => (
                "Cognito events and the doctor",
                "the trigger (the stack's FunctionName)",
            ),
            FunctionRole::Sweep => (
                "the sweep and the access report",
                "the sweep function (the stack's SweepFunctionName)",
            ),
        };
        Some(format!(
            "this is the {} function (FUNCTION_ROLE={}): {what} go to {other}",
            role.as_str(),
            role.as_str()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_payload_with_the_command_member_is_a_command() {
        assert_eq!(
            classify(r#"{"version":"1","triggerSource":"TokenGeneration_HostedAuth"}"#),
            Invocation::SignIn
        );
        // A group named like the member, inside a Cognito event, is still a sign-in.
        assert_eq!(
            classify(
                r#"{"request":{"userAttributes":{"custom:groups":"[kubeflow-profile-manager]"}}}"#
            ),
            Invocation::SignIn
        );
        assert_eq!(
            classify(r#"{"kubeflow-profile-manager":"doctor"}"#),
            Invocation::Doctor(DoctorRequest::default())
        );
        let Invocation::Doctor(request) = classify(
            r#"{"kubeflow-profile-manager":"doctor","email":"j@corp.example","groups":["A"]}"#,
        ) else {
            panic!("a doctor request")
        };
        assert_eq!(request.groups, ["A"]);
        assert!(matches!(
            classify(r#"{"kubeflow-profile-manager":"doctor","emial":"x"}"#),
            Invocation::BadCommand(m) if m.contains("emial")
        ));
        assert_eq!(
            classify(r#"{"kubeflow-profile-manager":"sweep"}"#),
            Invocation::Sweep
        );
        assert!(matches!(
            classify(r#"{"kubeflow-profile-manager":"sweep","dryRun":true}"#),
            Invocation::BadCommand(_)
        ));
        let Invocation::AccessReport(request) = classify(
            r#"{"kubeflow-profile-manager":"access-report","namespace":"ml","format":"csv"}"#,
        ) else {
            panic!("an access report request")
        };
        assert_eq!(request.namespace.as_deref(), Some("ml"));
        assert_eq!(
            request.format,
            crate::domain::offboarding::access::ReportFormat::Csv
        );
        assert!(matches!(
            classify(r#"{"kubeflow-profile-manager":"access-report","format":"xlsx"}"#),
            Invocation::BadCommand(m) if m.contains("xlsx")
        ));
        assert!(matches!(
            classify(r#"{"kubeflow-profile-manager":"cure"}"#),
            Invocation::BadCommand(m) if m.contains("cure")
        ));
    }
}
