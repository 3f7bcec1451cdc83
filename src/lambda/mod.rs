//! The Lambda edge: what a start by hand answers, the log subscriber, the init error a bad configuration posts, and the
//! error type Lambda (and so Cognito and CloudWatch) sees. I/O.

pub mod command_line;
pub mod init_error;
pub mod logging;

use lambda_runtime::Diagnostic;

use crate::error::SignInFailed;

/// A failed sign-in is reported as `errorType: "SignInFailed"` with the fixed message.
impl From<SignInFailed> for Diagnostic {
    fn from(error: SignInFailed) -> Self {
        Diagnostic {
            error_type: "SignInFailed".to_owned(),
            error_message: error.to_string(),
        }
    }
}
