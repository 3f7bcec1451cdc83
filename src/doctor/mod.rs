//! The doctor (request and report in [`crate::domain::doctor`]): what a deployed function can
//! check of its cluster, its permissions and its user pool before the first real sign-in, and a
//! preview of one person's sign-in as server-side dry runs. It writes nothing. I/O.

mod preview;
mod teams;

use std::time::Duration;

use tokio::time::Instant;

use crate::app::App;
use crate::app::budget::{Budget, TimeRule, none};
use crate::app::clusters::ClusterSession;
use crate::domain::config::{AllowedGroups, Role};
use crate::domain::doctor::{
    DoctorReport, DoctorRequest, Finding, Permission, required_permissions, suffix_findings,
};
use crate::domain::model::mesh;
use crate::domain::model::names::KfamNaming;
use crate::domain::model::objects::Kind;
use crate::domain::sign_in::conventions::{ClusterFacts, Conventions};
use crate::error::Error;
use crate::kubernetes::inspect::{
    ADMISSION_POLICIES, admission_policy_enforced, cluster_role_exists, our_namespaces, profiles,
    recorded_groups, review_permissions,
};
use crate::kubernetes::observe::discover;
use crate::kubernetes::policy::RequestPolicy;

/// The longest the doctor takes.
const DOCTOR_BUDGET: Duration = Duration::from_secs(5);
/// Kept back from Lambda's deadline to send the report.
const REPORT_MARGIN: Duration = Duration::from_millis(300);
/// The doctor's use of Lambda's time.
const DOCTOR_TIME: TimeRule = TimeRule {
    at_most: Some(DOCTOR_BUDGET),
    when_unknown: DOCTOR_BUDGET.saturating_add(REPORT_MARGIN),
    answer_margin: |_| REPORT_MARGIN,
    finish_margin: none,
};

/// A finding for a failed step: the error's causes, then its fix when one is known.
fn problem(check: &str, error: &Error) -> Finding {
    Finding::problem(check, error.with_fix())
}

fn kube_problem(check: &str, action: &'static str, target: &str, source: kube::Error) -> Finding {
    problem(check, &Error::kubernetes(action, target, source))
}

impl App {
    /// Runs every check; `remaining` is the time Lambda still allows.
    pub async fn doctor(
        &self,
        request: &DoctorRequest,
        remaining: Option<Duration>,
    ) -> DoctorReport {
        let budget = Budget::new(Instant::now(), remaining, DOCTOR_TIME);
        let deadline = budget.deadline;
        let out_of_time = || {
            problem(
                "time",
                &Error::TimeBudget {
                    budget_ms: budget.length().as_millis(),
                },
            )
        };
        let several = self.clusters.len() > 1;
        // Every cluster at once; with several, each finding names its cluster.
        let per_cluster = self
            .on_every_cluster(|cluster| async {
                let mut found = Vec::new();
                let checks = self.diagnose(cluster, request, deadline, &mut found);
                if tokio::time::timeout_at(deadline, checks).await.is_err() {
                    found.push(out_of_time());
                }
                if several {
                    for finding in &mut found {
                        finding.check = format!("{} {}", cluster.label(), finding.check);
                    }
                }
                found
            })
            .await;
        let mut findings = vec![self.configuration_finding()];
        findings.extend(per_cluster.into_iter().flatten());
        let report = DoctorReport::new(findings);
        tracing::info!(
            ok = report.ok(),
            problems = report.findings.iter().filter(|f| !f.ok).count(),
            "doctor"
        );
        report
    }

    fn configuration_finding(&self) -> Finding {
        let config = &self.config;
        let groups = match &config.sign_in.allowed_groups {
            AllowedGroups::Prefix(prefix) => format!("groups starting with {prefix}"),
            AllowedGroups::All => "all groups (ALLOW_ALL_GROUPS)".to_owned(),
        };
        let suffixes: Vec<String> = config
            .sign_in
            .role_suffixes
            .iter()
            .map(|s| format!(" ({}: {})", s.suffix, s.role.as_str()))
            .collect();
        Finding::ok(
            "configuration",
            format!(
                "clusters {} (function in {}); {groups} become namespaces with role {}{}; FAIL_MODE={}, DRY_RUN={}, TRUST_STORED_GROUPS={}",
                self.clusters
                    .iter()
                    .map(|c| c.label())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.region,
                config.sign_in.user_role.as_str(),
                suffixes.join(""),
                config.clusters.fail_mode.describe(),
                config.dry_run,
                config.sign_in.trust_stored_groups
            ),
        )
    }

