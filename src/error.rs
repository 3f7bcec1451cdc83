//! The library's error type, each variant keeping its cause; and the stable error a user sees
//! when a sign-in fails.

use crate::eks::token::TokenError;

/// What Cognito shows the user when provisioning fails in `FAIL_MODE=closed`: no internals.
pub const USER_FACING_MESSAGE: &str = "Kubeflow access could not be set up for this sign-in. Please try again in a minute; if it keeps failing, contact your Kubeflow administrator.";

type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("EKS DescribeCluster for {cluster:?} failed")]
    DescribeCluster {
        cluster: String,
        #[source]
        source: Cause,
    },
    #[error("EKS describes {cluster:?} in a way that cannot be used: {detail}")]
    ClusterDescription { cluster: String, detail: String },
    #[error("the AWS configuration has no {0}")]
    AwsSetup(&'static str),
    #[error("no AWS credentials")]
    Credentials(#[source] Cause),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("could not build the Kubernetes client")]
    KubeClient(#[source] kube::Error),
    #[error("Kubernetes {action} of {target} failed")]
    Kubernetes {
        action: &'static str,
        target: String,
        #[source]
        source: kube::Error,
    },
    #[error("the cluster's conventions")]
    Conventions(#[source] crate::domain::conventions::NotServed),
    #[error("the time budget of {budget_ms} ms ran out")]
    TimeBudget { budget_ms: u128 },
    #[error("{failed} of the sign-in's changes failed; first: {first}")]
    Changes { failed: usize, first: String },
}

impl Error {
    pub fn kubernetes(action: &'static str, target: &str, source: kube::Error) -> Self {
        Error::Kubernetes {
            action,
            target: target.to_owned(),
            source,
        }
    }

    /// True when the API server refused the credentials: worth one retry with a new token.
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            Error::Kubernetes {
                source: kube::Error::Api(status),
                ..
            } if status.code == 401
        )
    }

    /// The error and its causes on one line, each message once (the AWS SDK repeats its own).
    pub fn chain(&self) -> String {
        let mut messages: Vec<String> = Vec::new();
        let mut next: Option<&dyn std::error::Error> = Some(self);
        while let Some(error) = next {
            let message = error.to_string();
            if !messages.iter().any(|m| m.contains(&message)) {
                messages.push(message);
            }
            next = error.source();
        }
        messages.join(": ")
    }
}

/// The error returned to Lambda (and shown by Cognito): a fixed message, the detail stays in the
/// log. Its `errorType` is `SignInFailed` (see [`crate::lambda`]).
#[derive(Debug, thiserror::Error)]
#[error("{USER_FACING_MESSAGE}")]
pub struct SignInFailed;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_names_every_cause_once() {
        let status = kube::core::Status::failure("Unauthorized", "Unauthorized").with_code(401);
        let error = Error::kubernetes("list", "Profile list", kube::Error::Api(Box::new(status)));
        assert!(error.is_unauthorized());
        let chain = error.chain();
        assert!(
            chain.starts_with("Kubernetes list of Profile list failed: "),
            "{chain}"
        );
        assert!(chain.contains("Unauthorized"), "{chain}");
        let repeated = Error::DescribeCluster {
            cluster: "kf".into(),
            source: "No cluster found for name: kf.".into(),
        };
        assert_eq!(
            repeated.chain(),
            "EKS DescribeCluster for \"kf\" failed: No cluster found for name: kf."
        );
    }
}
