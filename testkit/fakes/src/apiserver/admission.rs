//! ValidatingAdmissionPolicies for the fake API server: the policies and bindings of a manifest
//! (the project's `deploy/admission.yaml`), evaluated on every write with the `cel` crate, as
//! kube-apiserver's admission plugin does (kubernetes/apiserver v0.31
//! `pkg/admission/plugin/policy/validating`, `pkg/admission/plugin/cel`):
//!
//! - a policy applies to a request when one of its `matchConstraints.resourceRules` names the
//!   request's API group, resource and operation, and it has a binding with `Deny`;
//! - `matchConditions` all true (else the policy is skipped), then `variables` in order, then
//!   each of `validations`; a false validation denies the request with its `message`, an error
//!   denies it too (`failurePolicy: Fail`);
//! - the CEL variables are `object` (null on DELETE), `oldObject` (null on CREATE), `request`
//!   (`operation`, `kind`, `resource`, `name`, `namespace` (absent for a cluster-scoped object,
//!   as the unstructured converter drops empty fields), `userInfo`, `dryRun`),
//!   `namespaceObject` (the request's namespace, null for cluster-scoped objects and namespaces)
//!   and `variables`;
//! - a denial is `<resource>.<group> "<name>" is forbidden: ValidatingAdmissionPolicy '<policy>'
//!   with binding '<binding>' denied request: <message>`, with the validation's `reason` and its
//!   code (Forbidden 403, Invalid 422: `policy_decision.go` `reasonToCode`).
//!
//! One difference, on the strict side: variables are evaluated eagerly (kube-apiserver evaluates
//! them when first used), so an expression that errors fails the request even when no
//! validation reads it. The project's expressions never error.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::apiserver::rbac::UserInfo;
use crate::store::{ApiError, Resource};

/// One rule of `matchConstraints.resourceRules`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceRule {
    api_groups: Vec<String>,
    resources: Vec<String>,
    operations: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Named {
    name: String,
    expression: String,
}

