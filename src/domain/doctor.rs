//! The doctor: an invocation that checks a deployed function before its first real sign-in
//! and changes nothing. Its request (shape below), the permissions it asks the API server
//! about, the judgement of a user pool's app clients, and the report it answers with. Pure.
//!
//! The request is a JSON object whose `kubeflow-profile-manager` member names the command;
//! Cognito's events never carry that member:
//!
//! ```json
//! {"kubeflow-profile-manager": "doctor",
//!  "email": "jane@corp.example", "groups": ["KF-TEAM-A"], "userName": "jane",
//!  "sub": "…", "userPoolId": "eu-west-1_AbCdEf"}
//! ```
//!
//! Every member but the command is optional: without `email` no sign-in is previewed, without
//! `userPoolId` (or `USER_POOL_ID`) no app client is checked.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::access::ReportRequest;
use crate::domain::config::{Config, FunctionRole, Role};
use crate::domain::objects::Kind;

/// The member that marks an invocation as a command to this function rather than a Cognito
/// event.
pub const COMMAND_MEMBER: &str = "kubeflow-profile-manager";

/// What an invocation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// A Cognito event (or anything without the command member): handled as a sign-in.
    SignIn,
    Doctor(DoctorRequest),
    /// The offboarding sweep.
    Sweep,
    AccessReport(ReportRequest),
    /// A command member this version does not know, or a malformed command.
    BadCommand(String),
}

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
    /// The user pool whose app clients to check (else `USER_POOL_ID`).
    pub user_pool_id: Option<String>,
}

#[derive(Deserialize)]
struct Command {
    #[serde(rename = "kubeflow-profile-manager")]
    command: String,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

/// Classifies an invocation's payload. Cheap for sign-ins: only a payload that mentions the
/// command member at all is parsed for it.
pub fn classify(raw: &str) -> Invocation {
    if !raw.contains(COMMAND_MEMBER) {
        return Invocation::SignIn;
    }
    let Ok(command) = serde_json::from_str::<Command>(raw) else {
        return Invocation::SignIn;
    };
    match command.command.as_str() {
        "doctor" => match serde_json::from_value::<DoctorRequest>(Value::Object(command.rest)) {
            Ok(request) => Invocation::Doctor(request),
            Err(error) => Invocation::BadCommand(format!("doctor: {error}")),
        },
        "sweep" if command.rest.is_empty() => Invocation::Sweep,
        "sweep" => Invocation::BadCommand("sweep takes no other member".to_owned()),
        "access-report" => {
            match serde_json::from_value::<ReportRequest>(Value::Object(command.rest)) {
                Ok(request) => match request.start() {
                    Ok(_) => Invocation::AccessReport(request),
                    Err(error) => Invocation::BadCommand(format!("access-report: {error}")),
                },
                Err(error) => Invocation::BadCommand(format!("access-report: {error}")),
            }
        }
        other => Invocation::BadCommand(format!(
            "unknown command {other:?}; this version knows \"doctor\", \"sweep\" and \"access-report\""
        )),
    }
}

impl Invocation {
    /// The function that answers this invocation: Cognito events and the doctor go to the
    /// trigger, the sweep and the access report to the sweep function. `None` for a refused
    /// command, which every function refuses alike.
    pub fn answered_by(&self) -> Option<FunctionRole> {
        match self {
            Invocation::SignIn | Invocation::Doctor(_) => Some(FunctionRole::Trigger),
            Invocation::Sweep | Invocation::AccessReport(_) => Some(FunctionRole::Sweep),
            Invocation::BadCommand(_) => None,
        }
    }

