//! One loopback HTTP/1.1 server loop (plain or TLS) shared by the fakes.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub type Answer = Response<Full<Bytes>>;
/// Answers one request; an error closes the connection without an answer.
pub type Handler = Arc<
    dyn Fn(
            Request<Incoming>,
        ) -> Pin<Box<dyn Future<Output = Result<Answer, std::io::Error>> + Send>>
        + Send
        + Sync,
>;

/// Binds a free loopback port and serves `handler` on it (over TLS when `tls` is given).
pub async fn spawn_server(tls: Option<TlsAcceptor>, handler: Handler) -> SocketAddr {
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
            let (tls, handler) = (tls.clone(), handler.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| handler(request));
                let http = hyper::server::conn::http1::Builder::new();
                let _ = match tls {
                    Some(acceptor) => match acceptor.accept(tcp).await {
                        Ok(stream) => http.serve_connection(TokioIo::new(stream), service).await,
                        Err(_) => return,
                    },
                    None => http.serve_connection(TokioIo::new(tcp), service).await,
                };
            });
        }
    });
    address
}
