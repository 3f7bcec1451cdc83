//! One loopback server loop shared by the fakes: plain HTTP/1.1, or TLS serving HTTP/1.1 and
//! (when offered by ALPN) HTTP/2; every TLS connection is counted with its protocol.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub type Answer = Response<Full<Bytes>>;

/// An answer with `status`, `content_type` and `body`: what every fake sends.
pub fn answer(status: u16, content_type: &str, body: impl Into<Bytes>) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .expect("static response parts")
}

/// The whole body of `request` (empty when it cannot be read: the handler then refuses it).
pub async fn read_body(request: Request<Incoming>) -> Bytes {
    use http_body_util::BodyExt;
    request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

/// An AWS service's error answer: `body` in `content_type`, and its `kind` in
/// `x-amzn-errortype`, where the SDKs read it.
pub fn aws_error(status: u16, content_type: &str, kind: &str, body: &serde_json::Value) -> Answer {
    let mut error = answer(status, content_type, body.to_string());
    error.headers_mut().insert(
        "x-amzn-errortype",
        kind.parse().expect("an error type is a header value"),
    );
    error
}
/// Answers one request; an error closes the connection without an answer.
pub type Handler = Arc<
    dyn Fn(
            Request<Incoming>,
        ) -> Pin<Box<dyn Future<Output = Result<Answer, std::io::Error>> + Send>>
        + Send
        + Sync,
>;

/// The TLS connections a server accepted, by negotiated protocol (`h2`, `http/1.1`).
#[derive(Default)]
pub struct Connections(Mutex<Vec<String>>);

impl Connections {
    pub fn protocols(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn record(&self, protocol: String) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(protocol);
    }
}

/// Binds a free loopback port and serves `handler` on it (over TLS when `tls` is given, counting
/// each TLS connection in `connections`).
pub async fn spawn_server(tls: Option<TlsAcceptor>, handler: Handler) -> SocketAddr {
    spawn_counted_server(tls, handler, Arc::new(Connections::default())).await
}

/// [`spawn_server`], counting the TLS connections in `connections`.
pub async fn spawn_counted_server(
    tls: Option<TlsAcceptor>,
    handler: Handler,
    connections: Arc<Connections>,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let (tls, handler, connections) = (tls.clone(), handler.clone(), connections.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| handler(request));
                let _ = match tls {
                    Some(acceptor) => match acceptor.accept(tcp).await {
                        Ok(stream) => {
                            let protocol = stream
                                .get_ref()
                                .1
                                .alpn_protocol()
                                .map_or("http/1.1".to_owned(), |p| {
                                    String::from_utf8_lossy(p).into_owned()
                                });
                            connections.record(protocol);
                            // HTTP/1.1 or HTTP/2, whichever the client speaks (ALPN decided).
                            auto::Builder::new(TokioExecutor::new())
                                .serve_connection(TokioIo::new(stream), service)
                                .await
                        }
                        Err(_) => return,
                    },
                    None => hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await
                        .map_err(Into::into),
                };
            });
        }
    });
    address
}
