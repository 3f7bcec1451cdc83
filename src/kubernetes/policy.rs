//! The policy every Kubernetes request of one sign-in follows, as a `tower` layer beneath kube's
//! client: a bounded number of requests in flight, a timeout per attempt, bounded jittered
//! retries of throttling (429), server errors (5xx), transport failures and timeouts, the
//! server's `Retry-After` when it fits, all inside the sign-in's deadline; every attempt is
//! counted. I/O.
//!
//! Each sign-in gets its own [`RequestPolicy`] (deadline, counter); the layer carries it with
//! every request of that sign-in's client.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use kube::client::Body;
use serde_json::Value;
use tokio::time::Instant;
use tower::{BoxError, Layer, Service, ServiceExt};

/// A sign-in's attempt gets at most this long (connect, send, read the whole answer).
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1200);
/// A command's (the sweep's pages of 500 objects among them) gets this long.
const COMMAND_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
const MAX_ATTEMPTS: u32 = 5;
const BACKOFF_BASE: Duration = Duration::from_millis(25);
const BACKOFF_CAP: Duration = Duration::from_millis(400);
/// Never start an attempt with less time than this left.
const MIN_ATTEMPT: Duration = Duration::from_millis(30);
/// Requests of one sign-in in flight at once: enough for every group of a large first sign-in
/// to move together, few enough that no sign-in needs hundreds of sockets (Lambda allows 1,024
/// open files) or floods a shared API server.
pub const MAX_IN_FLIGHT: usize = 64;

/// True when the deadline, not the API server, ended a request of `error`: what was not done
/// may be done by a later run.
pub fn ran_out_of_time(error: &crate::error::Error) -> bool {
    matches!(policy_error(error), Some(PolicyError::OutOfTime { .. }))
}

/// The deadline ended the request after `attempts`, the last of which came to `last`.
fn out_of_time(attempts: u32, last: String) -> BoxError {
    PolicyError::OutOfTime { attempts, last }.into()
}

/// Why a request got no answer worth returning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The deadline came first: the request may be tried again by a later run.
    #[error("no answer within the time budget (after {attempts} attempts; last: {last})")]
    OutOfTime { attempts: u32, last: String },
    #[error("gave up after {attempts} attempts; last: {last}")]
    GaveUp { attempts: u32, last: String },
    /// The answer was larger than the request's [`AnswerLimit`]: refused, and not read further.
    #[error("the answer is larger than {limit} bytes")]
    AnswerTooLarge { limit: usize },
}

/// A request extension: the most bytes its answer may have. A larger answer is refused as it
/// arrives ([`PolicyError::AnswerTooLarge`], never retried), so that what a namespace admin
/// stores is never held whole to find out it is too much.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerLimit(pub usize);

/// True when `error` is a request refused for an answer over its [`AnswerLimit`].
pub fn answer_too_large(error: &(dyn std::error::Error + 'static)) -> bool {
    matches!(
        policy_error(error),
        Some(PolicyError::AnswerTooLarge { .. })
    )
}

/// The policy's reason among the causes of `error`, if it has one.
fn policy_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a PolicyError> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<PolicyError>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}

/// The deadline, counter and limits one sign-in's requests share.
pub struct RequestPolicy {
    deadline: Instant,
    attempt_timeout: Duration,
    requests: AtomicU32,
    /// The quickest answer so far, in microseconds (`u64::MAX`: none yet).
    fastest_answer_us: AtomicU64,
    jitter_state: AtomicU64,
    in_flight: tokio::sync::Semaphore,
}

impl RequestPolicy {
    /// The policy of a sign-in (and the doctor): short attempts, inside Cognito's 5 seconds.
    pub fn for_sign_in(deadline: Instant) -> Arc<Self> {
        Self::with_attempt_timeout(deadline, ATTEMPT_TIMEOUT)
    }

    /// When the requests under this policy end.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The policy of a command (the sweep, the access report): longer attempts, for long pages.
    pub fn for_command(deadline: Instant) -> Arc<Self> {
        Self::with_attempt_timeout(deadline, COMMAND_ATTEMPT_TIMEOUT)
    }

