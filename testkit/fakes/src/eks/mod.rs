//! A loopback EKS endpoint that answers `DescribeCluster` (REST-JSON `GET /clusters/{name}`)
//! with the fake cluster's address and CA, checks the SigV4 credential scope of the caller, and
//! can be told to fail.

pub mod pod_identity;
pub mod sigv4;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hyper::Request;
use serde_json::json;

use crate::eks::sigv4::signed_for;
use crate::serve::{self, Answer, aws_error, spawn_server};

/// What the endpoint says about its one cluster.
#[derive(Debug, Clone)]
pub struct DescribedCluster {
    pub name: String,
    pub endpoint: String,
    pub ca_base64: String,
    /// The roles allowed to describe it (their access keys): the trigger's and the sweep's.
    pub access_key_ids: Vec<String>,
    pub region: String,
}

struct State {
    /// The clusters it describes, each in its region.
    clusters: Vec<DescribedCluster>,
    failures_left: usize,
    calls: usize,
    associations: Vec<pod_identity::Association>,
    /// The clusters with the Pod Identity Agent add-on.
    agent_installed: Vec<String>,
    /// The roles the trigger's `iam:PassRole` covers (a `*` at the end matches any rest), as
    /// the template grants them; none by default.
    passable_roles: Vec<String>,
}

pub struct FakeEks {
    state: Arc<Mutex<State>>,
    address: SocketAddr,
}

fn error(status: u16, kind: &str, message: &str) -> Answer {
    aws_error(
        status,
        "application/json",
        kind,
        &json!({"message": message}),
    )
}

impl FakeEks {
    pub async fn start(cluster: DescribedCluster) -> FakeEks {
        let state = Arc::new(Mutex::new(State {
            clusters: vec![cluster],
            failures_left: 0,
            calls: 0,
            associations: Vec::new(),
            agent_installed: Vec::new(),
            passable_roles: Vec::new(),
        }));
        let shared = state.clone();
        let address = spawn_server(
            None,
            Arc::new(move |request| {
                let state = shared.clone();
                Box::pin(async move {
                    let (parts, body) = request.into_parts();
                    let body = serve::read_body(Request::from_parts(parts.clone(), body)).await;
                    Ok(answer(&state, &parts, &body))
                })
            }),
        )
        .await;
        FakeEks { state, address }
    }

    /// An endpoint describing `cluster` truthfully.
    pub async fn for_cluster(cluster: &crate::apiserver::FakeCluster) -> FakeEks {
        FakeEks::start(DescribedCluster {
            name: cluster.config().cluster_name.clone(),
            endpoint: cluster.endpoint(),
            ca_base64: cluster.ca_base64(),
            access_key_ids: both_roles(cluster),
            region: cluster.config().region.clone(),
        })
        .await
    }

    /// The value for `AWS_ENDPOINT_URL_EKS`.
    /// Describes `cluster` too (in its own region), as EKS does every cluster of the account.
    pub fn add_cluster(&self, cluster: &crate::apiserver::FakeCluster) {
        self.add(DescribedCluster {
            name: cluster.config().cluster_name.clone(),
            endpoint: cluster.endpoint(),
            ca_base64: cluster.ca_base64(),
            access_key_ids: both_roles(cluster),
            region: cluster.config().region.clone(),
        });
    }

    /// Describes `cluster` too.
    pub fn add(&self, cluster: DescribedCluster) {
        self.lock().clusters.push(cluster);
    }

    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The next `times` calls fail with AccessDenied (not retried by the SDK).
    pub fn fail_next(&self, times: usize) {
        self.lock().failures_left = times;
    }

    pub fn calls(&self) -> usize {
        self.lock().calls
    }

    /// Lets the trigger pass the roles matching `pattern` (`iam:PassRole`, as the template's
    /// statement grants it; a `*` at the end matches any rest).
    pub fn allow_pass_role(&self, pattern: &str) {
        self.lock().passable_roles.push(pattern.to_owned());
    }

    /// Installs the Pod Identity Agent add-on on `cluster`.
    pub fn install_pod_identity_agent(&self, cluster: &str) {
        self.lock().agent_installed.push(cluster.to_owned());
    }

    /// The Pod Identity associations made so far.
    pub fn associations(&self) -> Vec<pod_identity::Association> {
        self.lock().associations.clone()
    }

