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
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{Value, json};
use tokio_rustls::TlsAcceptor;

use crate::Clock;
use crate::istio::Dataplane;
use crate::rbac::{PolicyRule, Rbac, UserInfo, allows, may_bind};
use crate::serve::{Answer, Connections, answer, spawn_counted_server};
use crate::sigv4::{TestCredentials, verify_token};
use crate::store::{
    AUTHORIZATION_POLICIES, ApiError, CLUSTER_ROLES, LEASES, NAMESPACES, PROFILES, Page,
    ROLEBINDINGS, Resource, SERVICE_ROLE_BINDINGS, Store, Target, VALIDATING_ADMISSION_POLICIES,
    VALIDATING_ADMISSION_POLICY_BINDINGS,
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
    pub admission: Option<crate::admission::Admission>,
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
            admission: Some(crate::admission::Admission::project()),
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

    fn served(&self) -> Vec<Resource> {
        let mut served = vec![
            NAMESPACES,
            ROLEBINDINGS,
            CLUSTER_ROLES,
            LEASES,
            VALIDATING_ADMISSION_POLICIES,
            VALIDATING_ADMISSION_POLICY_BINDINGS,
            PROFILES,
            AUTHORIZATION_POLICIES,
        ];
        if self.config.flavor.serves_istio_rbac() {
            served.push(SERVICE_ROLE_BINDINGS);
        }
        served
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

    /// Creates an object as an administrator would (`kubectl create`), validation included.
    pub fn seed(&self, body: Value) {
        self.seed_at(body, (self.shared.config.clock)());
    }

    /// [`FakeCluster::seed`] at the time `created` (its `creationTimestamp`): an object made
    /// long ago.
    pub fn seed_at(&self, body: Value, created: SystemTime) {
        let resource = resource_of(body["kind"].as_str().unwrap_or("")).expect("a served kind");
        let api_version = body["apiVersion"].as_str().unwrap_or("");
        let version = api_version.rsplit('/').next().unwrap_or("v1");
        let version = resource
            .versions
            .iter()
            .find(|v| **v == version)
            .copied()
            .expect("a served version");
        let namespace = body
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut state = self.shared.lock();
        state.store.set_now(rfc3339(created));
        let target = Target {
            resource,
            version,
            namespace: namespace.as_deref(),
        };
        state
            .store
            .create(&target, body, "kubectl-create")
            .expect("seed object is valid");
        state.store.set_now(rfc3339((self.shared.config.clock)()));
    }

    /// Replaces (or creates) an object as `kubectl replace --force` would: what was there goes.
    pub fn replace(&self, body: Value) {
        let kind = body["kind"].as_str().unwrap_or("").to_owned();
        let namespace = body
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let name = body
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if self.get(&kind, namespace.as_deref(), &name).is_some() {
            self.delete(&kind, namespace.as_deref(), &name);
        }
        self.seed(body);
    }

    /// Seeds a Profile and lets the profile controller react at once.
    pub fn seed_profile(&self, name: &str, owner: &str) {
        self.seed_profile_with(name, owner, json!({}));
    }

    /// Seeds a group Profile as an administrator makes one for the AD group `group` (recording
    /// the group, as the README documents), and lets the profile controller react at once.
    pub fn seed_group_profile(&self, name: &str, owner: &str, group: &str) {
        self.seed_profile_with(
            name,
            owner,
            json!({"kubeflow-profile-manager/group": group}),
        );
    }

    /// Sets an annotation as `kubectl annotate` does (an update by its own field manager).
    pub fn annotate(
        &self,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        key: &str,
        value: &str,
    ) {
        let resource = resource_of(kind).expect("a served kind");
        self.update_as("kubectl-annotate", &resource, namespace, name, |object| {
            object["metadata"]["annotations"][key] = json!(value);
        });
    }

    /// Sets a namespace's labels as `kubectl label namespace NAME KEY=VALUE ...` does (an update
    /// by its own field manager).
    pub fn label_namespace(&self, name: &str, labels: &[(&str, &str)]) {
        self.update_as("kubectl-label", &NAMESPACES, None, name, |object| {
            for (key, value) in labels {
                object["metadata"]["labels"][*key] = json!(value);
            }
        });
    }

    /// Reads the stored object, lets `change` edit it, and stores it as an update by `manager`.
    fn update_as(
        &self,
        manager: &str,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        change: impl FnOnce(&mut Value),
    ) {
        let mut state = self.shared.lock();
        state.store.set_now(rfc3339((self.shared.config.clock)()));
        let mut object = state
            .store
            .raw(resource, namespace, name)
            .cloned()
            .expect("the object exists");
        change(&mut object);
        state
            .store
            .controller_update(resource, namespace, name, object, manager);
    }

    /// Creates `body` as `user` does with kubectl: through admission, with the user assumed to
    /// hold the RBAC rights (a tenant with kubeflow-admin in their namespace).
    pub fn create_as(&self, user: &UserInfo, body: Value) -> Result<Value, ApiError> {
        let kind = body["kind"].as_str().unwrap_or("").to_owned();
        let namespace = body
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_owned);
        self.as_user(user, &kind, namespace.as_deref(), |store, target| {
            store.create(target, body, "kubectl-create")
        })
    }

    /// Changes an object as `user` does with `kubectl edit` (an update, through admission).
    pub fn update_as_user(
        &self,
        user: &UserInfo,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        change: impl FnOnce(&mut Value),
    ) -> Result<Value, ApiError> {
        self.as_user(user, kind, namespace, |store, target| {
            let mut object = store.get(target, name)?;
            change(&mut object);
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("managedFields");
            }
            store.update(target, name, object, "kubectl-edit")
        })
    }

    /// Deletes an object as `user` does with `kubectl delete` (through admission).
    pub fn delete_as(
        &self,
        user: &UserInfo,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        self.as_user(user, kind, namespace, |store, target| {
            store.delete(target, name, &json!({}))
        })
    }

    /// Runs `write` on the store, on objects of `kind` in `namespace`, as a request of `user`.
    fn as_user<T>(
        &self,
        user: &UserInfo,
        kind: &str,
        namespace: Option<&str>,
        write: impl FnOnce(&mut Store, &Target) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let resource = resource_of(kind).expect("a served kind");
        let target = Target {
            resource,
            version: resource.versions[0],
            namespace,
        };
        let mut state = self.shared.lock();
        state.store.set_now(rfc3339((self.shared.config.clock)()));
        state.store.set_caller(Some(user.clone()), false);
        let result = write(&mut state.store, &target);
        state.store.set_caller(None, false);
        result
    }

    /// Deletes an object as `kubectl delete` does (background propagation: the garbage
    /// collector then deletes what it owned).
    pub fn delete(&self, kind: &str, namespace: Option<&str>, name: &str) {
        let resource = resource_of(kind).expect("a served kind");
        let mut state = self.shared.lock();
        state.store.set_now(rfc3339((self.shared.config.clock)()));
        let target = Target {
            resource,
            version: resource.versions[0],
            namespace,
        };
        state
            .store
            .delete(&target, name, &json!({}))
            .expect("the object exists");
    }

    /// Starts deleting namespace `name` (it stays Terminating and takes no new content).
    pub fn terminate_namespace(&self, name: &str) {
        let mut state = self.shared.lock();
        state.store.set_now(rfc3339((self.shared.config.clock)()));
        state.store.terminate_namespace(name);
    }

    /// Would this flavour's Istio let `request` into namespace `namespace`'s workloads?
    pub fn istio_admits(&self, namespace: &str, request: &crate::istio::Request) -> bool {
        let in_namespace = |kind: &str| -> Vec<Value> {
            self.all(kind)
                .into_iter()
                .filter(|o| o["metadata"]["namespace"] == namespace)
                .collect()
        };
        let policies = in_namespace("AuthorizationPolicy");
        let plane = self.dataplane(namespace);
        match self.shared.config.flavor {
            Flavor::Kubeflow12 if policies.is_empty() && plane == Dataplane::Sidecar => {
                crate::istio::service_role_bindings_allow(
                    &in_namespace("ServiceRoleBinding"),
                    request,
                )
            }
            _ => crate::istio::workload_admits(&plane, &policies, namespace, request),
        }
    }

    /// The data plane of `namespace`'s workloads, from its labels (see [`crate::istio`]).
    pub fn dataplane(&self, namespace: &str) -> Dataplane {
        let labels = self
            .get("Namespace", None, namespace)
            .map(|ns| ns["metadata"]["labels"].clone())
            .unwrap_or_default();
        let state = self.shared.lock();
        crate::istio::dataplane(&labels, namespace, |waypoint| {
            state
                .store
                .waypoints
                .contains(&(namespace.to_owned(), waypoint.to_owned()))
        })
    }

    /// Deploys a ready waypoint Gateway `name` in `namespace`, as an operator would
    /// (`istioctl waypoint apply`).
    pub fn add_waypoint(&self, namespace: &str, name: &str) {
        self.shared
            .lock()
            .store
            .waypoints
            .insert((namespace.to_owned(), name.to_owned()));
    }

    /// True when a notebook started in `namespace` now would be protected by the mesh: it gets
    /// a sidecar, or ambient with a waypoint to enforce header rules.
    pub fn workloads_are_protected(&self, namespace: &str) -> bool {
        matches!(
            self.dataplane(namespace),
            Dataplane::Sidecar | Dataplane::Ambient { waypoint: Some(_) }
        )
    }

    /// Would `email`'s request, made by the Pipelines UI on their behalf, get into `namespace`?
    pub fn admits_through_kfp_ui(&self, namespace: &str, email: &str) -> bool {
        let config = &self.shared.config;
        let request = crate::istio::Request::through_gateway(
            KFP_UI_PRINCIPAL,
            &config.userid_header,
            &format!("{}{email}", config.userid_prefix),
        );
        self.istio_admits(namespace, &request)
    }

    /// Would a person with userid `email` get into `namespace` through the ingress gateway?
    pub fn admits_user(&self, namespace: &str, email: &str) -> bool {
        let config = &self.shared.config;
        let request = crate::istio::Request::through_gateway(
            &config.gateway_principal,
            &config.userid_header,
            &format!("{}{email}", config.userid_prefix),
        );
        self.istio_admits(namespace, &request)
    }

    /// Lets the profile controller react at once to the Profile `name` (seeded by hand).
    pub fn reconcile(&self, name: &str) {
        reconcile_as_controller(&mut self.shared.lock().store, name, &self.shared.config);
    }

    fn seed_profile_with(&self, name: &str, owner: &str, annotations: Value) {
        self.seed(json!({"apiVersion": "kubeflow.org/v1", "kind": "Profile",
                         "metadata": {"name": name, "annotations": annotations},
                         "spec": {"owner": {"kind": "User", "name": owner}}}));
        self.reconcile(name);
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

    /// The negotiated protocol of every TLS connection accepted so far (`h2`, `http/1.1`).
    pub fn connections(&self) -> Vec<String> {
        self.connections.protocols()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        let mut state = self.shared.lock();
        state.requests.clear();
        state.max_in_flight = state.in_flight;
    }

    /// The most requests in progress at once since the start or the last `clear_requests`.
    pub fn max_in_flight(&self) -> usize {
        self.shared.lock().max_in_flight
    }

    /// Why the last refused tokens were refused.
    pub fn rejected_tokens(&self) -> Vec<String> {
        self.shared.lock().rejected_tokens.clone()
    }

    /// The next `times` requests (of `method`, or any) meet `fault`.
    pub fn inject(&self, fault: Fault, times: usize, method: Option<Method>) {
        let mut state = self.shared.lock();
        for _ in 0..times {
            state.faults.push_back((fault.clone(), method.clone()));
        }
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
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

/// The aggregated ClusterRoles Kubeflow's `kubeflow-roles` component installs (their rules
/// aggregate from labelled roles; only their names matter here).
fn seed_kubeflow_roles(store: &mut Store) {
    let target = Target {
        resource: CLUSTER_ROLES,
        version: "v1",
        namespace: None,
    };
    for role in ["kubeflow-admin", "kubeflow-edit", "kubeflow-view"] {
        let body = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": role, "labels": {"app.kubernetes.io/component": "kubeflow-roles"}},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {
                format!("rbac.kubeflow.org/aggregate-to-{role}"): "true"}}]},
            "rules": []});
        store
            .create(&target, body, "kustomize")
            .expect("a valid ClusterRole");
    }
}

