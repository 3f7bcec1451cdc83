//! EKS Pod Identity associations as the EKS API serves them (aws/api-models-aws
//! `eks/service/2017-11-01/eks-2017-11-01.json`: CreatePodIdentityAssociation
//! `POST /clusters/{clusterName}/pod-identity-associations`, lines 4034-4069;
//! ListPodIdentityAssociations `GET` on the same path with `namespace`, `serviceAccount`,
//! `maxResults` 1-100 and `nextToken`, lines 8355-8437): one association per service account
//! of a cluster, a second one refused with 409 ResourceInUseException ("Association already
//! exists: a-..."; the EKS User Guide: "You can associate one IAM role to each Kubernetes
//! service account in each cluster"); the caller's `iam:PassRole` checked against the role (the
//! Service Authorization Reference: CreatePodIdentityAssociation needs `iam:PassRole` with
//! `iam:PassedToService` = `pods.eks.amazonaws.com`). Pure (on the fake's state).

use serde_json::{Value, json};

use super::error;
use crate::serve::{self, Answer};

/// One association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub cluster: String,
    pub region: String,
    pub namespace: String,
    pub service_account: String,
    pub role_arn: String,
    pub id: String,
}

impl Association {
    fn arn(&self) -> String {
        format!(
            "arn:aws:eks:{}:111122223333:podidentityassociation/{}/{}",
            self.region, self.cluster, self.id
        )
    }

    fn summary(&self) -> Value {
        json!({"clusterName": self.cluster, "namespace": self.namespace,
               "serviceAccount": self.service_account, "associationArn": self.arn(),
               "associationId": self.id})
    }

    fn full(&self) -> Value {
        let mut full = self.summary();
        full["roleArn"] = json!(self.role_arn);
        full["createdAt"] = json!(1.7e9);
        full["modifiedAt"] = json!(1.7e9);
        full
    }
}

/// `CreatePodIdentityAssociation` on `cluster` (in `region`) with the JSON `body`; `may_pass`
/// says whether the caller's `iam:PassRole` covers a role.
pub fn create(
    associations: &mut Vec<Association>,
    cluster: &str,
    region: &str,
    body: &[u8],
    may_pass: impl Fn(&str) -> bool,
) -> Answer {
    let Ok(input) = serde_json::from_slice::<Value>(body) else {
        return error(400, "InvalidRequestException", "the body is not JSON");
    };
    let field = |name: &str| input[name].as_str().filter(|v| !v.is_empty());
    let (Some(namespace), Some(service_account), Some(role_arn)) = (
        field("namespace"),
        field("serviceAccount"),
        field("roleArn"),
    ) else {
        return error(
            400,
            "InvalidParameterException",
            "namespace, serviceAccount and roleArn are required",
        );
    };
    if !may_pass(role_arn) {
        return error(
            403,
            "AccessDeniedException",
            &format!("User is not authorized to perform: iam:PassRole on resource: {role_arn}"),
        );
    }
    if let Some(taken) = associations.iter().find(|a| {
        a.cluster == cluster && a.namespace == namespace && a.service_account == service_account
    }) {
        return error(
            409,
            "ResourceInUseException",
            &format!("Association already exists: {}", taken.id),
        );
    }
    let association = Association {
        cluster: cluster.to_owned(),
        region: region.to_owned(),
        namespace: namespace.to_owned(),
        service_account: service_account.to_owned(),
        role_arn: role_arn.to_owned(),
        id: format!("a-{:017}", associations.len() + 1),
    };
    let answer = json!({"association": association.full()});
    associations.push(association);
    serve::answer(200, "application/json", answer.to_string())
}

/// `ListPodIdentityAssociations` of `cluster`, filtered by the `query`'s `namespace` and
/// `serviceAccount`, `maxResults` (1-100) a page.
pub fn list(associations: &[Association], cluster: &str, query: &str) -> Answer {
    let param = |name: &str| {
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_owned())
        })
    };
    let page = match param("maxResults").map(|m| m.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return error(
                400,
                "InvalidParameterException",
                "maxResults must be between 1 and 100",
            );
        }
    };
    let start: usize = match param("nextToken") {
        None => 0,
        Some(token) => match token.parse() {
            Ok(n) => n,
            Err(_) => return error(400, "InvalidParameterException", "invalid nextToken"),
        },
    };
    let (namespace, service_account) = (param("namespace"), param("serviceAccount"));
    let matching: Vec<&Association> = associations
        .iter()
        .filter(|a| a.cluster == cluster)
        .filter(|a| namespace.as_deref().is_none_or(|n| n == a.namespace))
        .filter(|a| {
            service_account
                .as_deref()
                .is_none_or(|s| s == a.service_account)
        })
        .collect();
    let end = (start + page).min(matching.len());
    let listed: Vec<Value> = matching[start.min(end)..end]
        .iter()
        .map(|a| a.summary())
        .collect();
    let mut output = json!({"associations": listed});
    if end < matching.len() {
        output["nextToken"] = json!(end.to_string());
    }
    serve::answer(200, "application/json", output.to_string())
}