    /// The checks of one cluster, pushed to `findings` as they are made.
    async fn diagnose(
        &self,
        cluster: &ClusterSession,
        request: &DoctorRequest,
        deadline: Instant,
        findings: &mut Vec<Finding>,
    ) {
        let Some(client) = connect(cluster, deadline, findings).await else {
            return;
        };
        let Some(facts) = self.access_findings(&client, findings).await else {
            return;
        };
        let Some(mut facts) = facts else { return };
        let conventions = match self.learn_conventions(&client, &mut facts).await {
            Ok(conventions) => conventions,
            Err(finding) => return findings.push(finding),
        };
        findings.push(conventions_finding(&facts, &conventions));
        if !self.config.sign_in.role_suffixes.is_empty() {
            match recorded_groups(&client, &self.config.sign_in.group_profile_owner).await {
                Ok(recorded) => findings.extend(suffix_findings(&recorded, &self.config)),
                Err(error) => {
                    findings.push(kube_problem("role suffixes", "list", "Profiles", error))
                }
            }
        }
        findings.extend(mesh_findings(&client, &conventions).await);
        findings.extend(self.agent_finding(cluster).await);
        if request.email.is_some() {
            findings.extend(self.preview(cluster, &client, facts, request).await);
        }
    }

    /// Whether the token is accepted, the permissions, the ClusterRoles and the admission
    /// policies; `None` when the token is refused, else what the cluster says about itself
    /// (when it could be read).
    async fn access_findings(
        &self,
        client: &kube::Client,
        findings: &mut Vec<Finding>,
    ) -> Option<Option<ClusterFacts>> {
        // Every permission any cluster shape needs, asked at once; the answers also show
        // whether the token is accepted (a SelfSubjectAccessReview needs only authentication).
        let all_twins = [Kind::AuthorizationPolicy, Kind::ServiceRoleBinding];
        let permissions = required_permissions(&all_twins, &self.config.sign_in.roles());
        let (answers, facts) =
            futures::join!(review_permissions(client, &permissions), discover(client));
        let mut answers = answers;
        let unauthorized = answers
            .iter()
            .position(|a| matches!(a, Err(kube::Error::Api(s)) if s.code == 401));
        if let Some(Err(refused)) = unauthorized.map(|i| answers.swap_remove(i)) {
            findings.push(kube_problem(
                "token",
                "review",
                "SelfSubjectAccessReview",
                refused,
            ));
            return None;
        }
        findings.push(Finding::ok(
            "token",
            "the API server accepts the function's token",
        ));
        let facts = facts
            .map_err(|error| findings.push(problem("conventions", &error)))
            .ok();
        let twins = facts
            .as_ref()
            .and_then(|f| f.twins(self.config.istio.authz).ok())
            .map(|(twins, _)| twins);
        let used: Vec<Kind> = match (&facts, &twins) {
            (Some(facts), Some(twins)) => facts.binding_kinds(twins),
            _ => all_twins.to_vec(),
        };
        findings.extend(permission_findings(&permissions, answers, &used));
        findings.extend(self.cluster_role_findings(client).await);
        findings.push(admission_finding(client).await);
        Some(facts)
    }

    async fn cluster_role_findings(&self, client: &kube::Client) -> Vec<Finding> {
        let mut roles = vec!["kubeflow-edit", "kubeflow-view"];
        if self.config.sign_in.roles().contains(&Role::Admin) {
            roles.push("kubeflow-admin");
        }
        let found =
            futures::future::join_all(roles.iter().map(|r| cluster_role_exists(client, r))).await;
        roles
            .iter()
            .zip(found)
            .map(|(role, found)| {
                let check = format!("ClusterRole {role}");
                match found {
                    Ok(true) => Finding::ok(check, "present"),
                    Ok(false) => Finding::problem(
                        check,
                        "missing: Kubeflow installs it with its kubeflow-roles component (common/kubeflow-roles in kubeflow/manifests); RoleBindings to it grant nothing until it exists",
                    ),
                    Err(error) => kube_problem(&check, "read", &format!("ClusterRole {role}"), error),
                }
            })
            .collect()
    }

    /// Completes `facts` with the owner of the Profile whose owner object they were learnt from,
    /// and returns the conventions a sign-in would use.
    async fn learn_conventions(
        &self,
        client: &kube::Client,
        facts: &mut ClusterFacts,
    ) -> Result<Conventions, Finding> {
        let (twins, skipped) = facts
            .twins(self.config.istio.authz)
            .map_err(|e| Finding::problem("conventions", format!("{e}")))?;
        if !skipped.is_empty() {
            return Err(Finding::problem(
                "conventions",
                format!(
                    "ISTIO_AUTHZ names {skipped:?}, which the cluster does not serve; set ISTIO_AUTHZ=auto"
                ),
            ));
        }
        let names = facts.owner_namespaces();
        let found = profiles(client, &names)
            .await
            .map_err(|e| kube_problem("conventions", "read", "the owner's Profile", e))?;
        facts.learn_owner(&found.into_iter().map(|p| (p.name.clone(), p)).collect());
        Ok(facts.conventions(twins, &self.config))
    }
}

/// The cluster described and a client under a token, each found; `None` when either fails.
async fn connect(
    cluster: &ClusterSession,
    deadline: Instant,
    findings: &mut Vec<Finding>,
) -> Option<kube::Client> {
    match cluster.info().await {
        Ok(info) => findings.push(Finding::ok(
            "cluster",
            format!(
                "EKS describes {} (in {}) with the endpoint {}",
                cluster.target.name,
                cluster.region(),
                info.endpoint
            ),
        )),
        Err(error) => {
            findings.push(problem("cluster", &error));
            return None;
        }
    };
    match cluster
        .client(RequestPolicy::for_sign_in(deadline), false)
        .await
    {
        Ok(client) => Some(client),
        Err(error) => {
            findings.push(problem("token", &error));
            None
        }
    }
}