/// The namespaces `kubectl apply -f deploy/rbac.yaml` creates (the function's records).
fn seed_project_namespaces(store: &mut Store) {
    let target = Target {
        resource: NAMESPACES,
        version: "v1",
        namespace: None,
    };
    for document in serde_norway::Deserializer::from_str(include_str!("../../deploy/rbac.yaml")) {
        let Ok(body) = <Value as serde::Deserialize>::deserialize(document) else {
            continue;
        };
        if body["kind"] == "Namespace" {
            store
                .create(&target, body, "kubectl-client-side-apply")
                .expect("deploy/rbac.yaml's namespace is valid");
        }
    }
}

/// The policies and bindings `kubectl apply -f deploy/admission.yaml` creates (what they
/// enforce is `config.admission`).
fn seed_admission_policies(store: &mut Store) {
    for document in
        serde_norway::Deserializer::from_str(include_str!("../../deploy/admission.yaml"))
    {
        let Ok(body) = <Value as serde::Deserialize>::deserialize(document) else {
            continue;
        };
        let Some(resource) = resource_of(body["kind"].as_str().unwrap_or("")) else {
            continue;
        };
        let target = Target {
            resource,
            version: "v1",
            namespace: None,
        };
        store
            .create(&target, body, "kubectl-client-side-apply")
            .expect("deploy/admission.yaml's objects are valid");
    }
}

