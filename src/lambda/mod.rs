//! The Lambda edge: what a start by hand answers, the log subscriber, the init error a bad
//! configuration posts, the payload as the runtime hands it over, and the error types Lambda
//! (and so Cognito and CloudWatch) sees. I/O.

pub mod command_line;
pub mod init_error;
pub mod logging;

use lambda_runtime::Diagnostic;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::error::InvocationFailed;

/// The payload of one invocation: raw JSON, kept byte for byte (the event goes back exactly as
/// received), or why it is not JSON. Deserialising it never fails, so a payload that is not JSON
/// reaches the handler, which answers it with an error of this function's (`MalformedEvent`)
/// instead of the runtime's own (whose `errorType` is a Rust type name).
#[derive(Debug)]
pub enum Payload {
    Json(Box<RawValue>),
    NotJson(String),
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Box::<RawValue>::deserialize(deserializer) {
            Ok(raw) => Payload::Json(raw),
            Err(error) => Payload::NotJson(error.to_string()),
        })
    }
}

/// A failed sign-in is reported as `errorType: "SignInFailed"` with the fixed message, one the
/// gate refused as `SignInRefused` with the configured one; a
/// payload that is not JSON as `MalformedEvent`; a refused command as `BadCommand` with what
/// was wrong; the other function's job as `WrongFunction`.
impl From<InvocationFailed> for Diagnostic {
    fn from(error: InvocationFailed) -> Self {
        let error_type = match &error {
            InvocationFailed::SignIn(_) => "SignInFailed",
            InvocationFailed::Gated(_) => "SignInRefused",
            InvocationFailed::MalformedEvent(_) => "MalformedEvent",
            InvocationFailed::BadCommand(_) => "BadCommand",
            InvocationFailed::WrongFunction(_) => "WrongFunction",
            InvocationFailed::CommandFailed(_) => "CommandFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the runtime reads a payload (lambda_runtime 1.5 `deserializer::deserialize`: the
    /// payload type straight from a `serde_json::Deserializer`, no check for trailing text).
    fn read(body: &str) -> Payload {
        Payload::deserialize(&mut serde_json::Deserializer::from_str(body)).unwrap()
    }

    #[test]
    fn any_json_is_kept_raw_and_anything_else_is_a_malformed_event() {
        for json in [r#"{"version": "1", "a" : [1, 2]}"#, "[]", "\"x\"", "null"] {
            match read(json) {
                Payload::Json(raw) => assert_eq!(raw.get(), json),
                other => panic!("{json}: {other:?}"),
            }
        }
        for text in ["not json", "", "{\"a\":", "\u{feff}{}"] {
            let Payload::NotJson(why) = read(text) else {
                panic!("{text:?} was taken for JSON");
            };
            let diagnostic = Diagnostic::from(InvocationFailed::MalformedEvent(why));
            assert_eq!(diagnostic.error_type, "MalformedEvent");
            assert!(
                diagnostic
                    .error_message
                    .starts_with("the event is not JSON ("),
                "{}",
                diagnostic.error_message
            );
        }
    }

    #[test]
    fn what_the_runtime_prints_of_an_error_is_its_message() {
        let error = InvocationFailed::CommandFailed("sweep: no pool".into());
        assert_eq!(format!("{error:?}"), "sweep: no pool");
    }
}
