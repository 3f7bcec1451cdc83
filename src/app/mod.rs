//! What a warm container keeps: the configuration, the clock, a session per cluster and the
//! user pool's client ([`App`]), with what every use case shares: one fan-out over the
//! clusters and one way to turn Lambda's remaining time into a job's deadlines ([`budget`]).
//! I/O.

pub mod budget;
pub mod clusters;

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use crate::domain::config::Config;
use crate::domain::model::team_defaults::TeamDefaults;
use crate::error::Error;
use clusters::ClusterSession;

/// The wall clock, injected so tests can move it.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// What a warm container keeps between sign-ins.
/// State only: each use case (`sign_in`, `sweep`, `access_report`, `doctor`) is a room of its
/// own that reads it.
pub struct App {
    pub(crate) config: Config,
    /// The user pool's client (the sweep asks it about people).
    pub(crate) pool: aws_sdk_cognitoidentityprovider::Client,
    /// The function's region.
    pub(crate) region: String,
    pub(crate) clock: Clock,
    /// One per cluster of `CLUSTER_NAME`, in its order.
    pub(crate) clusters: Vec<ClusterSession>,
}

impl App {
    /// Builds the app from the configuration and the AWS SDK configuration, reading the team
    /// defaults' file; no network.
    pub fn new(
        mut config: Config,
        sdk: &aws_config::SdkConfig,
        clock: Clock,
    ) -> Result<Self, Error> {
        if let Some(path) = &config.sign_in.team_defaults_file {
            config.sign_in.team_defaults = read_team_defaults(path)?;
        }
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .ok_or(Error::AwsSetup("region (set AWS_REGION)"))?;
        let credentials = sdk
            .credentials_provider()
            .ok_or(Error::AwsSetup("credentials provider"))?;
        let clusters = config
            .clusters
            .targets
            .iter()
            .map(|target| {
                ClusterSession::new(
                    target.clone(),
                    sdk,
                    &region,
                    credentials.clone(),
                    clock.clone(),
                    config.istio.authz,
                )
            })
            .collect();
        Ok(App {
            config,
            pool: aws_sdk_cognitoidentityprovider::Client::new(sdk),
            region,
            clock,
            clusters,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Bearer tokens minted by this container so far, for every cluster.
    pub fn token_mints(&self) -> u32 {
        self.clusters.iter().map(ClusterSession::token_mints).sum()
    }

    /// `job` run on every cluster at once; the results in `CLUSTER_NAME`'s order.
    pub(crate) async fn on_every_cluster<'a, F, T>(
        &'a self,
        job: impl FnMut(&'a ClusterSession) -> F,
    ) -> Vec<T>
    where
        F: Future<Output = T>,
    {
        futures::future::join_all(self.clusters.iter().map(job)).await
    }
}

/// The team defaults of the file at `path`, checked whole.
fn read_team_defaults(path: &str) -> Result<TeamDefaults, Error> {
    let fail = |why: String| Error::TeamDefaults {
        path: path.to_owned(),
        why,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    TeamDefaults::parse(&text).map_err(fail)
}
