//! Lambda bootstrap (I/O): logging, configuration, AWS clients, then the runtime loop.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use kubeflow_profile_manager::domain::config::Config;
use kubeflow_profile_manager::domain::doctor::DoctorReport;
use kubeflow_profile_manager::domain::offboarding::sweep::SweepAnswer;
use kubeflow_profile_manager::error::InvocationFailed;
use kubeflow_profile_manager::lambda::Payload;
use kubeflow_profile_manager::lambda::command_line::{Launch, launch};
use kubeflow_profile_manager::lambda::init_error::report_init_error;
use kubeflow_profile_manager::lambda::logging;
use kubeflow_profile_manager::{AccessAnswer, Answer, App};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::value::RawValue;

/// What goes back to Lambda: the event, raw and byte for byte, or a command's report.
#[derive(Serialize)]
#[serde(untagged)]
enum Reply {
    Event(Box<RawValue>),
    Doctor(DoctorReport),
    Sweep(SweepAnswer),
    Access(AccessAnswer),
}

fn main() -> Result<ExitCode, Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match launch(&args, std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()) {
        Launch::Runtime => run_runtime(),
        Launch::Answer(text) => {
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Launch::Refuse(text) => {
            eprintln!("{text}");
            Ok(ExitCode::from(2))
        }
    }
}

/// The runtime loop. A start-up failure is one log line and an init error, then exit 1 (no
/// `Debug` dump of the error on stderr).
#[tokio::main(flavor = "current_thread")]
async fn run_runtime() -> Result<ExitCode, Error> {
    logging::init(|name| std::env::var(name).ok());
    let config = match Config::from_lookup(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "invalid configuration");
            report_init_error("Runtime.ConfigError", &error.to_string()).await;
            return Ok(ExitCode::FAILURE);
        }
    };
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let app = match App::new(config, &sdk, Arc::new(SystemTime::now)) {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(error = error.with_fix(), "could not start");
            report_init_error("Runtime.InitError", &error.to_string()).await;
            return Ok(ExitCode::FAILURE);
        }
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "kubeflow-profile-manager started"
    );
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Payload>| async move {
        let remaining = event
            .context
            .deadline()
            .duration_since(SystemTime::now())
            .ok();
        let payload = match event.payload {
            Payload::Json(payload) => payload,
            Payload::NotJson(why) => {
                tracing::warn!(%why, "the event is not JSON");
                return Err(InvocationFailed::MalformedEvent(why));
            }
        };
        Ok::<_, InvocationFailed>(match app.invoke(payload.get(), remaining).await? {
            Answer::Unchanged => Reply::Event(payload),
            Answer::Event(event) => Reply::Event(
                RawValue::from_string(event)
                    .map_err(|e| InvocationFailed::MalformedEvent(e.to_string()))?,
            ),
            Answer::Doctor(report) => Reply::Doctor(report),
            Answer::Sweep(summary) => Reply::Sweep(summary),
            Answer::Access(report) => Reply::Access(report),
        })
    }))
    .await
    .map(|()| ExitCode::SUCCESS)
}
