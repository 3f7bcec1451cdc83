//! The library's error type, each variant keeping its cause; and the stable error a user sees
//! when a sign-in fails. No I/O of its own: the edges' causes, named.

/// What Cognito shows the user when provisioning fails in `FAIL_MODE=closed`: no internals.
pub const USER_FACING_MESSAGE: &str = "Kubeflow access could not be set up for this sign-in. Please try again in a minute; if it keeps failing, contact your Kubeflow administrator.";

type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why the EKS bearer token could not be minted ([`crate::eks::token`]).
#[derive(Debug, thiserror::Error)]
#[error("could not presign the EKS token")]
pub struct TokenError(#[source] pub(crate) Cause);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("EKS DescribeCluster for {cluster:?} failed")]
    DescribeCluster {
        cluster: String,
        /// What the service said was wrong, when it said.
        problem: DescribeProblem,
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
    Conventions(#[source] crate::domain::sign_in::conventions::NotServed),
    #[error("Cognito {operation} failed")]
    Cognito {
        operation: &'static str,
        #[source]
        source: Cause,
    },
    #[error("EKS could not give the team namespace {namespace} its role")]
    PodIdentity {
        namespace: String,
        #[source]
        source: Cause,
    },
    /// A question the doctor asks EKS (an association, the Pod Identity Agent add-on).
    #[error("EKS {operation} failed")]
    EksQuestion {
        operation: &'static str,
        #[source]
        source: Cause,
    },
    /// `TEAM_DEFAULTS_FILE` cannot be read, or declares what the API server would refuse.
    #[error("TEAM_DEFAULTS_FILE={path:?}: {why}")]
    TeamDefaults { path: String, why: String },
    #[error("the time budget of {budget_ms} ms ran out")]
    TimeBudget { budget_ms: u128 },
    #[error("{failed} of the sign-in's changes failed; first: {first}")]
    Changes { failed: usize, first: String },
    /// The records namespace (deploy/rbac.yaml) is missing.
    #[error("the records namespace {0:?} does not exist")]
    RecordsMissing(String),
    /// A command's request that cannot be carried out as asked.
    #[error("{0}")]
    BadRequest(String),
    /// A command failed on more than one cluster: each cluster's error with its fix.
    #[error("{}", on_clusters(.0))]
    Clusters(Vec<(String, Error)>),
}

fn on_clusters(failures: &[(String, Error)]) -> String {
    failures
        .iter()
        .map(|(cluster, error)| format!("on {cluster}: {}", error.with_fix()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why DescribeCluster failed, as far as the fix depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescribeProblem {
    /// `ResourceNotFoundException`: no cluster of that name in the function's region.
    NoSuchCluster,
    /// `AccessDeniedException`: the role may not describe it.
    AccessDenied,
    Other,
}

impl Error {
    /// What an operator should do about this error, in one sentence, when the fix is known: the
    /// cluster name and region, the access entry, `deploy/rbac.yaml`, the network path.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::DescribeCluster {
                problem: DescribeProblem::NoSuchCluster,
                ..
            } => Some(
                "EKS has no cluster of this name in the function's region: set CLUSTER_NAME (the stack's ClusterName) to the cluster's exact name and deploy the stack in the cluster's region",
            ),
            Error::DescribeCluster {
                problem: DescribeProblem::AccessDenied,
                ..
            } => Some(
                "the function's role may not call eks:DescribeCluster on this cluster: template.yaml grants it on the ARN of ClusterName only, so check that name",
            ),
            Error::Kubernetes {
                source: kube::Error::Api(status),
                ..
            } if status.code == 401 => Some(
                "the API server does not know the function's role: give it an EKS access entry (the stack's CreateAccessEntry=true) or map it in the aws-auth ConfigMap (README, Deploying)",
            ),
            Error::Kubernetes {
                source: kube::Error::Api(status),
                ..
            } if status.code == 403 => Some(
                "the role is known but lacks a permission: apply deploy/rbac.yaml for the stack's KubernetesGroup (make -s rbac | kubectl apply -f -), and check that the access entry maps the role to that group",
            ),
            Error::PodIdentity { .. } => Some(
                "the function's role may create the association and pass the team role only as the stack grants them (TeamRoleArn: eks:CreatePodIdentityAssociation on the clusters, iam:PassRole on that ARN pattern for pods.eks.amazonaws.com); the role must exist, and the cluster needs the Pod Identity Agent add-on (eks-pod-identity-agent)",
            ),
            Error::EksQuestion { .. } => Some(
                "with TeamRoleArn the stack grants the function eks:ListPodIdentityAssociations on its clusters and eks:DescribeAddon of eks-pod-identity-agent; redeploy the stack if the role lacks them",
            ),
            Error::RecordsMissing(_) => Some(
                "apply deploy/rbac.yaml for the stack's KubernetesGroup (make -s rbac | kubectl apply -f -): it makes the namespace of the function's records",
            ),
            Error::Kubernetes {
                source: kube::Error::HyperError(_) | kube::Error::Service(_),
                ..
            }
            | Error::TimeBudget { .. } => Some(
                "the API server did not answer: if its endpoint is private, run the function in the cluster's VPC (the stack's VpcSubnetIds and VpcSecurityGroupIds) with a route to it; the cluster's security group must admit the function's on 443",
            ),
            _ => None,
        }
    }

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

    /// The cause chain, then the fix when one is known (`... . Fix: ...`): what a person reads.
    pub fn with_fix(&self) -> String {
        match self.hint() {
            Some(hint) => format!("{}. Fix: {hint}", self.chain()),
            None => self.chain(),
        }
    }

    /// The failures of a command on each of `failures`' clusters as one error: the error itself
    /// when there is one (whose message then needs no cluster name, as one cluster is named).
    pub fn of_clusters(mut failures: Vec<(String, Error)>) -> Option<Error> {
        match failures.len() {
            0 => None,
            1 => failures.pop().map(|(_, error)| error),
            _ => Some(Error::Clusters(failures)),
        }
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

/// Why an invocation failed, as Lambda reports it. Its `Debug` is its message: the Lambda
/// runtime prints an error's `Debug`, and a person reads that.
#[derive(thiserror::Error)]
pub enum InvocationFailed {
    #[error(transparent)]
    SignIn(#[from] SignInFailed),
    /// The sign-in gate refused the person (`SIGN_IN_GATE`): the configured message, which
    /// Cognito shows them.
    #[error("{0}")]
    Gated(String),
    /// The payload is not JSON at all (Lambda's Invoke API accepts only JSON; a local emulator
    /// may send anything).
    #[error(
        "the event is not JSON ({0}): a Cognito Pre Token Generation event, or a command of this function, is a JSON object (README, The event and the names)"
    )]
    MalformedEvent(String),
    /// A command this version does not know, or a malformed one.
    #[error("{0}")]
    BadCommand(String),
    /// An invocation of the other function's job (`FUNCTION_ROLE`).
    #[error("{0}")]
    WrongFunction(String),
    /// A command (the sweep, the access report) that could not be carried out: what failed and
    /// its fix.
    #[error("{0}")]
    CommandFailed(String),
}

impl std::fmt::Debug for InvocationFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

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
            problem: DescribeProblem::NoSuchCluster,
            source: "No cluster found for name: kf.".into(),
        };
        assert_eq!(
            repeated.chain(),
            "EKS DescribeCluster for \"kf\" failed: No cluster found for name: kf."
        );
    }
}
