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

/// False for what the Lambda runtime would say again of what this crate logs already: the
/// runtime prints every handler error's `Debug` (lambda_runtime 1.5 `layers/panic.rs`,
/// `error!("{error:?}")`, a message and no other field), and the handler has logged that failure
/// in its own words. Its panic report (`error!(?error, "user handler panicked")`) stays.
pub fn is_news(metadata: &tracing::Metadata<'_>) -> bool {
    !(metadata.target() == "lambda_runtime::layers::panic"
        && metadata.is_event()
        && metadata.fields().field("error").is_none())
}

/// True for spans the text format shows. The runtime's `Lambda runtime invoke` span
/// (lambda_runtime 1.5 `layers/trace.rs`: request id and X-Ray trace id) is left out: in text,
/// read by a person running the function locally, it prefixes every line with ~130 characters;
/// the JSON format, which Lambda's log group holds (template.yaml `LogFormat: JSON`), keeps it.
fn shown_in_text(metadata: &tracing::Metadata<'_>) -> bool {
    !(metadata.is_span() && metadata.target().starts_with("lambda_runtime"))
}

/// Installs the subscriber, writing to stdout.
pub fn init(lookup: impl Fn(&str) -> Option<String>) {
    let _ = subscriber(lookup, std::io::stdout).try_init();
}

/// The subscriber for the settings `lookup` finds, writing to `writer`.
pub fn subscriber<W>(
    lookup: impl Fn(&str) -> Option<String>,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
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
            may_log(metadata.target(), metadata.level()) && is_news(metadata)
        }));
    let format = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(writer);
    let layer = if json {
        format.json().with_filter(filter).boxed()
    } else {
        format
            .with_filter(filter.and(filter_fn(shown_in_text)))
            .boxed()
    };
    tracing_subscriber::registry().with(layer)
}

/// Prints an Embedded Metric Format document as one line on stdout, where Lambda sends it to
/// CloudWatch Logs, which turns it into metrics.
pub fn emit_metrics(document: &serde_json::Value) {
    println!("{document}");
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::{Arc, Mutex};

    /// Runs `emit` under the subscriber for `vars`, and returns what it wrote.
    fn logged(vars: &[(&str, &str)], emit: impl FnOnce()) -> String {
        let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = buffer.clone();
        let writer = move || Writer(sink.clone());
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        tracing::subscriber::with_default(subscriber(lookup, writer), emit);
        let bytes = buffer.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    struct Writer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn emit_every_level() {
        tracing::trace!(target: "aws_sigv4::http_request::sign", "signing secret-token");
        tracing::debug!(target: "aws_sigv4::http_request::sign", "aws debug");
        tracing::trace!("own trace");
        tracing::debug!("own debug");
        tracing::info!("own info");
    }

    #[test]
    fn trace_shows_this_crate_and_never_another_crates_trace() {
        let output = logged(&[("AWS_LAMBDA_LOG_LEVEL", "TRACE")], emit_every_level);
        for line in ["own trace", "own debug", "own info", "aws debug"] {
            assert!(output.contains(line), "{line} missing from:\n{output}");
        }
        assert!(!output.contains("secret-token"), "{output}");
        let output = logged(
            &[("RUST_LOG", "trace"), ("AWS_LAMBDA_LOG_FORMAT", "json")],
            emit_every_level,
        );
        assert!(
            output.contains("own trace") && !output.contains("secret-token"),
            "{output}"
        );
        let output = logged(&[("RUST_LOG", "aws_sigv4=trace,info")], emit_every_level);
        assert!(
            !output.contains("secret-token") && !output.contains("own debug"),
            "{output}"
        );
        let output = logged(&[], emit_every_level);
        assert!(
            output.contains("own info") && !output.contains("own debug"),
            "{output}"
        );
    }

    fn emit_like_the_runtime() {
        let span = tracing::info_span!(target: "lambda_runtime::layers::trace", "Lambda runtime invoke", requestId = "req-1");
        let _entered = span.enter();
        tracing::info!("own line");
        tracing::error!(target: "lambda_runtime::layers::panic", "{}", "CommandFailed(\"echo\")");
        tracing::error!(target: "lambda_runtime::layers::panic", error = "boom", "user handler panicked");
    }

    #[test]
    fn the_runtimes_echo_of_an_error_is_dropped_and_its_span_only_in_text() {
        let text = logged(&[], emit_like_the_runtime);
        assert!(text.contains("own line"), "{text}");
        assert!(
            !text.contains("req-1") && !text.contains("Lambda runtime invoke"),
            "{text}"
        );
        assert!(!text.contains("echo"), "{text}");
        assert!(text.contains("user handler panicked"), "{text}");
        let json = logged(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")], emit_like_the_runtime);
        assert!(
            json.contains("req-1"),
            "the request id stays in JSON: {json}"
        );
        assert!(!json.contains("echo"), "{json}");
    }

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
