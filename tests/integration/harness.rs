//! The one integration harness: the fakes' local stack ([`LocalStack`]: the cluster, EKS,
//! Cognito and the Runtime API, which also starts the function's binary as Lambda would),
//! plus the real `App` in process, over real HTTPS against the same fakes.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use aws_credential_types::Credentials;
use kfpm_fakes::ShiftedClock;
use kfpm_fakes::apiserver::admission::Admission;
use kfpm_fakes::apiserver::{FakeCluster, FakeClusterConfig, Flavor};
use kfpm_fakes::eks::FakeEks;
use kfpm_fakes::local::LocalStack;
use kubeflow_profile_manager::domain::config::Config;
use kubeflow_profile_manager::domain::sign_in::summary::SignInSummary;
use kubeflow_profile_manager::error::SignInFailed;
use kubeflow_profile_manager::{App, Outcome};
use serde_json::Value;

pub const OWNER: &str = "admin@kubeflow.com";

pub struct Harness {
    /// The fakes (`h.cluster`, `h.eks`, ... through `Deref`).
    pub stack: LocalStack,
    pub clock: ShiftedClock,
    /// The function in process, as a warm container keeps it.
    pub app: App,
    vars: HashMap<String, String>,
}

impl std::ops::Deref for Harness {
    type Target = LocalStack;

    fn deref(&self) -> &LocalStack {
        &self.stack
    }
}

impl Harness {
    pub async fn start(flavor: Flavor, vars: &[(&str, &str)]) -> Harness {
        Self::start_with(vars, |config| config.flavor = flavor).await
    }

    /// A harness whose fake cluster is configured by `adjust`.
    pub async fn start_with(
        vars: &[(&str, &str)],
        adjust: impl FnOnce(&mut FakeClusterConfig),
    ) -> Harness {
        let clock = ShiftedClock::default();
        let mut config = FakeClusterConfig::new(clock.clock());
        config.controller_delay = Duration::from_millis(100);
        config.admission = Some(Admission::for_settings(vars));
        adjust(&mut config);
        let stack = LocalStack::start(config).await;
        let (cluster, eks) = (&stack.cluster, &stack.eks);
        let mut vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        vars.entry("CLUSTER_NAME".into())
            .or_insert_with(|| cluster.config().cluster_name.clone());
        if !vars.contains_key("GROUP_PREFIX") {
            vars.entry("ALLOW_ALL_GROUPS".into())
                .or_insert_with(|| "true".into());
        }
        let app = new_app(cluster, eks, &clock, &vars).await;
        Harness {
            stack,
            clock,
            app,
            vars,
        }
    }

    /// Another warm container of the same function (its own caches).
    pub async fn another_container(&self) -> App {
        new_app(&self.cluster, &self.eks, &self.clock, &self.vars).await
    }

    /// Another container of the function with `vars` changed (a redeploy).
    pub async fn another_container_with(&self, vars: &[(&str, &str)]) -> App {
        self.try_container_with(vars).await.expect("app")
    }

    /// Another container of the function with `vars` changed, or why it does not start.
    pub async fn try_container_with(&self, vars: &[(&str, &str)]) -> Result<App, String> {
        let mut changed = self.vars.clone();
        for (name, value) in vars {
            changed.insert((*name).to_owned(), (*value).to_owned());
        }
        let config =
            Config::from_lookup(|name| changed.get(name).cloned()).expect("valid configuration");
        try_app_for(&self.cluster, &self.eks, config, self.clock.clock())
            .await
            .map_err(|error| error.to_string())
    }

    pub async fn sign_in(
        &self,
        user: &str,
        email: &str,
        groups: &str,
    ) -> Result<Outcome, SignInFailed> {
        self.app
            .handle(&sign_in_event(user, email, groups), None)
            .await
    }

    /// The user's contributor RoleBindings (not what the profile controller makes for the owner
    /// of their own Profile), as `namespace/name`.
    pub fn bindings_of(&self, email: &str) -> Vec<String> {
        self.objects_of("RoleBinding", email)
    }

