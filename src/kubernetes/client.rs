//! The Kubernetes client: TLS that trusts only the cluster's CA, HTTP/2 when the API server
//! offers it (ALPN `h2`, as EKS does; HTTP/1.1 otherwise), the bearer token, and the sign-in
//! policy beneath kube's own request building. One TLS connection then carries a sign-in of any
//! size. I/O.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::client::{Body, ConfigExt};
use tower::{BoxError, ServiceBuilder};

use crate::eks::cluster::ClusterInfo;
use crate::eks::token::BearerToken;
use crate::error::Error;
use crate::kubernetes::policy::{FirstConnection, PolicyLayer, RequestPolicy};

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// The connection pool to one cluster, kept for the life of the container (across token
/// re-mints: the token is added per request). Cheap to clone.
#[derive(Clone)]
pub struct ClusterClient {
    config: kube::Config,
    http: HttpClient<Https, Body>,
    first_connection: Arc<FirstConnection>,
}

impl ClusterClient {
    /// A pool to the cluster `info` describes. No network until used.
    pub fn new(info: &ClusterInfo) -> Result<Self, Error> {
        let mut config = kube::Config::new(info.endpoint.clone());
        config.root_cert = Some(info.ca_certificates.clone());
        config.accept_invalid_certs = false;
        config.proxy_url = None;
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(Duration::from_secs(1)));
        connector.set_nodelay(true);
        // kube's own connector speaks HTTP/1.1 only; this one offers h2 and http/1.1 by ALPN.
        let tls = config.rustls_client_config().map_err(Error::KubeClient)?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .enable_http2()
            .wrap_connector(connector);
        let http = HttpClient::builder(TokioExecutor::new()).build(https);
        Ok(ClusterClient {
            config,
            http,
            first_connection: Arc::new(FirstConnection::default()),
        })
    }

    /// A kube client presenting `token`, whose every request follows `policy` (one job's
    /// deadline and counter).
    pub fn with_policy(
        &self,
        token: &BearerToken,
        policy: Arc<RequestPolicy>,
    ) -> Result<kube::Client, Error> {
        let mut config = self.config.clone();
        config.auth_info.token = Some(token.expose().to_owned().into());
        let auth = config.auth_layer().map_err(Error::KubeClient)?;
        let service = ServiceBuilder::new()
            .layer(PolicyLayer(policy, self.first_connection.clone()))
            .layer(config.base_uri_layer())
            .option_layer(auth)
            .map_err(BoxError::from)
            .service(self.http.clone());
        Ok(kube::Client::new(service, "default"))
    }
}