/// The mesh labels of the namespaces this function made (at most 500 read): one line per
/// namespace outside the mesh, unreachable, or chosen otherwise; one line when all are fine.
async fn mesh_findings(client: &kube::Client, conventions: &Conventions) -> Vec<Finding> {
    const CHECK: &str = "mesh";
    let namespaces = match our_namespaces(client).await {
        Ok(namespaces) => namespaces,
        Err(error) => return vec![kube_problem(CHECK, "list", "Namespace list", error)],
    };
    let mut findings: Vec<Finding> = mesh::territory_report(&namespaces, &conventions.mesh_labels)
        .into_iter()
        .map(|(ok, detail)| Finding {
            check: CHECK.into(),
            ok,
            detail,
        })
        .collect();
    if findings.iter().all(|f| f.ok) {
        let count = namespaces.len();
        let all_in = format!("the {count} namespaces this function made are in the mesh");
        findings.insert(0, Finding::ok(CHECK, all_in));
    }
    findings
}

/// One line per permission the sign-in needs that is not granted (or could not be asked), or
/// one line saying all are; permissions on Istio kinds the cluster does not use are not needed.
fn permission_findings(
    permissions: &[Permission],
    answers: Vec<Result<bool, kube::Error>>,
    used: &[Kind],
) -> Vec<Finding> {
    let needed = |p: &Permission| {
        [Kind::AuthorizationPolicy, Kind::ServiceRoleBinding]
            .iter()
            .all(|k| p.resource != k.plural() || used.contains(k))
    };
    let mut granted = 0;
    let mut findings = Vec::new();
    for (permission, answer) in permissions.iter().zip(answers).filter(|(p, _)| needed(p)) {
        match answer {
            Ok(true) => granted += 1,
            Ok(false) => findings.push(Finding::problem(
                "permission",
                format!(
                    "{} is not granted. Fix: apply deploy/rbac.yaml for the stack's KubernetesGroup (make -s rbac | kubectl apply -f -; it grants exactly what the function needs), and check that the access entry maps the role to that group",
                    permission.describe()
                ),
            )),
            Err(error) => findings.push(kube_problem(
                "permission",
                "review",
                &permission.describe(),
                error,
            )),
        }
    }
    if findings.is_empty() {
        findings.push(Finding::ok(
            "permissions",
            format!(
                "all {granted} granted (SelfSubjectAccessReview as the function's own identity)"
            ),
        ));
    }
    findings
}

/// What the cluster showed of its conventions, and where they come from.
/// Whether deploy/admission.yaml's policies are enforced. The function is safe without them;
/// with them, the API server itself refuses what a tenant or a stolen function token could
/// write (README, Security).
async fn admission_finding(client: &kube::Client) -> Finding {
    let check = "admission policies";
    let found = futures::future::join_all(
        ADMISSION_POLICIES
            .iter()
            .map(|name| admission_policy_enforced(client, name)),
    )
    .await;
    let mut missing = Vec::new();
    for (name, enforced) in ADMISSION_POLICIES.iter().zip(found) {
        match enforced {
            Ok(true) => {}
            Ok(false) => missing.push(*name),
            Err(kube::Error::Api(status)) if status.code == 404 => missing.push(*name),
            Err(error) => {
                return kube_problem(check, "read", "the ValidatingAdmissionPolicies", error);
            }
        }
    }
    if missing.is_empty() {
        Finding::ok(
            check,
            format!("{} enforced (Deny)", ADMISSION_POLICIES.join(", ")),
        )
    } else {
        Finding::problem(
            check,
            format!(
                "{} not enforced: namespace admins can forge or change what this function writes, which it then ignores or repairs. Fix: make -s admission | kubectl apply -f - (Kubernetes 1.30 and later)",
                missing.join(", ")
            ),
        )
    }
}

fn conventions_finding(facts: &ClusterFacts, conventions: &Conventions) -> Finding {
    let source = if facts.has_shown_its_conventions() {
        "learnt from the profile controller's owner objects"
    } else {
        "no Profile namespace yet: Kubeflow >= 1.8's defaults until one exists"
    };
    let twins: Vec<&str> = conventions.twins.iter().map(|k| k.name()).collect();
    let principals = match &conventions.principals {
        Some(list) => list.join(", "),
        None => "any (no from)".to_owned(),
    };
    let naming = match conventions.naming {
        KfamNaming::Current => "Kubeflow >= 1.3",
        KfamNaming::Kubeflow12 => "Kubeflow 1.2",
    };
    Finding::ok(
        "conventions",
        format!(
            "{source}: Istio twins {}; userid header {} with prefix {:?}; principals {principals}; KFAM names of {naming}",
            if twins.is_empty() {
                "none".to_owned()
            } else {
                twins.join(", ")
            },
            conventions.userid_header,
            conventions.userid_prefix,
        ),
    )
}