    pub fn objects_of(&self, kind: &str, email: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .cluster
            .all(kind)
            .iter()
            .filter(|o| {
                o.pointer("/metadata/annotations/user")
                    .and_then(Value::as_str)
                    == Some(email)
                    && ![
                        "namespaceAdmin",
                        "owner-binding-istio",
                        "ns-owner-access-istio",
                    ]
                    .contains(&o["metadata"]["name"].as_str().unwrap_or(""))
            })
            .map(|o| {
                format!(
                    "{}/{}",
                    o["metadata"]["namespace"].as_str().unwrap_or(""),
                    o["metadata"]["name"].as_str().unwrap_or("")
                )
            })
            .collect();
        found.sort();
        found
    }

    /// Waits until the profile controller has reconciled every Profile (its `namespaceAdmin`
    /// exists), so that what it writes does not mix with what a test measures.
    pub async fn settle(&self) {
        self.cluster
            .wait_until(Duration::from_secs(5), |c| {
                c.all("Profile").iter().all(|p| {
                    let name = p["metadata"]["name"].as_str().unwrap_or("");
                    c.get("RoleBinding", Some(name), "namespaceAdmin").is_some()
                        || p.get("status").is_some()
                })
            })
            .await;
    }

    /// Requests since the last `clear_requests`, as `METHOD path`.
    pub fn request_lines(&self) -> Vec<String> {
        self.cluster
            .requests()
            .iter()
            .map(|r| format!("{} {} {}", r.method, r.path, r.status))
            .collect()
    }
}

async fn new_app(
    cluster: &FakeCluster,
    eks: &FakeEks,
    clock: &ShiftedClock,
    vars: &HashMap<String, String>,
) -> App {
    let config = Config::from_lookup(|name| vars.get(name).cloned()).expect("valid configuration");
    app_for(cluster, eks, config, clock.clock()).await
}

/// An app with the fake cluster's AWS credentials and region, finding DescribeCluster at `eks`.
pub async fn app_for(
    cluster: &FakeCluster,
    eks: &FakeEks,
    config: Config,
    clock: kubeflow_profile_manager::Clock,
) -> App {
    try_app_for(cluster, eks, config, clock).await.expect("app")
}

/// [`app_for`], or the error the app does not start with.
async fn try_app_for(
    cluster: &FakeCluster,
    eks: &FakeEks,
    config: Config,
    clock: kubeflow_profile_manager::Clock,
) -> Result<App, kubeflow_profile_manager::error::Error> {
    let credentials = &cluster.config().credentials;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(cluster.config().region.clone()))
        .credentials_provider(Credentials::new(
            credentials.access_key_id.clone(),
            credentials.secret_access_key.clone(),
            credentials.session_token.clone(),
            None,
            "harness",
        ))
        .endpoint_url(eks.endpoint_url())
        .load()
        .await;
    App::new(config, &sdk, clock)
}

use kfpm_fakes::events::sign_in_event;

/// The report of a sign-in provisioned on the harness's one cluster.
pub fn report(outcome: &Outcome) -> &SignInSummary {
    match outcome.summary() {
        Some(report) => report,
        None => panic!("expected a synchronised sign-in, got {outcome:?}"),
    }
}

pub fn granted(outcome: &Outcome) -> Vec<String> {
    let mut granted = report(outcome).granted.clone();
    granted.sort();
    granted
}

pub fn refused(outcome: &Outcome) -> Vec<String> {
    let mut refused: Vec<String> = report(outcome)
        .refused
        .iter()
        .map(|r| r.group.clone())
        .collect();
    refused.sort();
    refused
}

/// A team's group Profile, as the function makes it for the AD group of the same name, and its
/// namespace (the profile controller reconciled at once).
pub fn seed_team(cluster: &kfpm_fakes::apiserver::FakeCluster, team: &str) {
    kfpm_fakes::members::seed_group(cluster, team);
}
