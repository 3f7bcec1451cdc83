//! What a warm container keeps for one cluster of `CLUSTER_NAME`: its description (endpoint and
//! CA, from DescribeCluster in the cluster's region), its connection pool, a bearer token signed
//! for that cluster in that region, and the conventions learnt from it. Every cluster has its
//! own; a failure is never kept. I/O.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use tokio::sync::Mutex;

use super::Clock;
use crate::domain::config::{ClusterTarget, IstioAuthz};
use crate::domain::sign_in::conventions::ClusterFacts;
use crate::eks::cluster::{ClusterInfo, describe_cluster};
use crate::eks::token::{BearerToken, mint_token};
use crate::error::Error;
use crate::kubernetes::client::ClusterClient;
use crate::kubernetes::observe::discover;
use crate::kubernetes::policy::RequestPolicy;

/// How long a container waits before asking EKS again for a team role it refused (a role that
/// cannot be passed costs one call per team every few minutes, not one per sign-in).
pub const ROLE_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

pub struct ClusterSession {
    pub target: ClusterTarget,
    /// The cluster's region: its own in `CLUSTER_NAME`, else the function's.
    region: String,
    eks: aws_sdk_eks::Client,
    credentials: SharedCredentialsProvider,
    clock: Clock,
    istio_authz: IstioAuthz,
    cluster: Mutex<Option<ClusterInfo>>,
    pool: Mutex<Option<ClusterClient>>,
    token: Mutex<Option<BearerToken>>,
    facts: Mutex<Option<ClusterFacts>>,
    token_mints: AtomicU32,
    /// Team namespaces whose role EKS refused, and until when this container does not ask again.
    roles_refused: std::sync::Mutex<std::collections::HashMap<String, tokio::time::Instant>>,
}

impl ClusterSession {
    /// The session of `target`; `region` is the function's. No network.
    pub fn new(
        target: ClusterTarget,
        sdk: &aws_config::SdkConfig,
        region: &str,
        credentials: SharedCredentialsProvider,
        clock: Clock,
        istio_authz: IstioAuthz,
    ) -> Self {
        let region = target.region.clone().unwrap_or_else(|| region.to_owned());
        let eks = aws_sdk_eks::Client::from_conf(
            aws_sdk_eks::config::Builder::from(sdk)
                .region(aws_sdk_eks::config::Region::new(region.clone()))
                .build(),
        );
        ClusterSession {
            target,
            region,
            eks,
            credentials,
            clock,
            istio_authz,
            cluster: Mutex::new(None),
            pool: Mutex::new(None),
            token: Mutex::new(None),
            facts: Mutex::new(None),
            token_mints: AtomicU32::new(0),
            roles_refused: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// `name` or `region/name`, as `CLUSTER_NAME` gives it.
    pub fn label(&self) -> String {
        self.target.label()
    }

    /// True unless EKS refused `namespace`'s role lately (this container asks again after
    /// [`ROLE_RETRY_AFTER`]).
    pub fn may_ask_role(&self, namespace: &str, now: tokio::time::Instant) -> bool {
        let refused = self.roles_refused.lock().unwrap_or_else(|p| p.into_inner());
        refused.get(namespace).is_none_or(|until| now >= *until)
    }

    /// Remembers that EKS refused `namespace`'s role at `now`.
    pub fn role_refused(&self, namespace: &str, now: tokio::time::Instant) {
        let mut refused = self.roles_refused.lock().unwrap_or_else(|p| p.into_inner());
        refused.insert(namespace.to_owned(), now + ROLE_RETRY_AFTER);
    }

    /// The EKS client of the cluster's region.
    pub fn eks(&self) -> &aws_sdk_eks::Client {
        &self.eks
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Bearer tokens minted for this cluster so far.
    pub fn token_mints(&self) -> u32 {
        self.token_mints.load(Ordering::Relaxed)
    }

    /// The cluster's endpoint and CA, asked of EKS once per container.
    pub async fn info(&self) -> Result<ClusterInfo, Error> {
        let mut cached = self.cluster.lock().await;
        if let Some(info) = cached.as_ref() {
            return Ok(info.clone());
        }
        let info = describe_cluster(&self.eks, &self.target.name).await?;
        tracing::info!(cluster = %self.label(), endpoint = %info.endpoint, "cluster described");
        *cached = Some(info.clone());
        Ok(info)
    }

    /// The connection pool to the cluster, made once per container.
    pub async fn pool(&self, info: &ClusterInfo) -> Result<ClusterClient, Error> {
        let mut kept = self.pool.lock().await;
        if let Some(pool) = kept.as_ref() {
            return Ok(pool.clone());
        }
        let pool = ClusterClient::new(info)?;
        *kept = Some(pool.clone());
        Ok(pool)
    }

    /// A bearer token that is not stale; a new one when `renew` or when none is kept.
    pub async fn token(&self, renew: bool) -> Result<BearerToken, Error> {
        let now = (self.clock)();
        let mut kept = self.token.lock().await;
        if let Some(token) = kept.as_ref()
            && !renew
            && !token.is_stale(now)
        {
            return Ok(token.clone());
        }
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| Error::Credentials(Box::new(e)))?;
        let token = mint_token(&credentials, &self.region, &self.target.name, now)?;
        self.token_mints.fetch_add(1, Ordering::Relaxed);
        *kept = Some(token.clone());
        Ok(token)
    }

    /// A client of this cluster whose requests follow `policy`, under a token minted now when
    /// `renew`.
    pub async fn client(
        &self,
        policy: Arc<RequestPolicy>,
        renew: bool,
    ) -> Result<kube::Client, Error> {
        let info = self.info().await?;
        let token = self.token(renew).await?;
        self.pool(&info).await?.with_policy(&token, policy)
    }

    /// Keeps what was learnt since the facts were read (the owner's user id).
    pub async fn keep_facts(&self, facts: &ClusterFacts) {
        let mut cached = self.facts.lock().await;
        if cached.is_some() {
            *cached = Some(facts.clone());
        }
    }

    /// What the cluster says about itself, read once per container once it has shown its
    /// conventions (a profile controller's owner object); until then, at each sign-in.
    pub async fn facts(&self, client: &kube::Client) -> Result<ClusterFacts, Error> {
        let mut cached = self.facts.lock().await;
        if let Some(facts) = cached.as_ref() {
            return Ok(facts.clone());
        }
        let facts = discover(client).await?;
        if !facts.has_shown_its_conventions() {
            return Ok(facts);
        }
        let cluster = self.label();
        match facts.twins(self.istio_authz) {
            Ok((twins, skipped)) => {
                if !skipped.is_empty() {
                    tracing::error!(
                        %cluster,
                        skipped = ?skipped,
                        writing = ?twins,
                        "ISTIO_AUTHZ names Istio kinds the cluster does not serve; they are skipped"
                    );
                }
                tracing::info!(%cluster, istio = ?twins, served = ?facts.served, "cluster conventions discovered");
            }
            Err(error) => {
                tracing::error!(%cluster, %error, "ISTIO_AUTHZ cannot be honoured on this cluster")
            }
        }
        *cached = Some(facts.clone());
        Ok(facts)
    }
}
