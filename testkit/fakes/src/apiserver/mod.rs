//! A loopback HTTPS Kubernetes API server as strict as the real one where this project touches
//! it: its own CA; bearer tokens verified as aws-iam-authenticator does; discovery; the
//! object store of `store`; a simulated Kubeflow profile controller; latency and fault injection.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{Value, json};
use tokio_rustls::TlsAcceptor;

use crate::Clock;
use crate::apiserver::rbac::{PolicyRule, Rbac, UserInfo, allows, may_bind};
use crate::eks::sigv4::{TestCredentials, verify_token};
use crate::istio::Dataplane;
use crate::serve::{Answer, Connections, answer, spawn_counted_server};
pub mod admission;
mod authorisation;
mod discovery;
mod manifests;
mod mesh;
mod observation;
mod profile_controller;
pub mod rbac;
mod router;
mod tenants;

use authorisation::{authorize, self_subject_access_review};
use discovery::discovery;
use manifests::{seed_admission_policies, seed_kubeflow_roles, seed_project_namespaces};
pub use profile_controller::{WAYPOINT, profile_controller_identity, reconcile_profile};
use profile_controller::{reconcile_as_controller, schedule_profile_controller};
use router::{Reply, handle};

use crate::store::{
    AUTHORIZATION_POLICIES, ApiError, CLUSTER_ROLES, LEASES, LIMITRANGES, NAMESPACES, PODDEFAULTS,
    PROFILES, Page, ROLEBINDINGS, Resource, SERVICE_ROLE_BINDINGS, Store, Target,
    VALIDATING_ADMISSION_POLICIES, VALIDATING_ADMISSION_POLICY_BINDINGS,
};
use crate::tls::cluster_tls;

/// Which Kubeflow generation the fake cluster runs, as its profile controller and Istio behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Kubeflow >= 1.8: the owner's `ns-owner-access-istio` AuthorizationPolicy trusts the
    /// userid header from the gateway and KFP UI principals; Istio serves `security.istio.io`.
    Current,
    /// Kubeflow 1.3 to 1.7: the owner's AuthorizationPolicy has no `from`.
    Kubeflow13To17,
    /// Kubeflow 1.2 on Istio 1.5: `rbac.istio.io/v1alpha1` and `security.istio.io/v1beta1`
    /// served; the owner's `owner-binding-istio` ServiceRoleBinding; Istio RBAC enforced unless
    /// an AuthorizationPolicy applies to the namespace.
    Kubeflow12,
    /// Upgraded from 1.2 to >= 1.8: both APIs still served (CRDs are not removed on upgrade),
    /// only AuthorizationPolicies enforced (Istio >= 1.6 ignores `rbac.istio.io`).
    UpgradedFrom12,
    /// Istio ambient mode with a waypoint per Profile namespace: the profile controller of
    /// kubeflow/dashboard PR #267 (head 5a878ec9; open, in no release: manifests v1.11.0 still
    /// pins the v1.10.0 controller) run with
    /// `-service-mesh-mode=istio-ambient -create-waypoint`: ambient and waypoint labels on every
    /// Profile namespace, the owner policy attached to the waypoint (`targetRefs`), and an L4
    /// policy admitting the waypoint.
    AmbientWithWaypoint,
    /// Kubeflow 1.11's ambient install without a waypoint: the v1.10.0 profile controller
    /// (kubeflow/manifests v1.11.0 pins it), and each Profile namespace switched by hand as
    /// manifests v1.11.0 `.github/workflows/istio_validation.yaml` lines 140-144 do
    /// (`istio-injection-`, `istio.io/dataplane-mode=ambient`).
    AmbientWithoutWaypoint,
}

impl Flavor {
    pub const ALL: [Flavor; 6] = [
        Flavor::Current,
        Flavor::Kubeflow13To17,
        Flavor::Kubeflow12,
        Flavor::UpgradedFrom12,
        Flavor::AmbientWithWaypoint,
        Flavor::AmbientWithoutWaypoint,
    ];

