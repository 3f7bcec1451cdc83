//! Requests to the Kubernetes API server over a verified TLS connection: per-attempt timeouts,
//! bounded jittered retries inside the sign-in's deadline, and request counting. I/O.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use http::{Method, Request};
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::time::Instant;

/// An attempt gets at most this long (connect, send, read the whole answer).
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1200);
const MAX_ATTEMPTS: u32 = 5;
const BACKOFF_BASE: Duration = Duration::from_millis(25);
const BACKOFF_CAP: Duration = Duration::from_millis(400);
/// Never start an attempt with less time than this left.
const MIN_ATTEMPT: Duration = Duration::from_millis(30);
/// Requests of one sign-in in flight at once: enough for every group of a large first sign-in
/// to move together, few enough that no sign-in needs hundreds of sockets (Lambda allows 1,024
/// open files) or floods a shared API server.
pub const MAX_IN_FLIGHT: usize = 64;

pub const APPLY_PATCH: &str = "application/apply-patch+yaml";
pub const JSON: &str = "application/json";

/// An answer the caller interprets (2xx, and the 4xx that are not the credentials' fault).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// The `Retry-After` header, in seconds.
    pub retry_after_header: Option<u64>,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `reason: message` of a Kubernetes `Status` answer, for logs.
    pub fn status_text(&self) -> String {
        let field = |k: &str| self.body.get(k).and_then(Value::as_str).unwrap_or("");
        format!("{} {}: {}", self.status, field("reason"), field("message"))
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    #[error("the API server refused the bearer token (401)")]
    Unauthorized,
    #[error("no answer within the time budget")]
    OutOfTime,
    #[error("gave up after {attempts} attempts; last: {last}")]
    GaveUp { attempts: u32, last: String },
}

/// A Kubernetes client for one sign-in: every request shares its deadline and counter.
pub struct KubeApi {
    client: kube::Client,
    deadline: Instant,
    requests: AtomicU32,
    jitter_state: AtomicU64,
    in_flight: tokio::sync::Semaphore,
}

impl KubeApi {
    pub fn new(client: kube::Client, deadline: Instant) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        KubeApi {
            client,
            deadline,
            requests: AtomicU32::new(0),
            jitter_state: AtomicU64::new(seed),
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
        }
    }

    /// HTTP requests sent so far, retries included.
    pub fn requests(&self) -> u32 {
        self.requests.load(Ordering::Relaxed)
    }

    pub async fn get(&self, path: &str) -> Result<Reply, RequestError> {
        self.send(Method::GET, path, None).await
    }

    /// Sends a request, retrying throttling (429), server errors (5xx), transport failures and
    /// attempt timeouts with jittered backoff while the deadline allows.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<Reply, RequestError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            if remaining < MIN_ATTEMPT {
                return Err(RequestError::OutOfTime);
            }
            // A slot is held for the attempt only (not while backing off); waiting for one does
            // not count against the attempt's timeout, only against the deadline.
            let outcome = match tokio::time::timeout(remaining, self.in_flight.acquire()).await {
                Ok(Ok(_slot)) => {
                    let remaining = self.deadline.saturating_duration_since(Instant::now());
                    tokio::time::timeout(
                        remaining.min(ATTEMPT_TIMEOUT),
                        self.attempt(&method, path, &body),
                    )
                    .await
                }
                // Closed never happens; out of time waiting for a slot does.
                _ => return Err(RequestError::OutOfTime),
            };
            let (last, wait) = match outcome {
                Ok(Ok(reply)) if reply.status == 401 => return Err(RequestError::Unauthorized),
                Ok(Ok(reply)) if reply.status == 429 || is_retryable_server_error(reply.status) => {
                    let hint = retry_after(&reply);
                    (
                        reply.status_text(),
                        hint.unwrap_or_else(|| self.backoff(attempt)),
                    )
                }
                Ok(Ok(reply)) => return Ok(reply),
                Ok(Err(transport)) => (transport, self.backoff(attempt)),
                Err(_) => ("attempt timed out".to_owned(), Duration::ZERO),
            };
            tracing::debug!(%method, path, attempt, last, "retrying a Kubernetes request");
            let left = self.deadline.saturating_duration_since(Instant::now());
            if attempt >= MAX_ATTEMPTS || wait + MIN_ATTEMPT > left {
                return Err(RequestError::GaveUp {
                    attempts: attempt,
                    last,
                });
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        path: &str,
        body: &Option<(&'static str, Vec<u8>)>,
    ) -> Result<Reply, String> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(http::header::ACCEPT, JSON);
        if let Some((content_type, _)) = body {
            request = request.header(http::header::CONTENT_TYPE, *content_type);
        }
        let request = request
            .body(kube::client::Body::from(
                body.as_ref().map(|(_, b)| b.clone()).unwrap_or_default(),
            ))
            .map_err(|e| e.to_string())?;
        let response = self.client.send(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let retry_after_header = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            retry_after_header,
        })
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

fn is_retryable_server_error(status: u16) -> bool {
    matches!(status, 500 | 502 | 503 | 504)
}

/// The server's `Retry-After` (header, or `details.retryAfterSeconds` of the Status), capped so a
/// huge hint makes the caller give up instead of sleeping past the deadline unnoticed.
fn retry_after(reply: &Reply) -> Option<Duration> {
    let seconds = reply.retry_after_header.or_else(|| {
        reply
            .body
            .pointer("/details/retryAfterSeconds")
            .and_then(Value::as_u64)
    })?;
    Some(Duration::from_secs(seconds.min(60)))
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            encode_query_value("kubernetes.io/metadata.name in (a,b-c)"),
            "kubernetes.io%2Fmetadata.name%20in%20%28a%2Cb-c%29"
        );
        assert_eq!(encode_query_value("a=b,c!=d"), "a%3Db%2Cc%21%3Dd");
    }

    #[test]
    fn retry_after_comes_from_the_header_or_the_status_details() {
        let reply = |body: Value, header: Option<u64>| Reply {
            status: 429,
            body,
            retry_after_header: header,
        };
        let header = reply(json!({"details": {"retryAfterSeconds": 9}}), Some(2));
        let details = reply(json!({"details": {"retryAfterSeconds": 1}}), None);
        let neither = reply(json!({}), None);
        assert_eq!(retry_after(&header), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(&details), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(&neither), None);
    }
}
