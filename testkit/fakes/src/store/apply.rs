//! Server-side apply: field ownership per manager, conflicts unless forced, managed fields.
//! Pure.

#[allow(unused_imports)]
use super::*;

/// Fields the server owns, never a manager.
pub(super) fn is_server_field(path: &[String]) -> bool {
    match path.first().map(String::as_str) {
        Some("apiVersion" | "kind" | "status") => true,
        Some("metadata") => matches!(
            path.get(1).map(String::as_str),
            Some(
                "name"
                    | "namespace"
                    | "uid"
                    | "resourceVersion"
                    | "creationTimestamp"
                    | "managedFields"
                    | "generation"
                    | "deletionTimestamp"
            )
        ),
        _ => false,
    }
}

/// Leaf paths of a JSON object (lists and scalars are leaves; so is an empty object).
pub(super) fn leaves(value: &Value, prefix: &mut Vec<String>, out: &mut BTreeSet<Vec<String>>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                prefix.push(key.clone());
                leaves(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {
            if !prefix.is_empty() && !is_server_field(prefix) {
                out.insert(prefix.clone());
            }
        }
    }
}

pub(super) fn owned_leaves(value: &Value) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    leaves(value, &mut Vec::new(), &mut out);
    out
}

pub(super) fn value_at<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

pub(super) fn set_at(value: &mut Value, path: &[String], leaf: Value) {
    let mut current = value;
    for key in &path[..path.len() - 1] {
        if !current.get(key).is_some_and(Value::is_object) {
            current[key.as_str()] = json!({});
        }
        current = &mut current[key.as_str()];
    }
    current[path[path.len() - 1].as_str()] = leaf;
}

/// Removes the leaf at `path` and any object it leaves empty.
pub(super) fn remove_at(value: &mut Value, path: &[String]) {
    fn go(value: &mut Value, path: &[String]) -> bool {
        let Some(map) = value.as_object_mut() else {
            return false;
        };
        if path.len() == 1 {
            map.remove(&path[0]);
        } else if let Some(child) = map.get_mut(&path[0])
            && go(child, &path[1..])
        {
            map.remove(&path[0]);
        }
        map.is_empty()
    }
    go(value, path);
}

pub(super) fn dotted(path: &[String]) -> String {
    format!(".{}", path.join("."))
}

/// The 409 a write with a stale `resourceVersion` gets.
pub(super) fn modified(resource: &Resource, name: &str) -> ApiError {
    ApiError::new(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
            qualified(resource)
        ),
    )
}