pub fn resource_of(kind: &str) -> Option<Resource> {
    [
        NAMESPACES,
        ROLEBINDINGS,
        CLUSTER_ROLES,
        LEASES,
        VALIDATING_ADMISSION_POLICIES,
        VALIDATING_ADMISSION_POLICY_BINDINGS,
        PROFILES,
        AUTHORIZATION_POLICIES,
        SERVICE_ROLE_BINDINGS,
    ]
    .into_iter()
    .find(|r| r.kind == kind)
}

/// Counts a request as in progress for as long as it lives.
struct InFlight(Arc<Shared>);

impl InFlight {
    fn enter(shared: &Arc<Shared>) -> InFlight {
        let mut state = shared.lock();
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        InFlight(shared.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().in_flight -= 1;
    }
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Answer, std::io::Error> {
    let _in_flight = InFlight::enter(&shared);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let headers = request.headers().clone();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();

    let (latency, fault) = {
        let mut state = shared.lock();
        let position = state
            .faults
            .iter()
            .position(|(_, m)| m.as_ref().is_none_or(|m| *m == method));
        (
            state.latency,
            position
                .and_then(|i| state.faults.remove(i))
                .map(|(f, _)| f),
        )
    };
    tokio::time::sleep(latency).await;
    let record_sized = |status: u16, response_bytes: usize| {
        shared.lock().requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            status,
            response_bytes,
        });
    };
    let record = |status: u16| record_sized(status, 0);
    match fault {
        Some(Fault::Hang) => {
            record(0);
            tokio::time::sleep(Duration::from_secs(600)).await;
            return Err(std::io::Error::other("hung"));
        }
        Some(Fault::Reset) => {
            record(0);
            return Err(std::io::Error::other("connection reset by the fake"));
        }
        Some(Fault::Status { code, retry_after }) => {
            record(code);
            let reason = if code == 429 {
                "TooManyRequests"
            } else {
                "InternalError"
            };
            let mut status = ApiError::new(code, reason, "injected fault").to_status();
            let mut answer = Response::builder()
                .status(code)
                .header("content-type", "application/json");
            if let Some(seconds) = retry_after {
                status["details"] = json!({"retryAfterSeconds": seconds});
                answer = answer.header("retry-after", seconds.to_string());
            }
            return Ok(answer
                .body(Full::new(Bytes::from(status.to_string())))
                .expect("static response parts"));
        }
        None => {}
    }