    /// Why a function of `role` refuses this invocation, if it does: permission to invoke one
    /// function must never be permission to do the other's job (invoking the sweep function
    /// with a sign-in event would grant access with the sweep's rights).
    pub fn refused_by(&self, role: FunctionRole) -> Option<String> {
        let answerer = self.answered_by().filter(|answerer| *answerer != role)?;
        let (what, other) = match answerer {
            FunctionRole::Trigger => (
                "Cognito events and the doctor",
                "the trigger (the stack's FunctionName)",
            ),
            FunctionRole::Sweep => (
                "the sweep and the access report",
                "the sweep function (the stack's SweepFunctionName)",
            ),
        };
        Some(format!(
            "this is the {} function (FUNCTION_ROLE={}): {what} go to {other}",
            role.as_str(),
            role.as_str()
        ))
    }
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

/// What matters of a user pool app client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppClient {
    pub id: String,
    pub name: String,
    /// Empty: Cognito's default, every standard attribute (`email` among them) and no custom one.
    pub write_attributes: Vec<String>,
    pub oauth_scopes: Vec<String>,
    pub explicit_auth_flows: Vec<String>,
}

/// The scope a user's access token needs to call `UpdateUserAttributes` on themselves.
pub const SELF_SERVICE_SCOPE: &str = "aws.cognito.signin.user.admin";

/// Whether users signing in through `client` can rewrite their own groups or email, and so
/// choose their own Kubeflow access.
///
/// Users rewrite their attributes with `UpdateUserAttributes`, authorised by an access token
/// with the `aws.cognito.signin.user.admin` scope: hosted UI tokens carry it when the client
/// allows that OAuth scope, and tokens from the SDK's sign-in flows (any explicit auth flow but
/// refresh) always do. An attribute is writable through the client when its `WriteAttributes`
/// lists it, or when that list is empty and the attribute is standard (`email`). A client used
/// for federation must keep the mapped attributes writable, so the scope is what to remove.
/// Sources: the Cognito API reference, `UserPoolClientType.WriteAttributes` (the empty-list
/// default and the mapped-attribute rule) and `UpdateUserAttributes` (the scope).
pub fn app_client_finding(client: &AppClient, config: &Config) -> Finding {
    let check = format!("app client {} ({})", client.name, client.id);
    let writable = |attribute: &str| {
        if client.write_attributes.is_empty() {
            !attribute.starts_with("custom:")
        } else {
            client.write_attributes.iter().any(|a| a == attribute)
        }
    };
    let rewritable: Vec<&str> = [config.groups_claim.as_str(), "email"]
        .into_iter()
        .filter(|a| writable(a))
        .collect();
    let scope = client.oauth_scopes.iter().any(|s| s == SELF_SERVICE_SCOPE);
    let flows: Vec<&str> = client
        .explicit_auth_flows
        .iter()
        .map(String::as_str)
        .filter(|f| *f != "ALLOW_REFRESH_TOKEN_AUTH")
        .collect();
    if rewritable.is_empty() || (!scope && flows.is_empty()) {
        return Finding::ok(
            check,
            "its users cannot rewrite their groups or email attribute",
        );
    }
    let mut how = Vec::new();
    if scope {
        how.push(format!("its OAuth scopes include {SELF_SERVICE_SCOPE}"));
    }
    if !flows.is_empty() {
        how.push(format!(
            "its auth flows {} give every token that scope",
            flows.join(", ")
        ));
    }
    let stakes = if config.trust_stored_groups {
        "with TRUST_STORED_GROUPS=true that lets a user grant themselves any team's namespace"
    } else {
        "TRUST_STORED_GROUPS=false keeps the rewritten groups from granting, but a rewritten email still changes the Kubeflow user id of the next sign-in"
    };
    Finding::problem(
        check,
        format!(
            "its users can rewrite {} with UpdateUserAttributes ({}); {stakes}. Fix: remove {SELF_SERVICE_SCOPE} from its allowed OAuth scopes and keep only ALLOW_REFRESH_TOKEN_AUTH in its explicit auth flows (aws cognito-idp update-user-pool-client resets what it is not given: pass its current settings)",
            rewritable.join(" and "),
            how.join("; ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::test_config;

    #[test]
    fn only_a_payload_with_the_command_member_is_a_command() {
        assert_eq!(
            classify(r#"{"version":"1","triggerSource":"TokenGeneration_HostedAuth"}"#),
            Invocation::SignIn
        );
        // A group named like the member, inside a Cognito event, is still a sign-in.
        assert_eq!(
            classify(
                r#"{"request":{"userAttributes":{"custom:groups":"[kubeflow-profile-manager]"}}}"#
            ),
            Invocation::SignIn
        );
        assert_eq!(
            classify(r#"{"kubeflow-profile-manager":"doctor"}"#),
            Invocation::Doctor(DoctorRequest::default())
        );
        let Invocation::Doctor(request) = classify(
            r#"{"kubeflow-profile-manager":"doctor","email":"j@corp.example","groups":["A"],"userPoolId":"eu-west-1_Ab1"}"#,
        ) else {
            panic!("a doctor request")
        };
        assert_eq!(request.groups, ["A"]);
        assert_eq!(request.user_pool_id.as_deref(), Some("eu-west-1_Ab1"));
        assert!(matches!(
            classify(r#"{"kubeflow-profile-manager":"doctor","emial":"x"}"#),
            Invocation::BadCommand(m) if m.contains("emial")
        ));
        assert_eq!(
            classify(r#"{"kubeflow-profile-manager":"sweep"}"#),
            Invocation::Sweep
        );
        assert!(matches!(
            classify(r#"{"kubeflow-profile-manager":"sweep","dryRun":true}"#),
            Invocation::BadCommand(_)
        ));
        let Invocation::AccessReport(request) = classify(
            r#"{"kubeflow-profile-manager":"access-report","namespace":"ml","format":"csv"}"#,
        ) else {
            panic!("an access report request")
        };
        assert_eq!(request.namespace.as_deref(), Some("ml"));
        assert_eq!(request.format, crate::domain::access::ReportFormat::Csv);
        assert!(matches!(
            classify(r#"{"kubeflow-profile-manager":"access-report","format":"xlsx"}"#),
            Invocation::BadCommand(m) if m.contains("xlsx")
        ));
        assert!(matches!(
            classify(r#"{"kubeflow-profile-manager":"cure"}"#),
            Invocation::BadCommand(m) if m.contains("cure")
        ));
    }

    #[test]
    fn the_preview_is_a_federated_sign_in_with_the_groups_as_sent() {
        let request = DoctorRequest {
            email: Some("jane@corp.example".into()),
            groups: vec!["KF-A".into(), "Data Science".into()],
            ..DoctorRequest::default()
        };
        let raw = request.preview_event("custom:groups", "sub-1").unwrap();
        let event = crate::domain::event::TokenEvent::parse(&raw).unwrap();
        assert!(event.is_federated_sign_in());
        assert_eq!(event.short_user_name(), "jane");
        let config = test_config(&[("ALLOW_ALL_GROUPS", "true")]);
        let (identity, mode) = crate::domain::admission::admit(&event, &config).unwrap();
        assert_eq!(mode, crate::domain::admission::Mode::Grant);
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

    fn client(write: &[&str], scopes: &[&str], flows: &[&str]) -> AppClient {
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        AppClient {
            id: "1abc".into(),
            name: "kubeflow".into(),
            write_attributes: list(write),
            oauth_scopes: list(scopes),
            explicit_auth_flows: list(flows),
        }
    }

    #[test]
    fn a_client_is_risky_when_its_users_get_the_scope_and_may_write_groups_or_email() {
        let config = test_config(&[("ALLOW_ALL_GROUPS", "true")]);
        let federation = ["custom:groups", "email"];
        // Hosted UI with the self-service scope: the mapped attributes are writable.
        let risky = app_client_finding(
            &client(
                &federation,
                &["openid", "email", SELF_SERVICE_SCOPE],
                &["ALLOW_REFRESH_TOKEN_AUTH"],
            ),
            &config,
        );
        assert!(!risky.ok);
        assert!(
            risky.detail.contains("custom:groups and email"),
            "{}",
            risky.detail
        );
        assert!(
            risky
                .detail
                .contains("Fix: remove aws.cognito.signin.user.admin")
        );
        // The same client without the scope: safe.
        assert!(
            app_client_finding(
                &client(
                    &federation,
                    &["openid", "email"],
                    &["ALLOW_REFRESH_TOKEN_AUTH"]
                ),
                &config
            )
            .ok
        );
        // An SRP flow gives every token the scope.
        let srp = app_client_finding(
            &client(&federation, &["openid"], &["ALLOW_USER_SRP_AUTH"]),
            &config,
        );
        assert!(
            !srp.ok && srp.detail.contains("ALLOW_USER_SRP_AUTH"),
            "{}",
            srp.detail
        );
        // An empty WriteAttributes means every standard attribute: email, not custom:groups.
        let default = app_client_finding(&client(&[], &[SELF_SERVICE_SCOPE], &[]), &config);
        assert!(
            !default.ok && default.detail.contains("rewrite email with"),
            "{}",
            default.detail
        );
        // Nothing that matters writable.
        assert!(
            app_client_finding(
                &client(&["name"], &[SELF_SERVICE_SCOPE], &["ALLOW_USER_SRP_AUTH"]),
                &config
            )
            .ok
        );
        let trusting = test_config(&[
            ("ALLOW_ALL_GROUPS", "true"),
            ("TRUST_STORED_GROUPS", "true"),
        ]);
        let stakes =
            app_client_finding(&client(&federation, &[SELF_SERVICE_SCOPE], &[]), &trusting);
        assert!(
            stakes.detail.contains("any team's namespace"),
            "{}",
            stakes.detail
        );
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