    fn serves_istio_rbac(self) -> bool {
        matches!(self, Flavor::Kubeflow12 | Flavor::UpgradedFrom12)
    }
}

/// The principal of Kubeflow's Istio ingress gateway (`ISTIO_INGRESS_GATEWAY_PRINCIPAL`).
pub const GATEWAY_PRINCIPAL: &str =
    "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";
/// The principal of the Pipelines UI (`KFP_UI_PRINCIPAL`).
pub const KFP_UI_PRINCIPAL: &str = "cluster.local/ns/kubeflow/sa/ml-pipeline-ui";

/// A fault the next matching requests meet, before authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (429 carries `Retry-After`).
    Status { code: u16, retry_after: Option<u64> },
    /// Never answer (the connection stays open).
    Hang,
    /// Close the connection without an answer.
    Reset,
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    /// Bytes of the answer's body.
    pub response_bytes: usize,
}

#[derive(Clone)]
pub struct FakeClusterConfig {
    pub cluster_name: String,
    pub region: String,
    /// The trigger's AWS credentials: its EKS access entry maps them to [`TRIGGER_GROUP`].
    pub credentials: TestCredentials,
    /// The sweep function's: its access entry maps them to [`SWEEP_GROUP`].
    pub sweep_credentials: TestCredentials,
    pub flavor: Flavor,
    /// How long the simulated profile controller takes to react to a new Profile.
    pub controller_delay: Duration,
    /// Added to every answer.
    pub latency: Duration,
    pub clock: Clock,
    /// What the authenticated callers may do; `None`: cluster-admin, whoever they are.
    pub rbac: Option<Rbac>,
    /// The deployment's `userid-header`, `userid-prefix` and ingress gateway principal, as the
    /// profile controller uses them for owners.
    pub userid_header: String,
    pub userid_prefix: String,
    pub gateway_principal: String,
    /// Offer HTTP/2 by ALPN (kube-apiserver does); `false`: an HTTP/1.1-only server.
    pub http2: bool,
    /// The ClusterRoles Kubeflow installs (`kubeflow-admin`, `-edit`, `-view`) exist.
    pub kubeflow_roles: bool,
    /// The namespaces of deploy/rbac.yaml exist (the operator applied it).
    pub project_namespaces: bool,
    /// The ValidatingAdmissionPolicies enforced on every request (`None`: none applied).
    pub admission: Option<crate::apiserver::admission::Admission>,
}

impl FakeClusterConfig {
    pub fn new(clock: Clock) -> Self {
        FakeClusterConfig {
            cluster_name: "kubeflow-test".into(),
            region: "us-east-1".into(),
            credentials: TestCredentials::example(),
            sweep_credentials: TestCredentials::sweep_example(),
            flavor: Flavor::Current,
            controller_delay: Duration::from_millis(300),
            latency: Duration::ZERO,
            clock,
            rbac: Some(Rbac::project()),
            userid_header: "kubeflow-userid".into(),
            userid_prefix: String::new(),
            gateway_principal: GATEWAY_PRINCIPAL.into(),
            http2: true,
            kubeflow_roles: true,
            project_namespaces: true,
            admission: Some(crate::apiserver::admission::Admission::project()),
        }
    }
}

/// The Kubernetes group the stack's access entry gives the trigger's role (template.yaml
/// `KubernetesGroup`, bound by deploy/rbac.yaml).
pub const TRIGGER_GROUP: &str = "kubeflow-profile-manager";
/// The group of the sweep function's role (template.yaml: `KubernetesGroup` + `-sweep`).
pub const SWEEP_GROUP: &str = "kubeflow-profile-manager-sweep";

