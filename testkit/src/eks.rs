//! A loopback EKS endpoint that answers `DescribeCluster` (REST-JSON `GET /clusters/{name}`)
//! with the fake cluster's address and CA, checks the SigV4 credential scope of the caller, and
//! can be told to fail.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::json;

use crate::serve::{Answer, spawn_server};
use crate::sigv4::signed_for;

/// What the endpoint says about its one cluster.
#[derive(Debug, Clone)]
pub struct DescribedCluster {
    pub name: String,
    pub endpoint: String,
    pub ca_base64: String,
    pub access_key_id: String,
    pub region: String,
}

struct State {
    cluster: DescribedCluster,
    failures_left: usize,
    calls: usize,
}

pub struct FakeEks {
    state: Arc<Mutex<State>>,
    address: SocketAddr,
}

fn error(status: u16, kind: &str, message: &str) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-errortype", kind)
        .body(Full::new(Bytes::from(
            json!({"message": message}).to_string(),
        )))
        .expect("static response parts")
}

impl FakeEks {
    pub async fn start(cluster: DescribedCluster) -> FakeEks {
        let state = Arc::new(Mutex::new(State {
            cluster,
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
            access_key_id: cluster.config().credentials.access_key_id.clone(),
            region: cluster.config().region.clone(),
        })
        .await
    }

    /// The value for `AWS_ENDPOINT_URL_EKS`.
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

fn answer(state: &Mutex<State>, request: Request<Incoming>) -> Answer {
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    state.calls += 1;
    let cluster = state.cluster.clone();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !signed_for(
        authorization,
        &cluster.access_key_id,
        &cluster.region,
        "eks",
    ) {
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
    match path.strip_prefix("/clusters/") {
        Some(name) if request.method() == hyper::Method::GET && name == cluster.name => {
            let body = json!({"cluster": {
                "name": cluster.name,
                "arn": format!("arn:aws:eks:{}:111122223333:cluster/{}", cluster.region, cluster.name),
                "createdAt": 1.7e9, "version": "1.33", "platformVersion": "eks.1", "status": "ACTIVE",
                "endpoint": cluster.endpoint,
                "certificateAuthority": {"data": cluster.ca_base64},
            }});
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body.to_string())))
                .expect("static response parts")
        }
        Some(name) => error(
            404,
            "ResourceNotFoundException",
            &format!("No cluster found for name: {name}."),
        ),
        None => error(404, "UnknownOperationException", "unknown operation"),
    }
}
