//! A whole local stack: the fake cluster, fake EKS, fake Cognito and fake Runtime API, and the function binary
//! started against them as Lambda would start a custom runtime. Used by the binary tests, the
//! `kfpm-local` demo and the benchmark.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::apiserver::{FakeCluster, FakeClusterConfig};
use crate::cognito::{Caller, FakeCognito};
use crate::eks::FakeEks;
use crate::runtime_api::FakeRuntimeApi;

/// The user pool the local stack's function belongs to (`USER_POOL_ID`).
pub const LOCAL_USER_POOL: &str = "us-east-1_kfpmLocal";
/// What template.yaml lets the trigger's role do on the user pool: nothing (it parses Cognito
/// events, so it may not read app clients and their secrets).
pub const TRIGGER_POOL_ACTIONS: [&str; 0] = [];
/// What template.yaml lets the sweep function's role do on the user pool.
pub const SWEEP_POOL_ACTIONS: [&str; 2] = ["ListUsers", "DescribeUserPool"];

pub struct LocalStack {
    pub cluster: FakeCluster,
    /// More clusters the function provisions too (`CLUSTER_NAME` lists them after `cluster`).
    pub more_clusters: Vec<FakeCluster>,
    pub eks: FakeEks,
    pub cognito: FakeCognito,
    pub runtime: FakeRuntimeApi,
    /// The runtime API of the sweep function (`FUNCTION_ROLE=sweep`), a function of its own.
    pub sweep_runtime: FakeRuntimeApi,
}

