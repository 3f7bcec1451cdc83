//! The Kubernetes client: TLS that trusts only the cluster's CA, the bearer token, and the
//! sign-in policy beneath kube's own request building. I/O.

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
use crate::kubernetes::policy::{PolicyLayer, SignInPolicy};

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// A connection pool to one cluster, authenticated with one token. Cheap to clone.
#[derive(Clone)]
pub struct ClusterClient {
    config: kube::Config,
    http: HttpClient<Https, Body>,
}

impl ClusterClient {
    /// A pool to the cluster `info` describes, presenting `token`. No network until used.
    pub fn new(info: &ClusterInfo, token: &BearerToken) -> Result<Self, Error> {
        let mut config = kube::Config::new(info.endpoint.clone());
        config.root_cert = Some(info.ca_certificates.clone());
        config.accept_invalid_certs = false;
        config.proxy_url = None;
        config.auth_info.token = Some(token.expose().to_owned().into());
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(Duration::from_secs(1)));
        connector.set_nodelay(true);
        let https = config
            .rustls_https_connector_with_connector(connector)
            .map_err(Error::KubeClient)?;
        let http = HttpClient::builder(TokioExecutor::new()).build(https);
        Ok(ClusterClient { config, http })
    }

    /// A kube client whose every request follows `policy` (one sign-in's deadline and counter).
    pub fn for_sign_in(&self, policy: Arc<SignInPolicy>) -> Result<kube::Client, Error> {
        let auth = self.config.auth_layer().map_err(Error::KubeClient)?;
        let service = ServiceBuilder::new()
            .layer(PolicyLayer(policy))
            .layer(self.config.base_uri_layer())
            .option_layer(auth)
            .map_err(BoxError::from)
            .service(self.http.clone());
        Ok(kube::Client::new(service, "default"))
    }
}
