//! Who may do what: the bearer token's identity (an access entry's user and groups), RBAC of
//! the manifest's roles (`rbac.rs`), and SelfSubjectAccessReview as kube-apiserver answers it.
//! Pure.

#[allow(unused_imports)]
use super::*;

/// RBAC: the verb on the resource, and `bind` on the role a RoleBinding write references.
pub(super) fn authorize(
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
pub(super) fn self_subject_access_review(
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