    let now = (shared.config.clock)();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let verdict = match token {
        None => Err("no bearer token".to_owned()),
        Some(token) => shared.config.authenticate(token, now),
    };
    let user = match verdict {
        Ok(user) => user,
        Err(reason) => {
            record(401);
            shared.lock().rejected_tokens.push(reason);
            return Ok(json_answer(
                401,
                &ApiError::new(401, "Unauthorized", "Unauthorized").to_status(),
            ));
        }
    };

    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let answer = route(
        &shared,
        &user,
        &method,
        &path,
        &query,
        &content_type,
        &body,
        now,
    );
    let (status, answer) = match answer {
        Ok((status, value)) => (status, json_answer(status, &value)),
        Err(Reply::Api(error)) => (error.code, json_answer(error.code, &error.to_status())),
        Err(Reply::NotFoundPage) => (404, text_answer(404, "404 page not found\n")),
    };
    record_sized(
        status,
        hyper::body::Body::size_hint(answer.body())
            .exact()
            .unwrap_or(0) as usize,
    );
    Ok(answer)
}

enum Reply {
    Api(ApiError),
    /// A path no API serves: the real server answers in plain text.
    NotFoundPage,
}

impl From<ApiError> for Reply {
    fn from(error: ApiError) -> Self {
        Reply::Api(error)
    }
}

