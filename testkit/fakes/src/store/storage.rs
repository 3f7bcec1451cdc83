//! The store's writes as kube-apiserver makes them: create, update, merge patch and delete,
//! with resourceVersion and uid preconditions, the namespace lifecycle and the garbage
//! collector's cascade. Pure.

#[allow(unused_imports)]
use super::*;

impl Store {
    /// Starts deleting namespace `name`: it keeps existing (its finalizer holds it) but takes
    /// no new content.
    pub fn terminate_namespace(&mut self, name: &str) {
        let key = (NAMESPACES.plural, Ns::default(), name.to_owned());
        if let Some(stored) = self.objects.get_mut(&key) {
            stored.body["metadata"]["deletionTimestamp"] = json!(self.now);
            stored.body["status"]["phase"] = json!("Terminating");
        }
        self.next_version();
    }

    pub(super) fn next_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// Fills server-set metadata of a new object.
    pub(super) fn admit_new(
        &mut self,
        resource: &Resource,
        body: &mut Value,
        name: &str,
        namespace: Option<&str>,
    ) {
        self.uids += 1;
        let meta = &mut body["metadata"];
        meta["uid"] = json!(format!("00000000-0000-4000-8000-{:012}", self.uids));
        meta["creationTimestamp"] = json!(self.now);
        meta["generation"] = json!(1);
        if let Some(ns) = namespace {
            meta["namespace"] = json!(ns);
        }
        if resource.kind == "Namespace" {
            meta["labels"]["kubernetes.io/metadata.name"] = json!(name);
            body["spec"] = json!({"finalizers": ["kubernetes"]});
            body["status"] = json!({"phase": "Active"});
        }
    }