    fn with_attempt_timeout(deadline: Instant, attempt_timeout: Duration) -> Arc<Self> {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Arc::new(RequestPolicy {
            deadline,
            attempt_timeout,
            requests: AtomicU32::new(0),
            fastest_answer_us: AtomicU64::new(u64::MAX),
            jitter_state: AtomicU64::new(seed),
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
        })
    }

    /// HTTP requests sent so far, retries included.
    pub fn requests(&self) -> u32 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The quickest whole answer so far: about one round trip to the API server.
    pub fn fastest_answer(&self) -> Option<Duration> {
        match self.fastest_answer_us.load(Ordering::Relaxed) {
            u64::MAX => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    /// Sends `request` through `inner` under this policy; the answer comes back whole.
    async fn send<S, B>(&self, inner: S, request: Request<Body>) -> Result<Response<Body>, BoxError>
    where
        S: Service<Request<Body>, Response = Response<B>> + Clone,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = request.into_parts();
        let body = body.collect().await?.to_bytes();
        let limit = parts.extensions.get::<AnswerLimit>().copied();
        let mut attempt = 0;
        let mut last = String::from("none");
        loop {
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            if remaining < MIN_ATTEMPT {
                return Err(out_of_time(attempt, last));
            }
            // A slot is held for the attempt only (not while backing off); waiting for one
            // counts against the deadline, not against the attempt's timeout.
            let Ok(Ok(_slot)) = tokio::time::timeout(remaining, self.in_flight.acquire()).await
            else {
                return Err(out_of_time(attempt, last));
            };
            attempt += 1;
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            let request = Request::from_parts(parts.clone(), Body::from(body.clone()));
            let outcome = tokio::time::timeout(
                remaining.min(self.attempt_timeout),
                self.attempt(inner.clone(), request, limit),
            )
            .await;
            let wait;
            (last, wait) = match outcome {
                Ok(Ok((response, bytes))) if is_retryable(response.status()) => {
                    let wait =
                        retry_after(&response, &bytes).unwrap_or_else(|| self.backoff(attempt));
                    (response.status().to_string(), wait)
                }
                Ok(Ok((response, bytes))) => {
                    let (parts, _) = response.into_parts();
                    return Ok(Response::from_parts(parts, Body::from(bytes)));
                }
                Ok(Err(error)) if answer_too_large(error.as_ref()) => return Err(error),
                Ok(Err(transport)) => (transport.to_string(), self.backoff(attempt)),
                Err(_) => ("attempt timed out".to_owned(), Duration::ZERO),
            };
            tracing::debug!(method = %parts.method, path = parts.uri.path(), attempt, last, "retrying a Kubernetes request");
            let left = self.deadline.saturating_duration_since(Instant::now());
            if attempt >= MAX_ATTEMPTS {
                return Err(PolicyError::GaveUp {
                    attempts: attempt,
                    last,
                }
                .into());
            }
            if wait + MIN_ATTEMPT > left {
                return Err(out_of_time(attempt, last));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt: the request, and the whole answer read (no more than `limit`).
    async fn attempt<S, B>(
        &self,
        inner: S,
        request: Request<Body>,
        limit: Option<AnswerLimit>,
    ) -> Result<(Response<()>, Bytes), BoxError>
    where
        S: Service<Request<Body>, Response = Response<B>>,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let sent = Instant::now();
        let response = inner.oneshot(request).await.map_err(Into::into)?;
        let (parts, body) = response.into_parts();
        let bytes = read_answer(body, limit).await?;
        let took = sent.elapsed().as_micros().min(u128::from(u64::MAX - 1)) as u64;
        self.fastest_answer_us.fetch_min(took, Ordering::Relaxed);
        Ok((Response::from_parts(parts, ()), bytes))
    }

    /// Full-jitter exponential backoff.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = BACKOFF_BASE
            .saturating_mul(1 << attempt.min(8))
            .min(BACKOFF_CAP)
            .as_millis() as u64;
        Duration::from_millis(self.next_random() % (ceiling + 1))
    }

    /// splitmix64: enough to spread retries of concurrent invocations apart.
    fn next_random(&self) -> u64 {
        let mut z = self
            .jitter_state
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The whole of `body`, frame by frame, refused as soon as it is over `limit`.
async fn read_answer<B>(body: B, limit: Option<AnswerLimit>) -> Result<Bytes, BoxError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let Some(AnswerLimit(limit)) = limit else {
        return Ok(body.collect().await.map_err(Into::into)?.to_bytes());
    };
    let mut body = std::pin::pin!(body);
    let mut read = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(Into::into)?.into_data() {
            if read.len() + data.len() > limit {
                return Err(PolicyError::AnswerTooLarge { limit }.into());
            }
            read.extend_from_slice(&data);
        }
    }
    Ok(read.freeze())
}

fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// The server's `Retry-After` (header, or `details.retryAfterSeconds` of the Status), capped so a
/// huge hint makes the caller give up instead of sleeping past the deadline unnoticed.
fn retry_after(response: &Response<()>, body: &[u8]) -> Option<Duration> {
    let header = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let seconds = header.or_else(|| {
        serde_json::from_slice::<Value>(body)
            .ok()?
            .pointer("/details/retryAfterSeconds")?
            .as_u64()
    })?;
    Some(Duration::from_secs(seconds.min(60)))
}

/// The first request of a connection pool goes alone: whether the pool's connection speaks
/// HTTP/2 is known only once it is made (ALPN), and requests sent together before then would
/// each open a connection of their own. Once it has an answer, everything goes at once over it.
#[derive(Default)]
pub struct FirstConnection {
    made: std::sync::atomic::AtomicBool,
    gate: tokio::sync::Mutex<()>,
}

impl FirstConnection {
    /// Holds the caller back while the pool's first request is in flight; the returned guard
    /// (when the caller is that first request) is held until its answer.
    async fn wait(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.made.load(Ordering::Acquire) {
            return None;
        }
        let guard = self.gate.lock().await;
        (!self.made.load(Ordering::Acquire)).then_some(guard)
    }

    fn answered(&self) {
        self.made.store(true, Ordering::Release);
    }
}

/// Puts a [`RequestPolicy`] (and the pool's [`FirstConnection`]) in front of a service.
#[derive(Clone)]
pub struct PolicyLayer(pub Arc<RequestPolicy>, pub Arc<FirstConnection>);

impl<S> Layer<S> for PolicyLayer {
    type Service = PolicyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PolicyService {
            inner,
            policy: self.0.clone(),
            first: self.1.clone(),
        }
    }
}

#[derive(Clone)]
pub struct PolicyService<S> {
    inner: S,
    policy: Arc<RequestPolicy>,
    first: Arc<FirstConnection>,
}

impl<S, B> Service<Request<Body>> for PolicyService<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each call drives a clone of the inner service to readiness itself.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let (inner, policy, first) = (self.inner.clone(), self.policy.clone(), self.first.clone());
        Box::pin(async move {
            let alone = first.wait().await;
            let answer = policy.send(inner, request).await;
            if alone.is_some() && answer.is_ok() {
                first.answered();
            }
            answer
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, header: Option<&str>) -> Response<()> {
        let mut builder = Response::builder().status(status);
        if let Some(value) = header {
            builder = builder.header(http::header::RETRY_AFTER, value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn retry_after_comes_from_the_header_or_the_status_details() {
        let details = br#"{"details": {"retryAfterSeconds": 1}}"#;
        assert_eq!(
            retry_after(&response(429, Some("2")), details),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(&response(429, None), details),
            Some(Duration::from_secs(1))
        );
        assert_eq!(retry_after(&response(429, None), b"{}"), None);
        assert_eq!(
            retry_after(&response(429, Some("86400")), b""),
            Some(Duration::from_secs(60)),
            "capped"
        );
    }

    #[test]
    fn throttling_and_server_errors_are_retried_nothing_else() {
        for (status, retried) in [
            (429, true),
            (500, true),
            (503, true),
            (504, true),
            (501, false),
            (409, false),
            (401, false),
            (200, false),
        ] {
            assert_eq!(
                is_retryable(StatusCode::from_u16(status).unwrap()),
                retried,
                "{status}"
            );
        }
    }
}