/// RFC 7386: members of `patch` replace those of `target`, recursively for objects; `null`
/// removes one.
pub(super) fn merge_json(target: &mut Value, patch: &Value) {
    let Some(members) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let fields = target.as_object_mut().expect("made an object above");
    for (key, value) in members {
        if value.is_null() {
            fields.remove(key);
        } else {
            merge_json(fields.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

impl Store {
    /// Server-side apply (`PATCH` with `application/apply-patch+yaml`).
    pub fn apply(
        &mut self,
        target: &Target,
        name: &str,
        body: Value,
        manager: Option<&str>,
        force: bool,
    ) -> Result<(Value, bool), ApiError> {
        let manager = manager.filter(|m| !m.is_empty()).ok_or_else(|| {
            ApiError::new(
                400,
                "BadRequest",
                "PATCH requests with apply patch require fieldManager",
            )
        })?;
        if body.pointer("/metadata/managedFields").is_some() {
            return Err(ApiError::new(
                400,
                "BadRequest",
                "metadata.managedFields must be nil",
            ));
        }
        self.validate(target, Some(name), &body)?;
        let key = Self::key(target, name);
        let Some(stored) = self.objects.get(&key).cloned() else {
            return self.apply_new(target, name, key, body, manager);
        };
        if let Some(rv) = body.pointer("/metadata/resourceVersion")
            && *rv != stored.body["metadata"]["resourceVersion"]
        {
            return Err(ApiError::new(
                409,
                "Conflict",
                "the object has been modified",
            ));
        }
        let applied = owned_leaves(&body);
        check_conflicts(&stored, &body, &applied, manager, force)?;
        let (next, managed) = merged(&stored, &body, applied, manager);
        if stored.resource.kind == "RoleBinding" && next["roleRef"] != stored.body["roleRef"] {
            return Err(invalid(
                &stored.resource,
                name,
                &["roleRef: Invalid value: cannot change roleRef".into()],
            ));
        }
        let causes = validate_kind(&stored.resource, &next);
        if !causes.is_empty() {
            return Err(invalid(&stored.resource, name, &causes));
        }
        if next == stored.body && managed == stored.managed {
            return Ok((self.render(&stored, target.version), false));
        }
        self.commit_apply(target, key, &stored, next, managed)
            .map(|rendered| (rendered, false))
    }

    /// An apply that creates the object.
    fn apply_new(
        &mut self,
        target: &Target,
        name: &str,
        key: Key,
        body: Value,
        manager: &str,
    ) -> Result<(Value, bool), ApiError> {
        if body.pointer("/metadata/resourceVersion").is_some() {
            return Err(not_found(&target.resource, name));
        }
        self.admit_new_content(target, name)?;
        let applied = owned_leaves(&body);
        let mut body = body;
        self.admit_new(&target.resource, &mut body, name, target.namespace);
        self.admit("CREATE", &target.resource, &key, Some(&body), None)?;
        body["metadata"]["resourceVersion"] = json!(self.next_version());
        let stored = Stored {
            resource: target.resource,
            body,
            managed: vec![ManagedEntry {
                manager: manager.to_owned(),
                operation: Operation::Apply,
                fields: applied,
            }],
        };
        let rendered = self.render(&stored, target.version);
        self.put(key, stored);
        Ok((rendered, true))
    }

    /// Stores the applied object: a new resourceVersion (and generation when `spec` changed),
    /// admitted as an update (admission runs on every update request, kubernetes
    /// `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go`).
    fn commit_apply(
        &mut self,
        target: &Target,
        key: Key,
        stored: &Stored,
        mut next: Value,
        managed: Vec<ManagedEntry>,
    ) -> Result<Value, ApiError> {
        // Only ownership changed is a write too: the resourceVersion moves either way.
        let content_changed = next != stored.body;
        if content_changed
            && next.get("spec") != stored.body.get("spec")
            && stored.resource.kind != "Namespace"
        {
            let generation = stored.body["metadata"]["generation"].as_u64().unwrap_or(1) + 1;
            next["metadata"]["generation"] = json!(generation);
        }
        next["metadata"]["resourceVersion"] = json!(self.next_version());
        self.admit(
            "UPDATE",
            &stored.resource,
            &key,
            Some(&next),
            Some(&stored.body),
        )?;
        let updated = Stored {
            resource: stored.resource,
            body: next,
            managed,
        };
        let rendered = self.render(&updated, target.version);
        self.put(key, updated);
        Ok(rendered)
    }
}

/// True when `entry` is `manager`'s own apply.
fn is_own(entry: &ManagedEntry, manager: &str) -> bool {
    entry.manager == manager && entry.operation == Operation::Apply
}

/// The fields `applied` that another manager owns with another value: a conflict unless
/// `force` (kubernetes-sigs/structured-merge-diff, as kube-apiserver reports it).
fn check_conflicts(
    stored: &Stored,
    body: &Value,
    applied: &BTreeSet<Vec<String>>,
    manager: &str,
    force: bool,
) -> Result<(), ApiError> {
    let mut conflicts = Vec::new();
    for entry in stored.managed.iter().filter(|e| !is_own(e, manager)) {
        for path in applied.intersection(&entry.fields) {
            if value_at(&stored.body, path) != value_at(body, path) {
                conflicts.push(format!(
                    "conflict with {:?}: {}",
                    entry.manager,
                    dotted(path)
                ));
            }
        }
    }
    if conflicts.is_empty() || force {
        return Ok(());
    }
    Err(ApiError::new(
        409,
        "Conflict",
        format!(
            "Apply failed with {} conflict(s): {}",
            conflicts.len(),
            conflicts.join("; ")
        ),
    ))
}

/// The object and its field owners once `manager` applied `body` (its fields `applied`):
/// fields it applied before and no longer does are removed unless another manager owns them;
/// fields it takes over leave their former owners.
fn merged(
    stored: &Stored,
    body: &Value,
    applied: BTreeSet<Vec<String>>,
    manager: &str,
) -> (Value, Vec<ManagedEntry>) {
    let mut next = stored.body.clone();
    let previously: BTreeSet<Vec<String>> = stored
        .managed
        .iter()
        .filter(|e| is_own(e, manager))
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    let mut managed: Vec<ManagedEntry> = stored.managed.clone();
    for entry in managed.iter_mut().filter(|e| !is_own(e, manager)) {
        entry
            .fields
            .retain(|p| !(applied.contains(p) && value_at(&stored.body, p) != value_at(body, p)));
    }
    for dropped in previously.difference(&applied) {
        let owned_elsewhere = managed
            .iter()
            .any(|e| !is_own(e, manager) && e.fields.contains(dropped));
        if !owned_elsewhere {
            remove_at(&mut next, dropped);
        }
    }
    for path in &applied {
        if let Some(value) = value_at(body, path) {
            set_at(&mut next, path, value.clone());
        }
    }
    match managed.iter_mut().find(|e| is_own(e, manager)) {
        Some(entry) => entry.fields = applied,
        None => managed.push(ManagedEntry {
            manager: manager.to_owned(),
            operation: Operation::Apply,
            fields: applied,
        }),
    }
    managed.retain(|e| !e.fields.is_empty());
    (next, managed)
}