fn discovery(shared: &Shared, path: &[&str]) -> Option<Value> {
    let served = shared.served();
    let group_versions = |group: &str| -> Vec<&'static str> {
        let mut versions: Vec<&'static str> = Vec::new();
        for r in served.iter().filter(|r| r.group == group) {
            for v in shared.versions_of(r) {
                if !versions.contains(v) {
                    versions.push(v);
                }
            }
        }
        versions
    };
    let resource_list = |group: &str, version: &str| {
        let resources: Vec<Value> = served
            .iter()
            .filter(|r| r.group == group && shared.versions_of(r).contains(&version))
            .map(|r| json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                            "kind": r.kind, "verbs": ["create","delete","get","list","patch","update","watch"]}))
            .collect();
        let group_version = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
    };
    match path {
        ["version"] => Some(
            json!({"major": "1", "minor": "33", "gitVersion": "v1.33.5-eks-fake", "platform": "linux/amd64"}),
        ),
        ["api"] => Some(json!({"kind": "APIVersions", "versions": ["v1"],
                               "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}]})),
        ["api", "v1"] => Some(resource_list("", "v1")),
        ["apis"] => {
            let mut groups: Vec<&str> = served
                .iter()
                .map(|r| r.group)
                .filter(|g| !g.is_empty())
                .collect();
            groups.dedup();
            let groups: Vec<Value> = groups
                .into_iter()
                .map(|g| {
                    let versions: Vec<Value> = group_versions(g)
                        .iter()
                        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                        .collect();
                    json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
                })
                .collect();
            Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        ["apis", group, version] if group_versions(group).contains(version) => {
            Some(resource_list(group, version))
        }
        _ => None,
    }
}

fn resolve(shared: &Shared, segments: &[&str]) -> Option<Route> {
    let (group, version, rest) = match segments {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let find = |plural: &str| {
        shared.served().into_iter().find(|r| {
            r.group == group && r.plural == plural && shared.versions_of(r).contains(&version)
        })
    };
    let version_of = |r: &Resource| {
        shared
            .versions_of(r)
            .iter()
            .find(|v| **v == version)
            .copied()
    };
    let route = |resource: Resource, namespace: Option<&str>, name: Option<&str>| {
        Some(Route {
            version: version_of(&resource)?,
            resource,
            namespace: namespace.map(str::to_owned),
            name: name.map(str::to_owned),
        })
    };
    match rest {
        ["namespaces", ns, plural] => find(plural)
            .filter(|r| r.namespaced)
            .and_then(|r| route(r, Some(ns), None)),
        ["namespaces", ns, plural, name] => find(plural)
            .filter(|r| r.namespaced)
            .and_then(|r| route(r, Some(ns), Some(name))),
        [plural] => find(plural).and_then(|r| route(r, None, None)),
        [plural, name] => find(plural)
            .filter(|r| !r.namespaced)
            .and_then(|r| route(r, None, Some(name))),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn route(
    shared: &Arc<Shared>,
    user: &UserInfo,
    method: &Method,
    path: &str,
    query: &str,
    content_type: &str,
    body: &[u8],
    now: SystemTime,
) -> Result<(u16, Value), Reply> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if *method == Method::GET
        && let Some(document) = discovery(shared, &segments)
    {
        return Ok((200, document));
    }
    if segments
        == [
            "apis",
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
        ]
    {
        return self_subject_access_review(shared.config.rbac.as_ref(), user, method, body);
    }
    let route = resolve(shared, &segments).ok_or(Reply::NotFoundPage)?;
    if let Some(rbac) = &shared.config.rbac {
        let rules = rbac.rules_for(user, route.namespace.as_deref());
        // The escalation check judges the binding as it would be after the write: a patch
        // that leaves roleRef out keeps the stored one.
        let stored_role_ref = route.name.as_deref().and_then(|name| {
            shared
                .lock()
                .store
                .raw(&route.resource, route.namespace.as_deref(), name)
                .map(|stored| stored["roleRef"].clone())
        });
        authorize(&rules, user, method, &route, body, stored_role_ref)?;
    }
    let dry_run = match query_param(query, "dryRun").as_deref() {
        None => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::new(
                400,
                "BadRequest",
                format!("unsupported dryRun value {other:?}"),
            )
            .into());
        }
    };
    let field_manager = query_param(query, "fieldManager");
    if let Some(manager) = &field_manager
        && (manager.len() > 128 || manager.chars().any(|c| c.is_control()))
    {
        return Err(ApiError::new(422, "Invalid", "fieldManager: Invalid value").into());
    }
    let force = match query_param(query, "force").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::new(400, "BadRequest", "invalid force value").into()),
    };
    let parse_body = || -> Result<Value, Reply> {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::new(400, "BadRequest", format!("the body is not JSON: {e}")).into()
        })
    };
    let target = Target {
        resource: route.resource,
        version: route.version,
        namespace: route.namespace.as_deref(),
    };
    let mut state = shared.lock();
    state.store.set_now(rfc3339(now));
    let mut scratch;
    let store: &mut Store = if dry_run {
        scratch = state.store.clone();
        &mut scratch
    } else {
        &mut state.store
    };
    let manager = field_manager.as_deref().unwrap_or("unknown");
    // Admission sees who writes (the store then forgets it: its own writes are not requests).
    store.set_caller(Some(user.clone()), dry_run);
    let outcome: Result<(u16, Value), ApiError> = match (method.clone(), route.name.as_deref()) {
        (Method::GET, None) => paged_list(store, &target, query).map(|v| (200, v)),
        (Method::POST, None) if target.resource.namespaced == target.namespace.is_some() => {
            let created = store
                .create(&target, parse_body()?, manager)
                .map(|v| (201, v));
            if created.is_ok() && !dry_run && target.resource.kind == "Profile" {
                schedule_profile_controller(
                    shared,
                    &created.as_ref().map(|(_, v)| v.clone()).unwrap_or_default(),
                );
            }
            created
        }
        (Method::GET, Some(name)) => store.get(&target, name).map(|v| (200, v)),
        (Method::PUT, Some(name)) => store
            .update(&target, name, parse_body()?, manager)
            .map(|v| (200, v)),
        (Method::PATCH, Some(name)) if content_type.starts_with("application/apply-patch+yaml") => {
            let applied = store.apply(
                &target,
                name,
                parse_body()?,
                field_manager.as_deref(),
                force,
            );
            if let Ok((object, true)) = &applied
                && !dry_run
                && target.resource.kind == "Profile"
            {
                schedule_profile_controller(shared, object);
            }
            applied.map(|(v, created)| (if created { 201 } else { 200 }, v))
        }
        (Method::PATCH, Some(name)) if content_type.starts_with("application/merge-patch+json") => {
            store
                .merge_patch(&target, name, parse_body()?, manager)
                .map(|v| (200, v))
        }
        (Method::PATCH, Some(_)) => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the fake serves apply and merge patches only, not {content_type:?}"),
        )),
        (Method::DELETE, Some(name)) => {
            let options = if body.is_empty() {
                json!({})
            } else {
                parse_body()?
            };
            store.delete(&target, name, &options).map(|v| (200, v))
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not allowed here"),
        )),
    };
    store.set_caller(None, false);
    outcome.map_err(Reply::from)
}

/// A list as the API server pages it: `limit` items (all without one) after the item a
/// `continue` token names, in key order (namespace, name), and a `continue` token while more
/// remain.
fn paged_list(store: &Store, target: &Target, query: &str) -> Result<Value, ApiError> {
    let limit = match query_param(query, "limit") {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(_) => {
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    format!("invalid limit {text:?}"),
                ));
            }
        },
    };
    let token = query_param(query, "continue").filter(|t| !t.is_empty());
    let after = match &token {
        None => None,
        Some(token) => Some(
            token
                .strip_prefix(CONTINUE_PREFIX)
                .and_then(|k| k.split_once('/'))
                .ok_or_else(|| {
                    ApiError::new(
                        400,
                        "BadRequest",
                        "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
                    )
                })?,
        ),
    };
    let page = (limit.is_some() || after.is_some()).then_some(Page {
        limit: limit.unwrap_or(usize::MAX),
        after,
    });
    let (mut list, last) = store.list(
        target,
        query_param(query, "labelSelector").as_deref(),
        query_param(query, "fieldSelector").as_deref(),
        page,
    )?;
    if let Some((namespace, name)) = last {
        list["metadata"]["continue"] = json!(format!("{CONTINUE_PREFIX}{namespace}/{name}"));
    }
    Ok(list)
}

