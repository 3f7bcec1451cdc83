//! The log subscriber: Lambda's log format and level (`AWS_LAMBDA_LOG_FORMAT`,
//! `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO), as lambda_runtime's default subscriber
//! reads them, with one difference: no other crate is ever logged below DEBUG, whatever the
//! level. At TRACE the AWS signing crate logs what it signs (the session token among it) and
//! the HTTP crates log headers (the bearer token among them). I/O (stdout).

use std::str::FromStr;

use tracing::Level;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// This crate's target prefix: the only code whose TRACE events are ever written.
const OWN_TARGET: &str = "kubeflow_profile_manager";

/// True when an event of `level` from `target` may be written at all: everything from this
/// crate; from any other crate, DEBUG and above.
pub fn may_log(target: &str, level: &Level) -> bool {
    *level != Level::TRACE
        || target == OWN_TARGET
        || target.starts_with("kubeflow_profile_manager::")
}

/// Installs the subscriber, writing to stdout.
pub fn init(lookup: impl Fn(&str) -> Option<String>) {
    init_with_writer(lookup, std::io::stdout);
}

/// Installs the subscriber with `writer` (tests capture the output this way).
pub fn init_with_writer<W>(lookup: impl Fn(&str) -> Option<String>, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let level = lookup("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| lookup("RUST_LOG"))
        .and_then(|level| LevelFilter::from_str(&level).ok())
        .unwrap_or(LevelFilter::INFO);
    let json = lookup("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    // RUST_LOG may also hold per-target directives, as lambda_runtime's subscriber allows.
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .parse_lossy(lookup("RUST_LOG").unwrap_or_default())
        .and(filter_fn(|metadata| {
            may_log(metadata.target(), metadata.level())
        }));
    let format = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(writer);
    let layer = if json {
        format.json().with_filter(filter).boxed()
    } else {
        format.with_filter(filter).boxed()
    };
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_other_crate_is_ever_logged_at_trace() {
        for target in [
            "aws_sigv4::http_request::sign",
            "hyper_util::client",
            "h2::codec",
            "rustls",
            "kube_client",
        ] {
            assert!(!may_log(target, &Level::TRACE), "{target}");
            assert!(may_log(target, &Level::DEBUG), "{target}");
        }
        assert!(may_log("kubeflow_profile_manager::kube_api", &Level::TRACE));
        assert!(may_log("kubeflow_profile_manager", &Level::TRACE));
        assert!(!may_log("kubeflow_profile_manager_evil", &Level::TRACE));
    }
}
