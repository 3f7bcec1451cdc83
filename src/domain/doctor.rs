//! The doctor: an invocation that checks a deployed function before its first real sign-in
//! and changes nothing. Its request (shape below), the permissions it asks the API server
//! about, and the report it answers with. Pure. (The user pool's app clients are checked by
//! `make pool-check`, with the operator's credentials: describing a client returns its secret,
//! which no function that parses Cognito events may read.)
//!
//! The request is a JSON object whose `kubeflow-profile-manager` member names the command;
//! Cognito's events never carry that member:
//!
//! ```json
//! {"kubeflow-profile-manager": "doctor",
//!  "email": "jane@corp.example", "groups": ["KF-TEAM-A"], "userName": "jane",
//!  "sub": "…"}
//! ```
//!
//! Every member but the command is optional: without `email` no sign-in is previewed. The
//! router ([`crate::domain::router`]) tells it from the other invocations.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::config::{Config, Role};
use crate::domain::model::objects::Kind;
/// The doctor's request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DoctorRequest {
    /// The person whose sign-in to preview.
    pub email: Option<String>,
    /// Their AD groups, exact names.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Their Cognito user name (`adfs_ad\jane`); the email's local part when absent.
    pub user_name: Option<String>,
    /// Their Cognito `sub`; looked up from their existing access when absent.
    pub sub: Option<String>,
}

impl DoctorRequest {
    /// A federated (hosted UI) sign-in event of the person, as Cognito would send it, so that the
    /// preview goes through the same admission as a real sign-in. `None` without an email.
    pub fn preview_event(&self, groups_claim: &str, sub: &str) -> Option<String> {
        let email = self.email.as_deref()?;
        let user_name = self
            .user_name
            .clone()
            .unwrap_or_else(|| email.split('@').next().unwrap_or(email).to_owned());
        let mut attributes = json!({
            "sub": sub,
            "email": email,
            "identities": json!([{"providerName": "doctor", "providerType": "SAML"}]).to_string(),
        });
        attributes[groups_claim] = json!(serde_json::to_string(&self.groups).unwrap_or_default());
        Some(
            json!({"version": "1", "triggerSource": "TokenGeneration_HostedAuth",
                   "userName": user_name, "request": {"userAttributes": attributes}})
            .to_string(),
        )
    }
}

/// One line of the report: what was checked, and either what was found or the problem and its
/// fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

impl Finding {
    pub fn ok(check: impl Into<String>, detail: impl Into<String>) -> Self {
        Finding {
            check: check.into(),
            ok: true,
            detail: detail.into(),
        }
    }

    pub fn problem(check: impl Into<String>, detail: impl Into<String>) -> Self {
        Finding {
            check: check.into(),
            ok: false,
            detail: detail.into(),
        }
    }
}

/// The doctor's answer. On the wire (JSON) it carries `ok` (no finding is a problem), the
/// `findings`, and `text`: the same as lines for a terminal, which `make doctor` and
/// `kfpm-local doctor` print as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorReport {
    pub findings: Vec<Finding>,
}

impl DoctorReport {
    pub fn new(findings: Vec<Finding>) -> Self {
        DoctorReport { findings }
    }

    /// True when no finding is a problem.
    pub fn ok(&self) -> bool {
        self.findings.iter().all(|f| f.ok)
    }

    /// The report as lines for a terminal: `ok` or `PROBLEM`, the check, what was found.
    pub fn text(&self) -> String {
        self.findings
            .iter()
            .map(|f| {
                format!(
                    "{:<8} {}: {}\n",
                    if f.ok { "ok" } else { "PROBLEM" },
                    f.check,
                    f.detail
                )
            })
            .collect()
    }
}

impl Serialize for DoctorReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            ok: bool,
            findings: &'a [Finding],
            text: String,
        }
        Wire {
            ok: self.ok(),
            findings: &self.findings,
            text: self.text(),
        }
        .serialize(serializer)
    }
}

/// One thing the function does to the API server, as a SelfSubjectAccessReview asks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub group: &'static str,
    pub resource: &'static str,
    pub verb: &'static str,
    pub name: Option<String>,
}

impl Permission {
    pub fn describe(&self) -> String {
        let resource = if self.group.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}.{}", self.resource, self.group)
        };
        match &self.name {
            Some(name) => format!("{} {resource} {name}", self.verb),
            None => format!("{} {resource}", self.verb),
        }
    }
}

/// Every permission a sign-in may use on this cluster: Profiles, namespaces, RoleBindings and
/// `twins` (the Istio kinds it writes or still has objects of), and `bind` on the ClusterRoles
/// of `roles`; plus the doctor's own `get` on them.
pub fn required_permissions(twins: &[Kind], roles: &[Role]) -> Vec<Permission> {
    let verbs = |kind: Kind, verbs: &[&'static str]| -> Vec<Permission> {
        verbs
            .iter()
            .map(|verb| Permission {
                group: kind.group(),
                resource: kind.plural(),
                verb,
                name: None,
            })
            .collect()
    };
    let crud = ["get", "list", "create", "patch", "delete"];
    let mut permissions = verbs(Kind::Profile, &["get", "list", "create", "patch"]);
    permissions.extend(verbs(Kind::Namespace, &["get", "list", "create"]));
    permissions.extend(verbs(Kind::RoleBinding, &crud));
    for twin in twins {
        permissions.extend(verbs(*twin, &crud));
    }
    for role in roles {
        let role = format!("kubeflow-{}", role.as_str());
        for verb in ["bind", "get"] {
            permissions.push(Permission {
                group: "rbac.authorization.k8s.io",
                resource: "clusterroles",
                verb,
                name: Some(role.clone()),
            });
        }
    }
    permissions
}

