//! A loopback EKS endpoint that answers `DescribeCluster` (REST-JSON `GET /clusters/{name}`)
//! with the fake cluster's address and CA, checks the SigV4 credential scope of the caller, and
//! can be told to fail.

pub mod sigv4;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hyper::Request;
use hyper::body::Incoming;
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
        }));
        let shared = state.clone();
        let address = spawn_server(
            None,
            Arc::new(move |request| {
                let state = shared.clone();
                Box::pin(async move { Ok(answer(&state, request)) })
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

fn answer(state: &Mutex<State>, request: Request<Incoming>) -> Answer {
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    state.calls += 1;
    let authorization = request
        .headers()
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
    let path = request.uri().path();
    let found = path
        .strip_prefix("/clusters/")
        .and_then(|name| in_region.iter().find(|c| c.name == name));
    match (path.strip_prefix("/clusters/"), found) {
        (Some(_), Some(cluster)) if request.method() == hyper::Method::GET => {
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