/// The fake's continue tokens: this, then the key of the last item returned.
const CONTINUE_PREFIX: &str = "fake-continue-after:";

/// RBAC: the verb on the resource, and `bind` on the role a RoleBinding write references.
fn authorize(
    rules: &[PolicyRule],
    user: &UserInfo,
    method: &Method,
    route: &Route,
    body: &[u8],
    stored_role_ref: Option<Value>,
) -> Result<(), Reply> {
    let verb = match (method.as_str(), route.name.is_some()) {
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        _ => return Ok(()),
    };
    let resource = &route.resource;
    let group = resource.group;
    let place = route
        .namespace
        .as_deref()
        .map(|ns| format!(" in the namespace \"{ns}\""))
        .unwrap_or_default();
    let forbidden = |why: String| -> Reply {
        let qualified = if group.is_empty() {
            resource.plural.to_owned()
        } else {
            format!("{}.{group}", resource.plural)
        };
        ApiError::new(403, "Forbidden", format!("{qualified} is forbidden: {why}")).into()
    };
    if !allows(rules, group, resource.plural, verb, route.name.as_deref()) {
        return Err(forbidden(format!(
            "User \"{}\" cannot {verb} resource \"{}\" in API group \"{group}\"{place}",
            user.username, resource.plural
        )));
    }
    if resource.kind == "RoleBinding" && matches!(verb, "create" | "update" | "patch") {
        let mut binding: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if binding.get("roleRef").is_none()
            && binding.is_object()
            && let Some(stored) = stored_role_ref
        {
            binding["roleRef"] = stored;
        }
        if !may_bind(rules, &binding) {
            return Err(forbidden(format!(
                "User \"{}\" is attempting to grant RBAC permissions not currently held (no bind on {})",
                user.username,
                binding.pointer("/roleRef/name").unwrap_or(&Value::Null)
            )));
        }
    }
    Ok(())
}

/// `POST selfsubjectaccessreviews`, which every authenticated user may make
/// (`system:basic-user`): would the caller's RBAC (`None`: cluster-admin) allow the resource
/// attributes asked about? Validated as the real server does: exactly one of
/// `resourceAttributes` and `nonResourceAttributes`, and a verb.
fn self_subject_access_review(
    rbac: Option<&Rbac>,
    user: &UserInfo,
    method: &Method,
    body: &[u8],
) -> Result<(u16, Value), Reply> {
    if *method != Method::POST {
        return Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not allowed here"),
        )
        .into());
    }
    let mut review: Value = serde_json::from_slice(body).map_err(|e| {
        Reply::from(ApiError::new(
            400,
            "BadRequest",
            format!("the body is not JSON: {e}"),
        ))
    })?;
    if review["kind"] != "SelfSubjectAccessReview"
        || review["apiVersion"] != "authorization.k8s.io/v1"
    {
        return Err(ApiError::new(
            400,
            "BadRequest",
            "the body is not an authorization.k8s.io/v1 SelfSubjectAccessReview",
        )
        .into());
    }
    let spec = &review["spec"];
    let attributes = match (
        spec.get("resourceAttributes"),
        spec.get("nonResourceAttributes"),
    ) {
        (Some(attributes), None) => attributes.clone(),
        _ => {
            return Err(ApiError::new(
                422,
                "Invalid",
                "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
            .into());
        }
    };
    let text = |key: &str| attributes[key].as_str().unwrap_or("").to_owned();
    if text("verb").is_empty() {
        return Err(ApiError::new(
            422,
            "Invalid",
            "spec.resourceAttributes.verb: Required value",
        )
        .into());
    }
    let name = text("name");
    let namespace = text("namespace");
    let allowed = rbac.is_none_or(|rbac| {
        let rules = rbac.rules_for(user, (!namespace.is_empty()).then_some(namespace.as_str()));
        allows(
            &rules,
            &text("group"),
            &text("resource"),
            &text("verb"),
            (!name.is_empty()).then_some(name.as_str()),
        )
    });
    review["status"] = if allowed {
        json!({"allowed": true, "reason": "RBAC: allowed by the caller's bindings"})
    } else {
        json!({"allowed": false})
    };
    Ok((201, review))
}

/// Runs the profile controller for `profile` after the configured delay.
fn schedule_profile_controller(shared: &Arc<Shared>, profile: &Value) {
    let Some(name) = profile.pointer("/metadata/name").and_then(Value::as_str) else {
        return;
    };
    let name = name.to_owned();
    let shared = shared.clone();
    shared.controller_runs.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        tokio::time::sleep(shared.config.controller_delay).await;
        reconcile_as_controller(&mut shared.lock().store, &name, &shared.config);
        shared.controller_runs.fetch_sub(1, Ordering::SeqCst);
    });
}

const CONTROLLER: &str = "profile-controller";

