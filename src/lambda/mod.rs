//! The Lambda edge: what a start by hand answers, the log subscriber, the init error a bad
//! configuration posts, and the error types Lambda (and so Cognito and CloudWatch) sees. I/O.

pub mod command_line;
pub mod init_error;
pub mod logging;

use lambda_runtime::Diagnostic;

use crate::error::InvocationFailed;

/// A failed sign-in is reported as `errorType: "SignInFailed"` with the fixed message; a
/// refused command as `BadCommand` with what was wrong.
impl From<InvocationFailed> for Diagnostic {
    fn from(error: InvocationFailed) -> Self {
        let error_type = match &error {
            InvocationFailed::SignIn(_) => "SignInFailed",
            InvocationFailed::BadCommand(_) => "BadCommand",
            InvocationFailed::CommandFailed(_) => "CommandFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}