    /// An association made by someone else (an administrator, an add-on).
    pub fn add_association(&self, cluster: &str, namespace: &str, role_arn: &str) {
        let mut state = self.lock();
        let id = format!("a-admin{:012}", state.associations.len() + 1);
        let region = state
            .clusters
            .iter()
            .find(|c| c.name == cluster)
            .map(|c| c.region.clone())
            .unwrap_or_default();
        state.associations.push(pod_identity::Association {
            cluster: cluster.to_owned(),
            region,
            namespace: namespace.to_owned(),
            service_account: "default-editor".to_owned(),
            role_arn: role_arn.to_owned(),
            id,
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The access keys of both of the stack's roles, which template.yaml lets describe the cluster.
fn both_roles(cluster: &crate::apiserver::FakeCluster) -> Vec<String> {
    let config = cluster.config();
    vec![
        config.credentials.access_key_id.clone(),
        config.sweep_credentials.access_key_id.clone(),
    ]
}

fn answer(state: &Mutex<State>, request: &hyper::http::request::Parts, body: &[u8]) -> Answer {
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    state.calls += 1;
    let authorization = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // One endpoint stands for every region's: the request's signing region picks the clusters
    // it may see, as EKS's regional endpoints each know their own.
    let in_region: Vec<DescribedCluster> = state
        .clusters
        .iter()
        .filter(|c| {
            c.access_key_ids
                .iter()
                .any(|key| signed_for(authorization, key, &c.region, "eks"))
        })
        .cloned()
        .collect();
    if in_region.is_empty() {
        return error(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
    }
    if state.failures_left > 0 {
        state.failures_left -= 1;
        return error(403, "AccessDeniedException", "injected failure");
    }
    let path = request.uri.path();
    if let Some(name) = path
        .strip_prefix("/clusters/")
        .and_then(|rest| rest.strip_suffix("/pod-identity-associations"))
    {
        return pod_identity_associations(
            &mut state,
            &in_region,
            request,
            authorization,
            name,
            body,
        );
    }
    if let Some((name, addon)) = path
        .strip_prefix("/clusters/")
        .and_then(|rest| rest.split_once("/addons/"))
    {
        return describe_addon(&state, &in_region, name, addon);
    }
    let found = path
        .strip_prefix("/clusters/")
        .and_then(|name| in_region.iter().find(|c| c.name == name));
    match (path.strip_prefix("/clusters/"), found) {
        (Some(_), Some(cluster)) if request.method == hyper::Method::GET => {
            let body = json!({"cluster": {
                "name": cluster.name,
                "arn": format!("arn:aws:eks:{}:111122223333:cluster/{}", cluster.region, cluster.name),
                "createdAt": 1.7e9, "version": "1.33", "platformVersion": "eks.1", "status": "ACTIVE",
                "endpoint": cluster.endpoint,
                "certificateAuthority": {"data": cluster.ca_base64},
            }});
            serve::answer(200, "application/json", body.to_string())
        }
        (Some(name), _) => error(
            404,
            "ResourceNotFoundException",
            &format!("No cluster found for name: {name}."),
        ),
        (None, _) => error(404, "UnknownOperationException", "unknown operation"),
    }
}

/// DescribeAddon (`GET /clusters/{clusterName}/addons/{addonName}`, the model's lines
/// 4793-4822): 404 ResourceNotFoundException "No addon: ... found in cluster: ..." when the
/// add-on is not installed (EKS User Guide, eks-add-ons.adoc).
fn describe_addon(
    state: &State,
    in_region: &[DescribedCluster],
    name: &str,
    addon: &str,
) -> Answer {
    if !in_region.iter().any(|c| c.name == name) {
        return error(
            404,
            "ResourceNotFoundException",
            &format!("No cluster found for name: {name}."),
        );
    }
    if addon != "eks-pod-identity-agent" || !state.agent_installed.iter().any(|c| c == name) {
        return error(
            404,
            "ResourceNotFoundException",
            &format!("No addon: {addon} found in cluster: {name}"),
        );
    }
    let body = json!({"addon": {"addonName": addon, "clusterName": name, "status": "ACTIVE",
                                 "addonVersion": "v1.3.4-eksbuild.1"}});
    serve::answer(200, "application/json", body.to_string())
}

/// Create and List of the Pod Identity associations of the cluster `name`
/// ([`pod_identity`]); only the trigger may pass a role, and only the roles it was let pass.
fn pod_identity_associations(
    state: &mut State,
    in_region: &[DescribedCluster],
    request: &hyper::http::request::Parts,
    authorization: &str,
    name: &str,
    body: &[u8],
) -> Answer {
    let Some(cluster) = in_region.iter().find(|c| c.name == name) else {
        return error(
            404,
            "ResourceNotFoundException",
            &format!("No cluster found for name: {name}."),
        );
    };
    let trigger = cluster
        .access_key_ids
        .first()
        .is_some_and(|key| signed_for(authorization, key, &cluster.region, "eks"));
    let passable = state.passable_roles.clone();
    let may_pass = |role: &str| {
        trigger
            && passable
                .iter()
                .any(|pattern| match pattern.strip_suffix('*') {
                    Some(prefix) => role.starts_with(prefix),
                    None => role == pattern,
                })
    };
    let query = request.uri.query().unwrap_or("");
    match request.method {
        hyper::Method::POST => pod_identity::create(
            &mut state.associations,
            name,
            &cluster.region,
            body,
            may_pass,
        ),
        hyper::Method::GET => pod_identity::list(&state.associations, name, query),
        _ => error(405, "UnknownOperationException", "unknown operation"),
    }
}