#[derive(Debug, Clone, Deserialize)]
struct ValidationSpec {
    expression: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MatchConstraints {
    resource_rules: Vec<ResourceRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicySpec {
    match_constraints: MatchConstraints,
    #[serde(default)]
    match_conditions: Vec<Named>,
    #[serde(default)]
    variables: Vec<Named>,
    validations: Vec<ValidationSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BindingSpec {
    policy_name: String,
    validation_actions: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Document {
    kind: String,
    metadata: Metadata,
    spec: Value,
}

/// A compiled policy with the name of the binding that enforces it.
struct Policy {
    name: String,
    binding: String,
    rules: Vec<ResourceRule>,
    match_conditions: Vec<(String, cel::Program)>,
    variables: Vec<(String, cel::Program)>,
    validations: Vec<(cel::Program, String, String)>,
}

/// The enforced policies of a manifest.
#[derive(Clone)]
pub struct Admission {
    env: Arc<cel::Env>,
    policies: Arc<Vec<Policy>>,
}

/// The ClusterRoles the function may bind, as `deploy/admission.yaml` writes them, and as
/// `make admission ADMIN=true` renders them (scripts/rbac.py does the same replacement).
pub const ADMIN_ROLES: (&str, &str) = (
    "expression: \"['kubeflow-edit', 'kubeflow-view']\"",
    "expression: \"['kubeflow-edit', 'kubeflow-view', 'kubeflow-admin']\"",
);

/// The team defaults and the IRSA role as `deploy/admission.yaml` writes them (none), each
/// replaced by `make admission` (scripts/rbac.py makes the same replacements).
pub const DEFAULTS_AS_WRITTEN: &str = "name: defaults\n      expression: \"{}\"";
pub const IRSA_ROLE_AS_WRITTEN: &str = "name: irsaRole\n      expression: \"[]\"";

/// `manifest` with its `defaults` variable holding `objects`' specs by `Kind/name`, as one
/// JSON object (which is a CEL map literal), in a YAML single-quoted string.
pub fn render_team_defaults(manifest: &str, objects: &[Value]) -> String {
    let by_name: serde_json::Map<String, Value> = objects
        .iter()
        .map(|object| {
            let key = format!(
                "{}/{}",
                object["kind"].as_str().unwrap_or(""),
                object["metadata"]["name"].as_str().unwrap_or("")
            );
            (key, object["spec"].clone())
        })
        .collect();
    let literal = Value::Object(by_name).to_string().replace('\'', "''");
    manifest.replace(
        DEFAULTS_AS_WRITTEN,
        &format!("name: defaults\n      expression: '{literal}'"),
    )
}

/// `manifest` with its `irsaRole` variable holding `template`'s text before and after
/// `{namespace}`.
pub fn render_irsa_role(manifest: &str, template: &str) -> String {
    let (prefix, suffix) = template.split_once("{namespace}").unwrap_or((template, ""));
    manifest.replace(
        IRSA_ROLE_AS_WRITTEN,
        &format!("name: irsaRole\n      expression: \"['{prefix}', '{suffix}']\""),
    )
}

/// One write as admission sees it.
pub struct Review<'a> {
    /// `CREATE`, `UPDATE` or `DELETE`.
    pub operation: &'a str,
    pub user: &'a UserInfo,
    pub resource: &'a Resource,
    pub version: &'a str,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub object: Option<&'a Value>,
    pub old_object: Option<&'a Value>,
    pub namespace_object: Option<&'a Value>,
    pub dry_run: bool,
}

impl Admission {
    /// The policies of this project's `deploy/admission.yaml`, as it is.
    pub fn project() -> Self {
        Self::from_manifest(include_str!("../../../../deploy/admission.yaml"))
            .expect("deploy/admission.yaml compiles")
    }

    /// The policies of `deploy/admission.yaml` as `make admission ADMIN=true` renders them
    /// (`ALLOW_ADMIN_ROLE=true`): the function may bind `kubeflow-admin` too.
    pub fn project_with_admin() -> Self {
        let manifest =
            include_str!("../../../../deploy/admission.yaml").replace(ADMIN_ROLES.0, ADMIN_ROLES.1);
        Self::from_manifest(&manifest).expect("deploy/admission.yaml compiles")
    }

    /// The policies of `deploy/admission.yaml` as `make admission` renders them for a stack
    /// with the team defaults `defaults` (the objects of its `TEAM_DEFAULTS_FILE`), the IRSA
    /// team role template `irsa_role` (`TEAM_ROLE_VIA=irsa`) and `ALLOW_ADMIN_ROLE`.
    pub fn project_rendered(admin: bool, defaults: &[Value], irsa_role: Option<&str>) -> Self {
        let mut manifest = include_str!("../../../../deploy/admission.yaml").to_owned();
        if admin {
            manifest = manifest.replace(ADMIN_ROLES.0, ADMIN_ROLES.1);
        }
        manifest = render_team_defaults(&manifest, defaults);
        if let Some(template) = irsa_role {
            manifest = render_irsa_role(&manifest, template);
        }
        Self::from_manifest(&manifest).expect("the rendered deploy/admission.yaml compiles")
    }

    /// The policies of `deploy/admission.yaml` as `make admission` renders them for a stack
    /// whose function has the settings `vars`: its team defaults (the objects of the file
    /// `TEAM_DEFAULTS_FILE` names; none when it cannot be read) and its IRSA team role
    /// (`TEAM_ROLE_ARN` with `TEAM_ROLE_VIA=irsa`).
    pub fn for_settings(vars: &[(&str, &str)]) -> Self {
        let var = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let defaults: Vec<Value> = var("TEAM_DEFAULTS_FILE")
            .and_then(|path| std::fs::read_to_string(path).ok())
            .map(|text| {
                serde_norway::Deserializer::from_str(&text)
                    .filter_map(|document| Value::deserialize(document).ok())
                    .flat_map(|value| match value {
                        Value::Array(items) => items,
                        Value::Null => Vec::new(),
                        object => vec![object],
                    })
                    .collect()
            })
            .unwrap_or_default();
        let irsa = var("TEAM_ROLE_ARN").filter(|_| var("TEAM_ROLE_VIA") == Some("irsa"));
        Self::project_rendered(false, &defaults, irsa)
    }

    /// The policies of a (multi-document) manifest that a `Deny` binding enforces.
    pub fn from_manifest(manifest: &str) -> Result<Self, String> {
        let env = Arc::new(cel::Env::stdlib());
        let compile = |source: &str| {
            env.compile(source)
                .map_err(|e| format!("{source:?} does not compile: {e}"))
        };
        let mut specs = Vec::new();
        let mut bindings: HashMap<String, String> = HashMap::new();
        for document in serde_norway::Deserializer::from_str(manifest) {
            let document = Document::deserialize(document).map_err(|e| e.to_string())?;
            match document.kind.as_str() {
                "ValidatingAdmissionPolicy" => {
                    let spec: PolicySpec =
                        serde_json::from_value(document.spec).map_err(|e| e.to_string())?;
                    specs.push((document.metadata.name, spec));
                }
                "ValidatingAdmissionPolicyBinding" => {
                    let spec: BindingSpec =
                        serde_json::from_value(document.spec).map_err(|e| e.to_string())?;
                    if spec.validation_actions.iter().any(|a| a == "Deny") {
                        bindings.insert(spec.policy_name, document.metadata.name);
                    }
                }
                _ => {}
            }
        }
        let mut policies = Vec::new();
        for (name, spec) in specs {
            // The API server refuses such a policy when it is created, bound or not.
            for variable in &spec.variables {
                if !is_cel_identifier(&variable.name) {
                    return Err(format!(
                        "{name}: spec.variables[].name {:?}: name is not a valid CEL identifier",
                        variable.name
                    ));
                }
            }
            let Some(binding) = bindings.get(&name) else {
                continue;
            };
            let named = |list: &[Named]| -> Result<Vec<(String, cel::Program)>, String> {
                list.iter()
                    .map(|n| Ok((n.name.clone(), compile(&n.expression)?)))
                    .collect()
            };
            policies.push(Policy {
                binding: binding.clone(),
                rules: spec.match_constraints.resource_rules,
                match_conditions: named(&spec.match_conditions)?,
                variables: named(&spec.variables)?,
                validations: spec
                    .validations
                    .iter()
                    .map(|v| {
                        Ok((
                            compile(&v.expression)?,
                            v.message
                                .clone()
                                .unwrap_or_else(|| format!("failed expression: {}", v.expression)),
                            v.reason.clone().unwrap_or_else(|| "Invalid".into()),
                        ))
                    })
                    .collect::<Result<_, String>>()?,
                name,
            });
        }
        Ok(Admission {
            env,
            policies: Arc::new(policies),
        })
    }

    /// The first denial of `review` by an enforced policy, if any.
    pub fn review(&self, review: &Review) -> Result<(), ApiError> {
        for policy in self.policies.iter() {
            let applies = policy.rules.iter().any(|rule| {
                let has =
                    |list: &[String], value: &str| list.iter().any(|v| v == "*" || v == value);
                has(&rule.api_groups, review.resource.group)
                    && has(&rule.resources, review.resource.plural)
                    && has(&rule.operations, review.operation)
            });
            if !applies {
                continue;
            }
            if let Err(message) = policy.decide(&self.env, review) {
                let group = review.resource.group;
                let qualified = if group.is_empty() {
                    review.resource.plural.to_owned()
                } else {
                    format!("{}.{group}", review.resource.plural)
                };
                let (code, reason) = match message.1.as_str() {
                    "Forbidden" => (403, "Forbidden"),
                    "Unauthorized" => (401, "Unauthorized"),
                    "RequestEntityTooLarge" => (413, "RequestEntityTooLarge"),
                    _ => (422, "Invalid"),
                };
                return Err(ApiError::new(
                    code,
                    reason,
                    format!(
                        "{qualified} \"{}\" is forbidden: ValidatingAdmissionPolicy '{}' with binding '{}' denied request: {}",
                        review.name, policy.name, policy.binding, message.0
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Policy {
    /// `Ok` when the policy admits `review`, else its message and reason.
    fn decide(&self, env: &Arc<cel::Env>, review: &Review) -> Result<(), (String, String)> {
        let mut context = cel::Context::with_env(env.clone());
        context.add_variable_from_value("object", to_cel(review.object));
        context.add_variable_from_value("oldObject", to_cel(review.old_object));
        context.add_variable_from_value("namespaceObject", to_cel(review.namespace_object));
        context.add_variable_from_value("request", to_cel(Some(&request(review))));
        let failed = |expression: &str, error: String| {
            (
                format!("expression '{expression}' resulted in error: {error}"),
                "Invalid".to_owned(),
            )
        };
        for (name, condition) in &self.match_conditions {
            match condition.execute(&context) {
                Ok(cel::Value::Bool(true)) => {}
                Ok(cel::Value::Bool(false)) => return Ok(()),
                Ok(other) => return Err(failed(name, format!("not a bool: {other:?}"))),
                Err(error) => return Err(failed(name, error.to_string())),
            }
        }
        let mut variables: HashMap<String, cel::Value> = HashMap::new();
        for (name, expression) in &self.variables {
            context.add_variable_from_value("variables", variables.clone());
            match expression.execute(&context) {
                Ok(value) => drop(variables.insert(name.clone(), value)),
                Err(error) => return Err(failed(name, error.to_string())),
            }
        }
        context.add_variable_from_value("variables", variables);
        for (validation, message, reason) in &self.validations {
            match validation.execute(&context) {
                Ok(cel::Value::Bool(true)) => {}
                Ok(cel::Value::Bool(false)) => return Err((message.clone(), reason.clone())),
                Ok(other) => return Err(failed(message, format!("not a bool: {other:?}"))),
                Err(error) => return Err(failed(message, error.to_string())),
            }
        }
        Ok(())
    }
}

/// What kube-apiserver accepts as a variable's name (kubernetes/kubernetes v1.31
/// `pkg/apis/admissionregistration/validation` `validateVariable` and `isCELIdentifier`): an
/// identifier that is not one of CEL's reserved words.
fn is_cel_identifier(name: &str) -> bool {
    const RESERVED: [&str; 21] = [
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    ];
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && !RESERVED.contains(&name)
}

/// The `request` variable: what kube-apiserver's `AdmissionRequest` carries, empty fields left
/// out as its unstructured converter does.
fn request(review: &Review) -> Value {
    let mut request = serde_json::json!({
        "operation": review.operation,
        "kind": {"group": review.resource.group, "version": review.version, "kind": review.resource.kind},
        "resource": {"group": review.resource.group, "version": review.version, "resource": review.resource.plural},
        "name": review.name,
        "userInfo": {"username": review.user.username, "groups": review.user.groups},
        "dryRun": review.dry_run,
    });
    if let Some(namespace) = review.namespace {
        request["namespace"] = Value::from(namespace);
    }
    request
}

/// A JSON value as CEL sees an unstructured object: integers as `int` (Kubernetes' int64),
/// absent as `null`.
fn to_cel(value: Option<&Value>) -> cel::Value {
    match value {
        None | Some(Value::Null) => cel::Value::Null,
        Some(Value::Bool(b)) => cel::Value::Bool(*b),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => cel::Value::Int(i),
            None => cel::Value::Float(n.as_f64().unwrap_or_default()),
        },
        Some(Value::String(s)) => cel::Value::String(Arc::new(s.clone())),
        Some(Value::Array(items)) => {
            cel::Value::List(Arc::new(items.iter().map(|i| to_cel(Some(i))).collect()))
        }
        Some(Value::Object(fields)) => {
            let map: HashMap<String, cel::Value> = fields
                .iter()
                .map(|(k, v)| (k.clone(), to_cel(Some(v))))
                .collect();
            cel::Value::from(map)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_named_after_a_reserved_word_is_refused_as_the_api_server_refuses_it() {
        assert!(is_cel_identifier("ns") && is_cel_identifier("_a1"));
        for refused in ["namespace", "in", "var", "1a", "a-b", ""] {
            assert!(!is_cel_identifier(refused), "{refused}");
        }
        let manifest = include_str!("../../../../deploy/admission.yaml");
        assert!(Admission::from_manifest(manifest).is_ok());
        let renamed = manifest.replace("- name: ns\n", "- name: namespace\n");
        assert_ne!(
            renamed, manifest,
            "the project's policies name a variable `ns`"
        );
        let refused = Admission::from_manifest(&renamed).err().unwrap_or_default();
        assert!(refused.contains("not a valid CEL identifier"), "{refused}");
    }
}
