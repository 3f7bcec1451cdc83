//! The library's error type, and the stable message a user sees when a sign-in fails. Pure.

use crate::kube_api::RequestError;
use crate::token::TokenError;

/// What Cognito shows the user when provisioning fails in `FAIL_MODE=closed`: no internals.
pub const USER_FACING_MESSAGE: &str = "Kubeflow access could not be set up for this sign-in. Please try again in a minute; if it keeps failing, contact your Kubeflow administrator.";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("EKS DescribeCluster for {cluster:?} failed: {detail}")]
    DescribeCluster { cluster: String, detail: String },
    #[error("no AWS credentials: {0}")]
    Credentials(String),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("could not build the Kubernetes client: {0}")]
    KubeClient(String),
    #[error("{action} {target}: {source}")]
    Request {
        action: &'static str,
        target: String,
        #[source]
        source: RequestError,
    },
    #[error("{action} {target}: unexpected answer {answer}")]
    Unexpected {
        action: &'static str,
        target: String,
        answer: String,
    },
    #[error("the time budget of {budget_ms} ms ran out")]
    TimeBudget { budget_ms: u128 },
    #[error("{failed} of the sign-in's changes failed; first: {first}")]
    Changes { failed: usize, first: String },
}

impl Error {
    /// True when the API server refused the credentials: worth one retry with a new token.
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            Error::Request {
                source: RequestError::Unauthorized,
                ..
            }
        )
    }
}

/// The error returned to Lambda (and shown by Cognito): a fixed message, the detail stays in the log.
#[derive(Debug, thiserror::Error)]
#[error("{USER_FACING_MESSAGE}")]
pub struct SignInFailed;