/// What the doctor says of the group Profiles `recorded` (name and recorded AD group) when role
/// suffixes are configured: each team whose recorded group ends in a suffix stays its own team
/// (its exact group wins over the suffix), so its members get `USER_ROLE` there, and never the
/// suffix's role in the team the suffix would name. An operator reads the list before turning
/// suffixes on, or after, to see which teams they leave alone.
pub fn suffix_findings(recorded: &[(String, String)], config: &Config) -> Vec<Finding> {
    if config.sign_in.role_suffixes.is_empty() {
        return Vec::new();
    }
    let kept: Vec<Finding> = recorded
        .iter()
        .filter_map(|(profile, group)| {
            let (team, role) = config.sign_in.team_and_role(group);
            (team != group.as_str()).then(|| {
                Finding::ok(
                    format!("team {profile}"),
                    format!(
                        "records the group {group:?}, which ends in a role suffix: it stays its own team (the exact group wins), its members get {} here, not {} in the team {team:?}",
                        config.sign_in.user_role.as_str(),
                        role.as_str()
                    ),
                )
            })
        })
        .collect();
    if kept.is_empty() {
        vec![Finding::ok(
            "role suffixes",
            "no group Profile records a group ending in a role suffix",
        )]
    } else {
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::test_config;

    #[test]
    fn the_preview_is_a_federated_sign_in_with_the_groups_as_sent() {
        let request = DoctorRequest {
            email: Some("jane@corp.example".into()),
            groups: vec!["KF-A".into(), "Data Science".into()],
            ..DoctorRequest::default()
        };
        let raw = request.preview_event("custom:groups", "sub-1").unwrap();
        let event = crate::domain::sign_in::event::TokenEvent::parse(&raw).unwrap();
        assert!(event.is_federated_sign_in());
        assert_eq!(event.short_user_name(), "jane");
        let config = test_config(&[("ALLOW_ALL_GROUPS", "true")]);
        let (identity, mode) =
            crate::domain::sign_in::admission::admit(&event, &config.sign_in).unwrap();
        assert_eq!(mode, crate::domain::sign_in::admission::Mode::Grant);
        assert_eq!(identity.groups, ["KF-A", "Data Science"]);
        assert_eq!(identity.sub, "sub-1");
        assert!(
            DoctorRequest::default()
                .preview_event("custom:groups", "s")
                .is_none()
        );
    }

    #[test]
    fn the_permissions_follow_the_twins_and_the_role() {
        let current = required_permissions(&[Kind::AuthorizationPolicy], &[Role::Edit]);
        let described: Vec<String> = current.iter().map(Permission::describe).collect();
        assert!(described.contains(&"create authorizationpolicies.security.istio.io".to_owned()));
        assert!(
            described
                .contains(&"bind clusterroles.rbac.authorization.k8s.io kubeflow-edit".to_owned())
        );
        assert!(described.contains(&"create namespaces".to_owned()));
        assert!(!described.iter().any(|d| d.contains("servicerolebindings")));
        let old = required_permissions(&[Kind::ServiceRoleBinding], &[Role::View]);
        assert!(
            old.iter()
                .any(|p| p.resource == "servicerolebindings" && p.verb == "delete")
        );
        assert!(
            old.iter()
                .any(|p| p.name.as_deref() == Some("kubeflow-view"))
        );
    }

    #[test]
    fn the_teams_a_role_suffix_would_have_moved_are_named() {
        let config = crate::domain::config::test_config(&[
            ("GROUP_ROLE_SUFFIXES", "-admin=admin"),
            ("ALLOW_ADMIN_ROLE", "true"),
        ]);
        let recorded = vec![
            ("kf-ops-admin".to_owned(), "KF-OPS-ADMIN".to_owned()),
            ("kf-ml".to_owned(), "KF-ML".to_owned()),
        ];
        let found = suffix_findings(&recorded, &config);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].check, "team kf-ops-admin");
        assert!(
            found[0].detail.contains("not admin in the team \"KF-OPS\""),
            "{}",
            found[0].detail
        );
        let none = suffix_findings(&recorded[1..], &config);
        assert_eq!(none[0].check, "role suffixes");
        let off = crate::domain::config::test_config(&[]);
        assert!(suffix_findings(&recorded, &off).is_empty());
    }

    #[test]
    fn the_text_marks_each_problem() {
        let report = DoctorReport::new(vec![
            Finding::ok("cluster", "described"),
            Finding::problem("token", "refused. Fix: map the role"),
        ]);
        assert!(!report.ok());
        let text = "ok       cluster: described\nPROBLEM  token: refused. Fix: map the role\n";
        assert_eq!(report.text(), text);
        let wire = serde_json::to_value(&report).unwrap();
        assert_eq!(wire["ok"], false);
        assert_eq!(wire["text"], text);
        assert_eq!(wire["findings"][1]["check"], "token");
        assert!(DoctorReport::new(vec![Finding::ok("a", "b")]).ok());
    }
}