impl LocalStack {
    pub async fn start(config: FakeClusterConfig) -> LocalStack {
        let cluster = FakeCluster::start(config).await;
        let eks = FakeEks::for_cluster(&cluster).await;
        let config = cluster.config();
        let cognito = FakeCognito::start(
            &config.region,
            vec![
                Caller {
                    access_key_id: config.credentials.access_key_id.clone(),
                    role: "kubeflow-profile-manager-FunctionRole".into(),
                    allowed: TRIGGER_POOL_ACTIONS.to_vec(),
                },
                Caller {
                    access_key_id: config.sweep_credentials.access_key_id.clone(),
                    role: "kubeflow-profile-manager-SweepRole".into(),
                    allowed: SWEEP_POOL_ACTIONS.to_vec(),
                },
            ],
        )
        .await;
        // The app client Kubeflow's hosted UI signs federated users in through, set up safely:
        // the mapped attributes writable (federation needs it), no self-service scope.
        cognito.add_client(
            LOCAL_USER_POOL,
            serde_json::json!({"ClientId": "kubeflowhostedui0001", "ClientName": "kubeflow",
                "WriteAttributes": ["custom:groups", "email"],
                "AllowedOAuthScopes": ["openid", "email", "profile"],
                "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"],
                "SupportedIdentityProviders": ["ADFS"]}),
        );
        let runtime = FakeRuntimeApi::start().await;
        let sweep_runtime = FakeRuntimeApi::start().await;
        LocalStack {
            cluster,
            more_clusters: Vec::new(),
            eks,
            cognito,
            runtime,
            sweep_runtime,
        }
    }

    /// Starts another cluster, `name` in `region`, like the first (same credentials, flavour
    /// and clock), that EKS describes and the function provisions too.
    pub async fn add_cluster(&mut self, name: &str, region: &str) -> &FakeCluster {
        let mut config = self.cluster.config().clone();
        config.cluster_name = name.to_owned();
        config.region = region.to_owned();
        let cluster = FakeCluster::start(config).await;
        self.eks.add_cluster(&cluster);
        self.more_clusters.push(cluster);
        self.more_clusters.last().expect("just pushed")
    }

    /// Every cluster: the first, then the added ones.
    pub fn clusters(&self) -> impl Iterator<Item = &FakeCluster> {
        std::iter::once(&self.cluster).chain(&self.more_clusters)
    }

    /// `CLUSTER_NAME` for every cluster, `region/name` for those outside the first's region.
    fn cluster_names(&self) -> String {
        let home = &self.cluster.config().region;
        self.clusters()
            .map(|c| {
                let config = c.config();
                if config.region == *home {
                    config.cluster_name.clone()
                } else {
                    format!("{}/{}", config.region, config.cluster_name)
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The environment Lambda and the deployment would give the function, pointed at the fakes.
    pub fn function_env(&self) -> Vec<(String, String)> {
        let config = self.cluster.config();
        let credentials = &config.credentials;
        let mut env = vec![
            ("AWS_LAMBDA_RUNTIME_API", self.runtime.address()),
            (
                "AWS_LAMBDA_FUNCTION_NAME",
                "kubeflow-profile-manager".into(),
            ),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_REGION", config.region.clone()),
            ("AWS_ACCESS_KEY_ID", credentials.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY",
                credentials.secret_access_key.clone(),
            ),
            ("AWS_ENDPOINT_URL_EKS", self.eks.endpoint_url()),
            (
                "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
                self.cognito.endpoint_url(),
            ),
            ("USER_POOL_ID", LOCAL_USER_POOL.into()),
            ("CLUSTER_NAME", self.cluster_names()),
            // The fake cluster has no other tenants' groups to keep out.
            ("ALLOW_ALL_GROUPS", "true".into()),
            // The machine's CA store must play no part: the cluster CA is not in it.
            ("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt".into()),
        ];
        if let Some(token) = &credentials.session_token {
            env.push(("AWS_SESSION_TOKEN", token.clone()));
        }
        env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// Starts `binary` with a clean environment: `function_env` plus `extra` (which wins).
    pub fn spawn_function(&self, binary: &Path, extra: &[(&str, &str)], quiet: bool) -> Child {
        let mut command = self.function_command(binary, extra);
        if quiet {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
        command.spawn().expect("start the function binary")
    }

    /// Starts `binary` as the stack's sweep function: `FUNCTION_ROLE=sweep`, on
    /// [`LocalStack::sweep_runtime`], as template.yaml deploys it.
    pub fn spawn_sweep_function(
        &self,
        binary: &Path,
        given: &[(&str, &str)],
        quiet: bool,
    ) -> Child {
        let address = self.sweep_runtime.address();
        let credentials = &self.cluster.config().sweep_credentials;
        let token = credentials.session_token.clone().unwrap_or_default();
        // Its own role: its own credentials, its own access entry and Kubernetes group.
        let mut extra = vec![
            ("FUNCTION_ROLE", "sweep"),
            ("AWS_LAMBDA_RUNTIME_API", address.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", "kubeflow-profile-manager-sweep"),
            ("AWS_ACCESS_KEY_ID", credentials.access_key_id.as_str()),
            (
                "AWS_SECRET_ACCESS_KEY",
                credentials.secret_access_key.as_str(),
            ),
            ("AWS_SESSION_TOKEN", token.as_str()),
        ];
        extra.extend_from_slice(given);
        self.spawn_function(binary, &extra, quiet)
    }

    /// [`LocalStack::spawn_function`] with its standard output and error piped to the caller,
    /// who reads what the function logged.
    pub fn spawn_function_capturing(&self, binary: &Path, extra: &[(&str, &str)]) -> Child {
        let mut command = self.function_command(binary, extra);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        command.spawn().expect("start the function binary")
    }

    fn function_command(&self, binary: &Path, extra: &[(&str, &str)]) -> Command {
        let mut command = Command::new(binary);
        command.env_clear().kill_on_drop(true).stdin(Stdio::null());
        for (key, value) in allow_list_yields(self.function_env(), extra) {
            command.env(key, value);
        }
        for (key, value) in extra {
            command.env(key, value);
        }
        command
    }
}

/// Stops `child` and waits until it has exited. A function dropped without this is killed
/// but may still be exiting; its open poll for the next invocation can then be handed the next
/// event, which is lost with it. Stop a function this way before starting another on the same
/// runtime.
pub async fn stop(mut child: Child) {
    let _ = child.kill().await;
}

/// Stops `child` and returns everything it wrote to its standard output and error.
pub async fn stop_and_collect_output(mut child: Child) -> String {
    let _ = child.start_kill();
    match child.wait_with_output().await {
        Ok(output) => {
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr)
        }
        Err(e) => panic!("could not collect the function's output: {e}"),
    }
}

/// `env` without its `ALLOW_ALL_GROUPS` when `extra` names a `GROUP_PREFIX`: the function
/// takes exactly one allow-list, and the caller's wins.
pub fn allow_list_yields(
    env: Vec<(String, String)>,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let prefix_given = extra
        .iter()
        .any(|(k, v)| *k == "GROUP_PREFIX" && !v.is_empty());
    env.into_iter()
        .filter(|(k, _)| !(prefix_given && k == "ALLOW_ALL_GROUPS"))
        .collect()
}

/// Waits for `child` to exit, at most `timeout`.
pub async fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    tokio::time::timeout(timeout, child.wait()).await.ok()?.ok()
}