    /// POST.
    pub fn create(
        &mut self,
        target: &Target,
        mut body: Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        if body.pointer("/metadata/resourceVersion").is_some() {
            return Err(ApiError::new(
                400,
                "BadRequest",
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let name = self.validate(target, None, &body)?;
        let key = Self::key(target, &name);
        if !self.objects.contains_key(&key) {
            self.admit_new_content(target, &name)?;
        }
        if self.objects.contains_key(&key) {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", qualified(&target.resource)),
            ));
        }
        self.admit_new(&target.resource, &mut body, &name, target.namespace);
        self.admit("CREATE", &target.resource, &key, Some(&body), None)?;
        body["metadata"]["resourceVersion"] = json!(self.next_version());
        let stored = Stored {
            resource: target.resource,
            managed: vec![ManagedEntry {
                manager: manager.to_owned(),
                operation: Operation::Update,
                fields: owned_leaves(&body),
            }],
            body,
        };
        let rendered = self.render(&stored, target.version);
        self.put(key, stored);
        Ok(rendered)
    }

    /// PUT: requires the current resourceVersion; `roleRef` of a RoleBinding cannot change.
    pub fn update(
        &mut self,
        target: &Target,
        name: &str,
        body: Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        self.validate(target, Some(name), &body)?;
        let key = Self::key(target, name);
        let stored = self
            .objects
            .get(&key)
            .ok_or_else(|| not_found(&target.resource, name))?;
        match body
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
        {
            None => {
                return Err(invalid(&target.resource, name, &["metadata.resourceVersion: Invalid value: 0x0: must be specified for an update".into()]));
            }
            Some(rv) if rv != stored.body["metadata"]["resourceVersion"] => {
                return Err(modified(&target.resource, name));
            }
            Some(_) => {}
        }
        let mut next = body;
        if let Some(meta) = next["metadata"].as_object_mut() {
            meta.remove("managedFields");
        }
        for field in ["uid", "creationTimestamp", "generation"] {
            next["metadata"][field] = stored.body["metadata"][field].clone();
        }
        if let Some(ns) = target.namespace {
            next["metadata"]["namespace"] = json!(ns);
        }
        if target.resource.kind == "Namespace" {
            next["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            next["spec"] = stored.body["spec"].clone();
            next["status"] = stored.body["status"].clone();
        }
        self.commit_update(key, next, manager)
    }

    /// PATCH with `application/merge-patch+json` (RFC 7386): the patch merged onto the stored
    /// object. A `metadata.resourceVersion` in it is a precondition (409 when the object
    /// changed); it never creates (404); the name and uid cannot change.
    pub fn merge_patch(
        &mut self,
        target: &Target,
        name: &str,
        patch: Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        if !patch.is_object() {
            return Err(ApiError::new(
                400,
                "BadRequest",
                "the merge patch is not a JSON object",
            ));
        }
        let key = Self::key(target, name);
        let stored = self
            .objects
            .get(&key)
            .ok_or_else(|| not_found(&target.resource, name))?;
        if let Some(rv) = patch.pointer("/metadata/resourceVersion")
            && *rv != stored.body["metadata"]["resourceVersion"]
        {
            return Err(modified(&target.resource, name));
        }
        if let Some(uid) = patch.pointer("/metadata/uid")
            && *uid != stored.body["metadata"]["uid"]
        {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    stored.body["metadata"]["uid"]
                ),
            ));
        }
        let mut next = self.render(stored, target.version);
        merge_json(&mut next, &patch);
        if next["metadata"]["name"] != json!(name) {
            return Err(ApiError::new(
                400,
                "BadRequest",
                format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    next["metadata"]["name"]
                ),
            ));
        }
        if let Some(meta) = next["metadata"].as_object_mut() {
            meta.remove("managedFields");
        }
        self.validate(target, Some(name), &next)?;
        let causes = validate_kind(&target.resource, &next);
        if !causes.is_empty() {
            return Err(invalid(&target.resource, name, &causes));
        }
        // Stored as it was written, whatever version this request spoke.
        for field in ["apiVersion", "kind"] {
            match stored.body.get(field) {
                Some(value) => next[field] = value.clone(),
                None => drop(next.as_object_mut().map(|o| o.remove(field))),
            }
        }
        self.commit_update(key, next, manager)
    }

    /// Replaces an object's content, moving ownership of changed fields to `manager`.
    pub(super) fn commit_update(
        &mut self,
        key: Key,
        mut next: Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        let stored = self.objects.get(&key).expect("caller checked").clone();
        if stored.resource.kind == "RoleBinding" && next["roleRef"] != stored.body["roleRef"] {
            return Err(invalid(
                &stored.resource,
                &key.2,
                &["roleRef: Invalid value: cannot change roleRef".into()],
            ));
        }
        next["metadata"]["resourceVersion"] = stored.body["metadata"]["resourceVersion"].clone();
        if next == stored.body {
            return Ok(self.render(&stored, stored.resource.versions[0]));
        }
        self.admit(
            "UPDATE",
            &stored.resource,
            &key,
            Some(&next),
            Some(&stored.body),
        )?;
        let old_leaves = owned_leaves(&stored.body);
        let new_leaves = owned_leaves(&next);
        let changed: BTreeSet<Vec<String>> = new_leaves
            .iter()
            .filter(|p| !old_leaves.contains(*p) || value_at(&stored.body, p) != value_at(&next, p))
            .cloned()
            .collect();
        let mut managed = stored.managed.clone();
        for entry in &mut managed {
            entry
                .fields
                .retain(|p| new_leaves.contains(p) && !changed.contains(p));
        }
        match managed
            .iter_mut()
            .find(|e| e.manager == manager && e.operation == Operation::Update)
        {
            Some(entry) => entry.fields.extend(changed),
            None => managed.push(ManagedEntry {
                manager: manager.to_owned(),
                operation: Operation::Update,
                fields: changed,
            }),
        }
        next["metadata"]["resourceVersion"] = json!(self.next_version());
        if stored.resource.kind != "Namespace" && next.get("spec") != stored.body.get("spec") {
            let generation = stored.body["metadata"]["generation"].as_u64().unwrap_or(1) + 1;
            next["metadata"]["generation"] = json!(generation);
        }
        let updated = Stored {
            resource: stored.resource,
            body: next,
            managed,
        };
        let rendered = self.render(&updated, stored.resource.versions[0]);
        self.put(key, updated);
        Ok(rendered)
    }

    /// DELETE, honouring `preconditions.uid` / `preconditions.resourceVersion`. Deleting a
    /// namespace deletes what is in it.
    pub fn delete(
        &mut self,
        target: &Target,
        name: &str,
        options: &Value,
    ) -> Result<Value, ApiError> {
        let key = Self::key(target, name);
        let stored = self
            .objects
            .get(&key)
            .ok_or_else(|| not_found(&target.resource, name))?;
        for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
            if let Some(expected) = options
                .pointer(&format!("/preconditions/{field}"))
                .and_then(Value::as_str)
                && stored.body["metadata"][field].as_str() != Some(expected)
            {
                return Err(ApiError::new(
                    409,
                    "Conflict",
                    format!(
                        "Precondition failed: {label} in precondition: {expected}, {label} in object meta: {}",
                        stored.body["metadata"][field]
                    ),
                ));
            }
        }
        self.admit("DELETE", &target.resource, &key, None, Some(&stored.body))?;
        let rendered = self.render(stored, target.version);
        let uid = stored.body["metadata"]["uid"].as_str().map(str::to_owned);
        self.remove(&key);
        if let Some(uid) = uid {
            self.collect_garbage(target.namespace, uid);
        }
        self.next_version();
        Ok(rendered)
    }

    /// Removes the object at `key`; a namespace takes what is in it.
    pub(super) fn remove(&mut self, key: &Key) {
        self.owned.remove(key);
        if let Some(removed) = self.objects.remove(key)
            && removed.resource.kind == "Namespace"
        {
            let name = key.2.clone();
            self.objects.retain(|(_, ns, _), _| *ns != name);
            self.owned.retain(|(_, ns, _)| *ns != name);
        }
    }

    /// The garbage collector's background cascading deletion, at once: an object whose
    /// ownerReferences name only owners that are gone is deleted, and so on down (kubernetes.io
    /// "Garbage Collection" and "Use Cascading Deletion": background is the default
    /// propagation; kube-controller-manager `pkg/controller/garbagecollector`). `uid` was just
    /// deleted, from `namespace`: a namespaced owner's dependents are in its own namespace, a
    /// cluster-scoped owner's anywhere ("Owners and Dependents": cross-namespace owner
    /// references are disallowed by design).
    pub(super) fn collect_garbage(&mut self, namespace: Option<&str>, uid: String) {
        let mut gone_uids: BTreeSet<String> = BTreeSet::new();
        let mut pending = vec![(namespace.map(str::to_owned), uid)];
        while let Some((scope, uid)) = pending.pop() {
            gone_uids.insert(uid.clone());
            let orphaned = |stored: &Stored| {
                let owners = stored
                    .body
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array);
                owners.is_some_and(|owners| {
                    owners.iter().any(|o| o["uid"] == uid.as_str())
                        && owners
                            .iter()
                            .all(|o| o["uid"].as_str().is_none_or(|u| gone_uids.contains(u)))
                })
            };
            // Only objects with owners can be dependents; a namespaced owner's are in its
            // own namespace.
            let dependents: Vec<Key> = self
                .owned
                .iter()
                .filter(|key| scope.as_ref().is_none_or(|ns| key.1 == *ns))
                .filter(|key| self.objects.get(*key).is_some_and(&orphaned))
                .cloned()
                .collect();
            for key in dependents {
                let scope = (!key.1.is_empty()).then(|| key.1.0.clone());
                let uid = self.objects[&key].body["metadata"]["uid"]
                    .as_str()
                    .map(str::to_owned);
                self.remove(&key);
                if let Some(uid) = uid {
                    pending.push((scope, uid));
                }
            }
        }
    }

    /// Writes `next` as `manager` would with an update (used by the simulated controllers).
    pub fn controller_update(
        &mut self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        next: Value,
        manager: &str,
    ) {
        let key = (
            resource.plural,
            Ns(namespace.unwrap_or("").to_owned()),
            name.to_owned(),
        );
        if self.objects.contains_key(&key) {
            let _ = self.commit_update(key, next, manager);
        }
    }
}