/// Who the profile controller is to the API server: the ServiceAccount kubeflow/manifests
/// v1.10.2 runs it (and KFAM) as (`applications/profiles/upstream/overlays/kubeflow/patches/
/// kfam.yaml`, `manager/service-account.yaml`, `namePrefix: profiles-`).
pub fn profile_controller_identity() -> UserInfo {
    UserInfo::new(
        "system:serviceaccount:kubeflow:profiles-controller-service-account",
        &[
            "system:serviceaccounts",
            "system:serviceaccounts:kubeflow",
            "system:authenticated",
        ],
    )
}

/// [`reconcile_profile`] as the profile controller's own identity: its writes go through
/// admission like anyone's.
fn reconcile_as_controller(store: &mut Store, name: &str, config: &FakeClusterConfig) {
    store.set_caller(Some(profile_controller_identity()), false);
    reconcile_profile(store, name, config);
    store.set_caller(None, false);
}

/// What Kubeflow's profile controller does for a Profile: create (owning it) or adopt (labels
/// only, when its `owner` annotation matches) its namespace, bind the owner as namespace admin,
/// and give the owner Istio access as the flavour's controller does.
pub fn reconcile_profile(store: &mut Store, name: &str, config: &FakeClusterConfig) {
    let Some(profile) = store.raw(&PROFILES, None, name).cloned() else {
        return;
    };
    let owner = profile
        .pointer("/spec/owner/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let namespaces = Target {
        resource: NAMESPACES,
        version: "v1",
        namespace: None,
    };
    match store.raw(&NAMESPACES, None, name).cloned() {
        None => {
            // kubeflow/kubeflow v1.10.0 (= kubeflow/dashboard v2.0.0)
            // components/profile-controller/controllers/profile_controller.go, Reconcile: a
            // namespace it creates gets the `owner` annotation and `istio-injection: enabled`
            // (lines 127-136), the ConfigMap's labels (137) and its controller ownerReference,
            // `controller` and `blockOwnerDeletion` true (139; controller-runtime v0.12.1
            // controllerutil.go 74-81). PR #267 starts from no label instead and sets the mesh's.
            let owner_reference = json!([{"apiVersion": "kubeflow.org/v1", "kind": "Profile",
                "name": name, "uid": profile["metadata"]["uid"], "controller": true,
                "blockOwnerDeletion": true}]);
            let mut labels = match config.flavor {
                Flavor::AmbientWithWaypoint => json!({}),
                _ => json!({"istio-injection": "enabled"}),
            };
            set_namespace_labels(&mut labels);
            let mut namespace = json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "annotations": {"owner": owner}, "labels": labels,
                             "ownerReferences": owner_reference}});
            set_mesh_labels(&mut namespace, name, config.flavor);
            if config.flavor == Flavor::AmbientWithoutWaypoint {
                // The manual switch of manifests v1.11.0's CI (istio_validation.yaml lines
                // 140-144), done once to the namespace the controller made, never to one it
                // adopts.
                if let Some(labels) = namespace["metadata"]["labels"].as_object_mut() {
                    labels.remove("istio-injection");
                }
                namespace["metadata"]["labels"]["istio.io/dataplane-mode"] = json!("ambient");
            }
            if store.create(&namespaces, namespace, CONTROLLER).is_err() {
                return;
            }
        }
        Some(existing)
            if existing
                .pointer("/metadata/annotations/owner")
                .and_then(Value::as_str)
                == Some(&owner) =>
        {
            // The same file, lines 175-190: an existing namespace whose `owner` matches gets the
            // ConfigMap's labels only (`setNamespaceLabels`), never `istio-injection` and never
            // an ownerReference. PR #267 (line 188) also forces its mesh labels there.
            let mut adopted = existing.clone();
            if !adopted["metadata"]["labels"].is_object() {
                adopted["metadata"]["labels"] = json!({});
            }
            set_namespace_labels(&mut adopted["metadata"]["labels"]);
            set_mesh_labels(&mut adopted, name, config.flavor);
            if adopted != existing {
                store.controller_update(&NAMESPACES, None, name, adopted, CONTROLLER);
            }
        }
        Some(_) => {
            let mut failed = profile.clone();
            failed["status"] = json!({"conditions": [{"type": "Failed", "status": "True",
                "message": format!("namespace already exist, but not owned by profile creator {owner}")}]});
            store.controller_update(&PROFILES, None, name, failed, CONTROLLER);
            return;
        }
    }
    let bindings = Target {
        resource: ROLEBINDINGS,
        version: "v1",
        namespace: Some(name),
    };
    let admin = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "namespaceAdmin", "namespace": name, "annotations": {"role": "admin", "user": owner}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": owner}]});
    let _ = store.create(&bindings, admin, CONTROLLER);
    let (target, owner_access) = owner_istio_access(name, &owner, config);
    let _ = store.create(&target, owner_access, CONTROLLER);
    if config.flavor == Flavor::AmbientWithWaypoint {
        // PR #267 `createWaypoint` with `-create-waypoint` (lines 874-944, called at 217).
        store
            .waypoints
            .insert((name.to_owned(), WAYPOINT.to_owned()));
        // PR #267 `updateL4AuthorizationPolicy` (lines 947-1006): the waypoint's traffic is let
        // through ztunnel; its principal is the waypoint's ServiceAccount, named as the Gateway.
        let l4 = json!({"apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "waypoint-l4-access", "namespace": name},
            "spec": {"action": "ALLOW", "rules": [{"from": [{"source": {"principals": [
                format!("cluster.local/ns/{name}/sa/{WAYPOINT}")]}}]}]}});
        let _ = store.create(&target, l4, CONTROLLER);
    }
}

