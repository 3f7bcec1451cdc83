//! A team's quota: `GROUP_PROFILE_QUOTA`, or the team's own in its Profile's
//! `kubeflow-profile-manager/quota` annotation (an administrator's: `none`, or a JSON
//! `resourceQuotaSpec`), brought onto a Profile this function made by a merge patch; never over
//! a quota someone else set. Who set what is read from the Profile's `managedFields` (the API
//! server's record of field owners: apimachinery's meta/v1 `types.go`, `ManagedFieldsEntry`,
//! `FieldsV1`). The profile controller turns the Profile's
//! `resourceQuotaSpec` into the namespace's ResourceQuota `kf-resource-quota` at every
//! reconcile, and deletes it when `hard` is empty (kubeflow/kubeflow v1.10.0
//! `components/profile-controller/controllers/profile_controller.go` lines 253-280). Pure.

use serde_json::{Value, json};

use crate::domain::model::names::is_qualified_name;
use crate::domain::model::objects::{MANAGER, Object, QUOTA_ANNOTATION};
use crate::domain::model::quantity;

/// What a team's quota is to be.
#[derive(Debug, Clone, PartialEq)]
pub enum TeamQuota {
    /// Neither `GROUP_PROFILE_QUOTA` nor the team's annotation says (or the annotation is no
    /// quota): the Profile's quota is left as it is.
    Unmanaged,
    /// The team's annotation says `none`.
    Removed,
    Spec(Value),
}

/// The scopes a quota may name (kubernetes/kubernetes v1.33.0, the core API's `types.go`,
/// `ResourceQuotaScope`).
const SCOPES: [&str; 6] = [
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
];

/// A `resourceQuotaSpec` as kube-apiserver takes one (the core API's validation package,
/// `ValidateResourceQuotaSpec`, `ValidateResourceQuantityValue`): only `hard`, `scopes` and
/// `scopeSelector`; `hard` naming resources by qualified names, each a quantity of 0 or more;
/// known scopes. The profile controller copies it into the namespace's ResourceQuota, which
/// the API server would refuse otherwise.
pub fn check_spec(spec: &Value) -> Result<(), String> {
    let fields = spec.as_object().ok_or("a JSON object")?;
    if let Some(key) = fields
        .keys()
        .find(|k| !["hard", "scopes", "scopeSelector"].contains(&k.as_str()))
    {
        return Err(format!("{key}: not a field of a resourceQuotaSpec"));
    }
    let hard = fields
        .get("hard")
        .map(|h| h.as_object().ok_or("hard: a map"));
    for (resource, value) in hard.transpose()?.into_iter().flatten() {
        if !is_qualified_name(resource) {
            return Err(format!("hard.{resource}: not a resource name"));
        }
        let text = match value {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => String::new(),
        };
        let amount = quantity::parse(&text).map_err(|why| format!("hard.{resource}: {why}"))?;
        if amount.is_negative() {
            return Err(format!("hard.{resource}: must be 0 or more"));
        }
    }
    let scopes = fields
        .get("scopes")
        .map(|s| s.as_array().ok_or("scopes: a list"));
    for scope in scopes.transpose()?.into_iter().flatten() {
        if !scope.as_str().is_some_and(|s| SCOPES.contains(&s)) {
            return Err(format!("scopes: {scope} is no quota scope"));
        }
    }
    Ok(())
}

/// The quota of the team whose Profile is `profile`, given `configured`
/// (`GROUP_PROFILE_QUOTA`).
pub fn team_quota(profile: &Object, configured: Option<&Value>) -> TeamQuota {
    match profile.meta("annotations", QUOTA_ANNOTATION).map(str::trim) {
        Some(text) if text.eq_ignore_ascii_case("none") => TeamQuota::Removed,
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(spec) if check_spec(&spec).is_ok() => TeamQuota::Spec(spec),
            _ => TeamQuota::Unmanaged,
        },
        None => configured
            .cloned()
            .map_or(TeamQuota::Unmanaged, TeamQuota::Spec),
    }
}

/// The merge patch (RFC 7386) that brings `profile`'s quota to its team's, with the version
/// read as a precondition; `None` when it is that already, when nothing says what it is to be,
/// or when someone else has set part of it (an administrator's edit stays).
pub fn update(profile: &Object, configured: Option<&Value>) -> Option<Object> {
    let wanted = match team_quota(profile, configured) {
        TeamQuota::Unmanaged => return None,
        TeamQuota::Removed => Value::Null,
        TeamQuota::Spec(spec) => spec,
    };
    let stored = profile
        .body
        .pointer("/spec/resourceQuotaSpec")
        .cloned()
        .unwrap_or(Value::Null);
    if stored == wanted || set_by_others(profile, &["f:spec", "f:resourceQuotaSpec"]) {
        return None;
    }
    Some(Object::new(
        profile.kind,
        None,
        &profile.name,
        profile
            .version_guarded(json!({"spec": {"resourceQuotaSpec": merge_patch(&stored, &wanted)}})),
    ))
}

