//! A loopback Lambda Runtime API: hands queued events to a runtime process and collects its
//! answers, so the real binary runs as a custom runtime would in Lambda.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use crate::serve::{Answer, answer, spawn_server};

/// How the runtime answered an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    Response(String),
    /// The error document the runtime posted (`errorType`, `errorMessage`).
    Error(String),
}

struct Pending {
    id: String,
    event: String,
    deadline_ms: u64,
    answer: oneshot::Sender<Invocation>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Pending>,
    in_flight: Vec<(String, oneshot::Sender<Invocation>)>,
    init_error: Option<String>,
    first_poll: Option<Instant>,
    next_id: u64,
}

pub struct FakeRuntimeApi {
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    address: SocketAddr,
}

fn reply(status: u16, body: impl Into<Bytes>) -> Answer {
    answer(status, "application/json", body)
}

impl FakeRuntimeApi {
    pub async fn start() -> FakeRuntimeApi {
        let state = Arc::new(Mutex::new(State::default()));
        let notify = Arc::new(Notify::new());
        let (shared, wake) = (state.clone(), notify.clone());
        let address = spawn_server(
            None,
            Arc::new(move |request| {
                let (state, notify) = (shared.clone(), wake.clone());
                Box::pin(async move { Ok(serve(&state, &notify, request).await) })
            }),
        )
        .await;
        FakeRuntimeApi {
            state,
            notify,
            address,
        }
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Sends `event` to the runtime and waits for its answer (at most `timeout`). Lambda's
    /// deadline for the invocation is `deadline` from now.
    pub async fn invoke(
        &self,
        event: &str,
        deadline: Duration,
        timeout: Duration,
    ) -> Option<Invocation> {
        let (sender, receiver) = oneshot::channel();
        {
            let mut state = self.lock();
            state.next_id += 1;
            let deadline_ms = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| (d + deadline).as_millis() as u64);
            let id = format!("00000000-0000-4000-8000-{:012}", state.next_id);
            state.queue.push_back(Pending {
                id,
                event: event.to_owned(),
                deadline_ms,
                answer: sender,
            });
        }
        self.notify.notify_waiters();
        self.notify.notify_one();
        tokio::time::timeout(timeout, receiver).await.ok()?.ok()
    }

    /// The init error the runtime reported, if any.
    pub fn init_error(&self) -> Option<String> {
        self.lock().init_error.clone()
    }

    /// When the runtime first asked for an event: the end of its cold start.
    pub fn first_poll(&self) -> Option<Instant> {
        self.lock().first_poll
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn serve(state: &Mutex<State>, notify: &Notify, request: Request<Incoming>) -> Answer {
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let body = crate::serve::read_body(request).await;
    let body = String::from_utf8_lossy(&body).into_owned();
    let rest = path.strip_prefix("/2018-06-01/runtime/").unwrap_or("");
    match (method, rest) {
        (Method::GET, "invocation/next") => loop {
            let waiting = notify.notified();
            {
                let mut state = lock();
                state.first_poll.get_or_insert_with(Instant::now);
                if let Some(pending) = state.queue.pop_front() {
                    state.in_flight.push((pending.id.clone(), pending.answer));
                    return Response::builder()
                        .status(200)
                        .header("content-type", "application/json")
                        .header("lambda-runtime-aws-request-id", &pending.id)
                        .header("lambda-runtime-deadline-ms", pending.deadline_ms.to_string())
                        .header("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:111122223333:function:kubeflow-profile-manager")
                        .header("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0")
                        .body(Full::new(Bytes::from(pending.event)))
                        .expect("static response parts");
                }
            }
            waiting.await;
        },
        (Method::POST, "init/error") => {
            lock().init_error = Some(body);
            reply(202, r#"{"status":"OK"}"#)
        }
        (Method::POST, rest) => {
            let Some((id, kind)) = rest
                .strip_prefix("invocation/")
                .and_then(|r| r.split_once('/'))
            else {
                return reply(404, "{}");
            };
            let mut state = lock();
            let Some(position) = state.in_flight.iter().position(|(i, _)| i == id) else {
                return reply(400, r#"{"errorMessage":"unknown request id"}"#);
            };
            let (_, answer) = state.in_flight.remove(position);
            let outcome = match kind {
                "response" => Invocation::Response(body),
                _ => Invocation::Error(body),
            };
            let _ = answer.send(outcome);
            reply(202, r#"{"status":"OK"}"#)
        }
        _ => reply(404, "{}"),
    }
}