/// The labels of the profile controller's namespace-labels ConfigMap (kubeflow/manifests v1.10.2
/// and v1.11.0 `applications/profiles/upstream/base/namespace-labels.yaml`, lines 15-18): no
/// `istio-injection` among them.
const CONFIGMAP_LABELS: [(&str, &str); 4] = [
    ("katib.kubeflow.org/metrics-collector-injection", "enabled"),
    ("serving.kubeflow.org/inferenceservice", "enabled"),
    ("pipelines.kubeflow.org/enabled", "true"),
    ("app.kubernetes.io/part-of", "kubeflow-profile"),
];

/// The waypoint PR #267 names by default (`-waypoint-name`, main.go line 88).
pub const WAYPOINT: &str = "waypoint";

/// `setNamespaceLabels` (profile_controller.go v1.10.0 lines 754-773): each ConfigMap label is
/// added when its key is absent, never overwritten (an empty value would remove the key).
fn set_namespace_labels(labels: &mut Value) {
    for (key, value) in CONFIGMAP_LABELS {
        if labels.get(key).is_none() {
            labels[key] = json!(value);
        }
    }
}

/// The mesh labels a flavour's controller forces on a Profile namespace, created or adopted:
/// PR #267 `setNamespaceLabelsAndServiceMesh` (lines 833-844, called at 142 and 188) in ambient
/// mode; nothing for the v1.10.0 controller.
fn set_mesh_labels(namespace: &mut Value, name: &str, flavor: Flavor) {
    let labels = &mut namespace["metadata"]["labels"];
    if flavor == Flavor::AmbientWithWaypoint {
        labels["istio-injection"] = json!("disabled");
        labels["istio.io/dataplane-mode"] = json!("ambient");
        labels["istio.io/use-waypoint"] = json!(WAYPOINT);
        labels["istio.io/use-waypoint-namespace"] = json!(name);
        labels["istio.io/ingress-use-waypoint"] = json!("true");
    }
}

/// The owner's Istio access the flavour's profile controller writes in namespace `ns`
/// (kubeflow/kubeflow `components/profile-controller`: `ns-owner-access-istio` from 1.3, its
/// user rule with `from` principals from 1.8; `owner-binding-istio` in 1.2).
fn owner_istio_access<'a>(
    ns: &'a str,
    owner: &str,
    config: &FakeClusterConfig,
) -> (Target<'a>, Value) {
    let key = format!("request.headers[{}]", config.userid_header);
    let value = format!("{}{owner}", config.userid_prefix);
    if config.flavor == Flavor::Kubeflow12 {
        let binding = json!({"apiVersion": "rbac.istio.io/v1alpha1", "kind": "ServiceRoleBinding",
            "metadata": {"name": "owner-binding-istio", "namespace": ns, "annotations": {"role": "admin", "user": owner}},
            "spec": {"roleRef": {"kind": "ServiceRole", "name": "ns-access-istio"},
                     "subjects": [{"properties": {key: value}}, {"properties": {"source.namespace": ns}}]}});
        let target = Target {
            resource: SERVICE_ROLE_BINDINGS,
            version: "v1alpha1",
            namespace: Some(ns),
        };
        return (target, binding);
    }
    let mut user_rule = json!({"when": [{"key": key, "values": [value]}]});
    if config.flavor != Flavor::Kubeflow13To17 {
        user_rule["from"] =
            json!([{"source": {"principals": [config.gateway_principal, KFP_UI_PRINCIPAL]}}]);
    }
    // profile_controller.go v1.10.0 `getAuthorizationPolicy` (lines 432-503), annotations
    // `user` and `role: admin` (512-519); PR #267 adds `targetRefs` to the waypoint in ambient
    // mode (547-557), with no selector.
    let mut policy = json!({"apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
    "metadata": {"name": "ns-owner-access-istio", "namespace": ns,
                 "annotations": {"user": owner, "role": "admin"}},
    "spec": {"action": "ALLOW", "rules": [
        user_rule,
        {"when": [{"key": "source.namespace", "values": [ns]}]},
        {"to": [{"operation": {"paths": ["/healthz", "/metrics", "/wait-for-drain"]}}]},
        {"from": [{"source": {"principals": ["cluster.local/ns/kubeflow/sa/notebook-controller-service-account"]}}],
         "to": [{"operation": {"methods": ["GET"], "paths": ["*/api/kernels"]}}]},
    ]}});
    if config.flavor == Flavor::AmbientWithWaypoint {
        policy["spec"]["targetRefs"] = json!([{"kind": "Gateway",
            "group": "gateway.networking.k8s.io", "name": WAYPOINT}]);
    }
    let target = Target {
        resource: AUTHORIZATION_POLICIES,
        version: "v1beta1",
        namespace: Some(ns),
    };
    (target, policy)
}