impl FakeClusterConfig {
    /// Who a bearer token stands for, as EKS maps an IAM role through its access entry
    /// (docs.aws.amazon.com/eks/latest/userguide/access-entries.html: the user name of an IAM
    /// role's entry defaults to `arn:aws:sts::<account>:assumed-role/<role>/{{SessionName}}`,
    /// its groups are the entry's `kubernetesGroups`): the trigger's credentials or the sweep
    /// function's, else the first reason the token is refused.
    pub fn authenticate(&self, token: &str, now: SystemTime) -> Result<UserInfo, String> {
        let identities = [
            (
                &self.credentials,
                "kubeflow-profile-manager-FunctionRole",
                TRIGGER_GROUP,
            ),
            (
                &self.sweep_credentials,
                "kubeflow-profile-manager-SweepRole",
                SWEEP_GROUP,
            ),
        ];
        let mut refusals = Vec::new();
        for (credentials, role, group) in identities {
            match verify_token(token, credentials, &self.region, &self.cluster_name, now) {
                Ok(()) => {
                    let username = format!("arn:aws:sts::111122223333:assumed-role/{role}/session");
                    return Ok(UserInfo::new(&username, &[group, "system:authenticated"]));
                }
                Err(reason) => refusals.push(reason),
            }
        }
        // The refusal of the identity the token names, when it names one.
        let unknown = |r: &String| r.starts_with("unknown access key");
        let named = refusals.iter().position(|r| !unknown(r)).unwrap_or(0);
        Err(refusals.swap_remove(named))
    }
}

struct State {
    store: Store,
    requests: Vec<RecordedRequest>,
    faults: VecDeque<(Fault, Option<Method>)>,
    latency: Duration,
    rejected_tokens: Vec<String>,
    /// Requests being handled now, and the most there ever were at once.
    in_flight: usize,
    max_in_flight: usize,
}

struct Shared {
    config: FakeClusterConfig,
    state: Mutex<State>,
    /// Profile controller runs scheduled and not yet done (the real controller reconciles
    /// asynchronously too; a test that compares the cluster waits for them: `settle`).
    controller_runs: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The resources the flavour serves: every one the fake knows, ServiceRoleBindings only
    /// where Istio's old RBAC API is there.
    fn served(&self) -> Vec<Resource> {
        RESOURCES
            .into_iter()
            .filter(|r| {
                r.kind != SERVICE_ROLE_BINDINGS.kind || self.config.flavor.serves_istio_rbac()
            })
            .collect()
    }

    fn versions_of(&self, resource: &Resource) -> &'static [&'static str] {
        match (self.config.flavor, resource.kind) {
            (Flavor::Kubeflow12 | Flavor::Kubeflow13To17, "AuthorizationPolicy") => &["v1beta1"],
            _ => resource.versions,
        }
    }
}

/// The running fake API server.
pub struct FakeCluster {
    shared: Arc<Shared>,
    address: SocketAddr,
    ca_pem: String,
    connections: Arc<Connections>,
}

fn json_answer(status: u16, body: &Value) -> Answer {
    answer(status, "application/json", body.to_string())
}

fn text_answer(status: u16, text: &str) -> Answer {
    answer(status, "text/plain; charset=utf-8", text.to_owned())
}

/// `time` as the API server writes times (RFC 3339, UTC, to the second).
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// What a route resolved to.
struct Route {
    resource: Resource,
    version: &'static str,
    namespace: Option<String>,
    name: Option<String>,
}

