//! EKS Pod Identity: a team namespace's `default-editor` ServiceAccount given the team's IAM role
//! by an association (`CreatePodIdentityAssociation`, aws/api-models-aws
//! `eks/service/2017-11-01/eks-2017-11-01.json` lines 4034-4069). One association per service
//! account and cluster: EKS refuses a second with 409 `ResourceInUseException`, and the one that
//! exists, whoever made it, is never changed. I/O.

use crate::error::Error;

/// The ServiceAccount Kubeflow's notebooks and pipelines run as in a Profile namespace
/// (kubeflow/kubeflow v1.10.0 `components/profile-controller/controllers/profile_controller.go`
/// line 74, `DEFAULT_EDITOR`).
pub const TEAM_SERVICE_ACCOUNT: &str = "default-editor";

/// What became of a team's association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Associated {
    /// Made now, with the team's role.
    Made,
    /// One exists already (made earlier, or someone else's): left as it is.
    Exists,
}

/// Associates `role_arn` with the team namespace `namespace`'s `default-editor` on `cluster`.
pub async fn associate(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    namespace: &str,
    role_arn: &str,
) -> Result<Associated, Error> {
    let made = eks
        .create_pod_identity_association()
        .cluster_name(cluster)
        .namespace(namespace)
        .service_account(TEAM_SERVICE_ACCOUNT)
        .role_arn(role_arn)
        .send()
        .await;
    match made {
        Ok(_) => Ok(Associated::Made),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(Associated::Exists)
        }
        Err(error) => Err(Error::PodIdentity {
            namespace: namespace.to_owned(),
            source: Box::new(error),
        }),
    }
}

/// The name of the Pod Identity Agent add-on (EKS User Guide, *EKS add-ons*).
pub const AGENT_ADDON: &str = "eks-pod-identity-agent";

/// Whether the team namespace `namespace`'s `default-editor` has an association on `cluster`
/// (`ListPodIdentityAssociations` filtered by both; lines 8355-8437 of the model).
pub async fn has_association(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    namespace: &str,
) -> Result<bool, Error> {
    let listed = eks
        .list_pod_identity_associations()
        .cluster_name(cluster)
        .namespace(namespace)
        .service_account(TEAM_SERVICE_ACCOUNT)
        .send()
        .await
        .map_err(|error| Error::EksQuestion {
            operation: "ListPodIdentityAssociations",
            source: Box::new(error),
        })?;
    Ok(!listed.associations().is_empty())
}

/// Whether `cluster` has the Pod Identity Agent add-on (`DescribeAddon`: 404
/// `ResourceNotFoundException` when it is not installed). On EKS Auto Mode the agent is built
/// in and not an add-on: the caller says so.
pub async fn agent_installed(eks: &aws_sdk_eks::Client, cluster: &str) -> Result<bool, Error> {
    let described = eks
        .describe_addon()
        .cluster_name(cluster)
        .addon_name(AGENT_ADDON)
        .send()
        .await;
    match described {
        Ok(_) => Ok(true),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(error) => Err(Error::EksQuestion {
            operation: "DescribeAddon",
            source: Box::new(error),
        }),
    }
}