/// True when a manager other than this function owns anything under `path` in `object`'s
/// `managedFields`.
pub fn set_by_others(object: &Object, path: &[&str]) -> bool {
    let Some(entries) = object
        .body
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return false;
    };
    entries
        .iter()
        .filter(|entry| entry["manager"].as_str() != Some(MANAGER))
        .any(|entry| {
            // Owning the field only as an empty object is no value set: the profile
            // controller's full update writes `resourceQuotaSpec: {}` on a Profile without one
            // (kubeflow/kubeflow v1.10.0 `api/v1/profile_types.go`: a struct, not a pointer).
            path.iter()
                .try_fold(&entry["fieldsV1"], |fields, key| fields.get(*key))
                .and_then(Value::as_object)
                .is_some_and(|owned| !owned.is_empty())
        })
}

/// The merge patch that turns `from` into `to`: members of `from` that `to` lacks are removed
/// (null), objects are patched member by member, anything else is replaced.
pub fn merge_patch(from: &Value, to: &Value) -> Value {
    match (from, to) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = serde_json::Map::new();
            for key in old.keys().filter(|k| !new.contains_key(*k)) {
                patch.insert(key.clone(), Value::Null);
            }
            for (key, value) in new {
                match old.get(key) {
                    Some(same) if same == value => {}
                    Some(before) => {
                        patch.insert(key.clone(), merge_patch(before, value));
                    }
                    None => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            Value::Object(patch)
        }
        _ => to.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::objects::{Kind, MANAGED_BY_LABEL};

    fn team(quota: Value, annotations: Value, managed: Value) -> Object {
        let mut body = json!({"metadata": {"name": "ml", "resourceVersion": "7",
            "labels": {MANAGED_BY_LABEL: MANAGER}, "annotations": annotations,
            "managedFields": managed},
            "spec": {"owner": {"kind": "User", "name": "admin@kubeflow.com"}}});
        if !quota.is_null() {
            body["spec"]["resourceQuotaSpec"] = quota;
        }
        Object::from_body(Kind::Profile, body).unwrap()
    }

    fn ours() -> Value {
        json!([{"manager": MANAGER, "operation": "Update",
                "fieldsV1": {"f:spec": {"f:resourceQuotaSpec": {"f:hard": {"f:cpu": {}}}}}}])
    }

    #[test]
    fn the_configured_quota_replaces_the_one_this_function_set() {
        let configured = json!({"hard": {"cpu": "8"}});
        let profile = team(
            json!({"hard": {"cpu": "4", "memory": "1Gi"}}),
            json!({}),
            ours(),
        );
        let patch = update(&profile, Some(&configured)).unwrap();
        assert_eq!(
            patch.body,
            json!({"metadata": {"resourceVersion": "7"},
                   "spec": {"resourceQuotaSpec": {"hard": {"cpu": "8", "memory": null}}}})
        );
        let already = team(configured.clone(), json!({}), ours());
        assert_eq!(update(&already, Some(&configured)), None);
    }

    #[test]
    fn the_teams_annotation_wins_and_none_removes_the_quota() {
        let configured = json!({"hard": {"cpu": "8"}});
        let own = team(
            json!({"hard": {"cpu": "8"}}),
            json!({QUOTA_ANNOTATION: "{\"hard\": {\"cpu\": \"32\"}}"}),
            ours(),
        );
        assert_eq!(
            update(&own, Some(&configured)).unwrap().body["spec"]["resourceQuotaSpec"],
            json!({"hard": {"cpu": "32"}})
        );
        let none = team(
            json!({"hard": {"cpu": "8"}}),
            json!({QUOTA_ANNOTATION: "None"}),
            ours(),
        );
        assert_eq!(
            update(&none, Some(&configured)).unwrap().body["spec"]["resourceQuotaSpec"],
            Value::Null
        );
        let garbled = team(
            json!({"hard": {"cpu": "8"}}),
            json!({QUOTA_ANNOTATION: "{"}),
            ours(),
        );
        assert_eq!(update(&garbled, None), None, "not a quota: left alone");
    }

    #[test]
    fn an_empty_quota_the_profile_controller_wrote_is_no_one_elses_quota() {
        let mut controller = ours();
        controller.as_array_mut().unwrap().push(json!({"manager": "manager",
            "operation": "Update",
            "fieldsV1": {"f:metadata": {"f:finalizers": {}}, "f:spec": {"f:resourceQuotaSpec": {}}}}));
        let configured = json!({"hard": {"cpu": "8"}});
        let profile = team(json!({}), json!({}), controller);
        assert!(update(&profile, Some(&configured)).is_some());
    }

    #[test]
    fn a_quota_someone_else_set_is_left_alone_and_nothing_configured_changes_nothing() {
        let mut edited = ours();
        edited
            .as_array_mut()
            .unwrap()
            .push(json!({"manager": "kubectl-edit", "operation": "Update",
                         "fieldsV1": {"f:spec": {"f:resourceQuotaSpec": {"f:hard": {"f:gpu": {}}}}}}));
        let configured = json!({"hard": {"cpu": "8"}});
        let profile = team(json!({"hard": {"cpu": "4", "gpu": "2"}}), json!({}), edited);
        assert_eq!(update(&profile, Some(&configured)), None);
        let unset = team(json!({"hard": {"cpu": "4"}}), json!({}), ours());
        assert_eq!(update(&unset, None), None);
    }
}
