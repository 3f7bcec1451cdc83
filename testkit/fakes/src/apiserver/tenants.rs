//! What tests write into the fake cluster: seeded objects, and writes as a given user (a
//! namespace admin, the profile controller) through authorisation and admission. Pure (on the
//! store).

#[allow(unused_imports)]
use super::*;

impl FakeCluster {
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

    fn seed_profile_with(&self, name: &str, owner: &str, annotations: Value) {
        self.seed(json!({"apiVersion": "kubeflow.org/v1", "kind": "Profile",
                         "metadata": {"name": name, "annotations": annotations},
                         "spec": {"owner": {"kind": "User", "name": owner}}}));
        self.reconcile(name);
    }
}