impl FakeCluster {
    /// Starts the server on a free loopback port.
    pub async fn start(config: FakeClusterConfig) -> FakeCluster {
        let tls = cluster_tls(&format!("{} cluster CA", config.cluster_name), config.http2);
        let mut store = Store::default();
        store.set_now(rfc3339((config.clock)()));
        if config.kubeflow_roles {
            seed_kubeflow_roles(&mut store);
        }
        if config.project_namespaces {
            seed_project_namespaces(&mut store);
        }
        if config.admission.is_some() {
            seed_admission_policies(&mut store);
        }
        store.set_admission(config.admission.clone());
        let shared = Arc::new(Shared {
            controller_runs: AtomicUsize::new(0),
            state: Mutex::new(State {
                store,
                requests: Vec::new(),
                faults: VecDeque::new(),
                latency: config.latency,
                rejected_tokens: Vec::new(),
                in_flight: 0,
                max_in_flight: 0,
            }),
            config,
        });
        let server = shared.clone();
        let connections = Arc::new(Connections::default());
        let address = spawn_counted_server(
            Some(TlsAcceptor::from(tls.server_config)),
            Arc::new(move |request| Box::pin(handle(server.clone(), request))),
            connections.clone(),
        )
        .await;
        FakeCluster {
            shared,
            address,
            ca_pem: tls.ca_pem,
            connections,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("https://{}", self.address)
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA as DescribeCluster hands it out: base64 of the PEM.
    pub fn ca_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.ca_pem)
    }

    pub fn config(&self) -> &FakeClusterConfig {
        &self.shared.config
    }

    /// Lets the profile controller react at once to the Profile `name` (seeded by hand).
    pub fn reconcile(&self, name: &str) {
        reconcile_as_controller(&mut self.shared.lock().store, name, &self.shared.config);
    }

    /// An object as stored, by kind name.
    pub fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let resource = resource_of(kind)?;
        self.shared
            .lock()
            .store
            .raw(&resource, namespace, name)
            .cloned()
    }

    /// Every object of a kind, as stored.
    pub fn all(&self, kind: &str) -> Vec<Value> {
        resource_of(kind).map_or_else(Vec::new, |r| self.shared.lock().store.all(&r))
    }

    /// Waits until the profile controller has done every run scheduled so far (at most 30 s).
    pub async fn settle(&self) {
        let started = Instant::now();
        while self.shared.controller_runs.load(Ordering::SeqCst) > 0 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the fake profile controller did not settle within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Every object with its resourceVersion, to tell whether anything changed, once the
    /// profile controller has settled (what it writes later would otherwise count as a change).
    pub async fn versions(&self) -> BTreeMap<String, String> {
        self.settle().await;
        let state = self.shared.lock();
        let mut out = BTreeMap::new();
        for resource in [
            NAMESPACES,
            ROLEBINDINGS,
            LEASES,
            PROFILES,
            AUTHORIZATION_POLICIES,
            SERVICE_ROLE_BINDINGS,
        ] {
            // What the deployment made (deploy/rbac.yaml's namespace) is not the cluster's use.
            let deployed = |object: &Value| {
                resource.kind == "Namespace"
                    && object.pointer("/metadata/labels/app.kubernetes.io~1name")
                        == Some(&json!("kubeflow-profile-manager"))
            };
            for object in state.store.all(&resource).iter().filter(|o| !deployed(o)) {
                let key = format!(
                    "{} {}/{}",
                    resource.kind,
                    object["metadata"]["namespace"].as_str().unwrap_or(""),
                    object["metadata"]["name"].as_str().unwrap_or("")
                );
                out.insert(
                    key,
                    object["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                );
            }
        }
        out
    }

    /// Waits until `check` holds (polling), or panics after `timeout`.
    pub async fn wait_until(&self, timeout: Duration, check: impl Fn(&FakeCluster) -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !check(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "condition not met within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Every resource the fake knows, in the order discovery lists them.
const RESOURCES: [Resource; 11] = [
    NAMESPACES,
    LIMITRANGES,
    ROLEBINDINGS,
    CLUSTER_ROLES,
    LEASES,
    VALIDATING_ADMISSION_POLICIES,
    VALIDATING_ADMISSION_POLICY_BINDINGS,
    PROFILES,
    // Next to PROFILES: discovery's `/apis` merges only adjacent entries of one group.
    PODDEFAULTS,
    AUTHORIZATION_POLICIES,
    SERVICE_ROLE_BINDINGS,
];

pub fn resource_of(kind: &str) -> Option<Resource> {
    RESOURCES.into_iter().find(|r| r.kind == kind)
}
