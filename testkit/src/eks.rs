//! A loopback EKS endpoint that answers `DescribeCluster` (REST-JSON `GET /clusters/{name}`)
//! with the fake cluster's address and CA, checks the SigV4 credential scope of the caller, and
//! can be told to fail.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;

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

type Answer = Response<Full<Bytes>>;

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
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State {
            cluster,
            failures_left: 0,
            calls: 0,
        }));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(&state, request)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        FakeEks { state, address }
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
    let scope = format!("Credential={}/", cluster.access_key_id);
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !authorization.starts_with("AWS4-HMAC-SHA256 ")
        || !authorization.contains(&scope)
        || !authorization.contains(&format!("/{}/eks/aws4_request", cluster.region))
    {
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
