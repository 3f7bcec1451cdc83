//! kube-rs's typed API for each kind this function touches: `Api<Namespace>` and
//! `Api<RoleBinding>` over k8s-openapi types, `Api<DynamicObject>` with an `ApiResource` for
//! Profiles and the Istio kinds. Converts between the domain's [`Object`] and those types. I/O.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy,
};
use kube::core::{ApiResource, DynamicObject};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::domain::model::objects::{Kind, MANAGER, Object};

/// The `ApiResource` of a kind (group, version, kind, plural), as discovery would give it.
pub fn api_resource(kind: Kind) -> ApiResource {
    ApiResource {
        group: kind.group().to_owned(),
        version: kind.version().to_owned(),
        api_version: kind.api_version(),
        kind: kind.name().to_owned(),
        plural: kind.plural().to_owned(),
    }
}

/// The typed API of one kind, cluster-wide or in one namespace.
pub enum KindApi {
    Namespaces(Api<Namespace>),
    RoleBindings(Api<RoleBinding>),
    Leases(Api<Lease>),
    Custom(Kind, Api<DynamicObject>),
}

impl KindApi {
    /// The API of `kind` in `namespace`, or across all namespaces (and for cluster-scoped kinds)
    /// when `None`.
    pub fn new(client: &kube::Client, kind: Kind, namespace: Option<&str>) -> Self {
        let client = client.clone();
        match (kind, namespace) {
            (Kind::Namespace, _) => KindApi::Namespaces(Api::all(client)),
            (Kind::RoleBinding, Some(ns)) => KindApi::RoleBindings(Api::namespaced(client, ns)),
            (Kind::RoleBinding, None) => KindApi::RoleBindings(Api::all(client)),
            (Kind::Lease, Some(ns)) => KindApi::Leases(Api::namespaced(client, ns)),
            (Kind::Lease, None) => KindApi::Leases(Api::all(client)),
            (_, Some(ns)) => {
                KindApi::Custom(kind, Api::namespaced_with(client, ns, &api_resource(kind)))
            }
            (_, None) => KindApi::Custom(kind, Api::all_with(client, &api_resource(kind))),
        }
    }

    /// The API of `object`'s kind in its namespace.
    pub fn of(client: &kube::Client, object: &Object) -> Self {
        Self::new(client, object.kind, object.namespace.as_deref())
    }

    fn kind(&self) -> Kind {
        match self {
            KindApi::Namespaces(_) => Kind::Namespace,
            KindApi::RoleBindings(_) => Kind::RoleBinding,
            KindApi::Leases(_) => Kind::Lease,
            KindApi::Custom(kind, _) => *kind,
        }
    }

    /// The first page of a list (the whole list when `params` sets no limit).
    pub async fn list(&self, params: &ListParams) -> Result<Vec<Object>, kube::Error> {
        Ok(self.list_page(params).await?.0)
    }

    /// One page of a list, and the token of the next page when there is one.
    pub async fn list_page(
        &self,
        params: &ListParams,
    ) -> Result<(Vec<Object>, Option<String>), kube::Error> {
        let kind = self.kind();
        let (values, next) = match self {
            KindApi::Namespaces(api) => paged(api.list(params).await?)?,
            KindApi::RoleBindings(api) => paged(api.list(params).await?)?,
            KindApi::Leases(api) => paged(api.list(params).await?)?,
            KindApi::Custom(_, api) => paged(api.list(params).await?)?,
        };
        let objects = values
            .into_iter()
            .filter_map(|value| Object::from_body(kind, value))
            .collect();
        Ok((objects, next))
    }

    /// The object `name`, or `None` when there is none (404).
    pub async fn get_opt(&self, name: &str) -> Result<Option<Value>, kube::Error> {
        match self.get(name).await {
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            other => other.map(Some),
        }
    }

    pub async fn get(&self, name: &str) -> Result<Value, kube::Error> {
        match self {
            KindApi::Namespaces(api) => to_value(api.get(name).await?),
            KindApi::RoleBindings(api) => to_value(api.get(name).await?),
            KindApi::Leases(api) => to_value(api.get(name).await?),
            KindApi::Custom(_, api) => to_value(api.get(name).await?),
        }
    }

    /// Creates `object` (this function as its field manager); with `dry_run`, the API server
    /// validates, admits and authorizes it and stores nothing.
    /// Creates `object`; the uid the API server gave it.
    pub async fn create(
        &self,
        object: &Object,
        dry_run: bool,
    ) -> Result<Option<String>, kube::Error> {
        let params = PostParams {
            field_manager: Some(MANAGER.to_owned()),
            dry_run,
        };
        Ok(match self {
            KindApi::Namespaces(api) => api.create(&params, &typed(object)?).await?.metadata.uid,
            KindApi::RoleBindings(api) => api.create(&params, &typed(object)?).await?.metadata.uid,
            KindApi::Leases(api) => api.create(&params, &typed(object)?).await?.metadata.uid,
            KindApi::Custom(_, api) => api.create(&params, &typed(object)?).await?.metadata.uid,
        })
    }

    /// Server-side apply of `object` as this function's field manager; `force` takes over
    /// fields another manager set; `dry_run` stores nothing.
    pub async fn apply(
        &self,
        object: &Object,
        force: bool,
        dry_run: bool,
    ) -> Result<(), kube::Error> {
        let mut params = PatchParams::apply(MANAGER);
        params.force = force;
        params.dry_run = dry_run;
        let name = object.name.as_str();
        match self {
            KindApi::Namespaces(api) => drop(
                api.patch(name, &params, &Patch::Apply(typed::<Namespace>(object)?))
                    .await?,
            ),
            KindApi::RoleBindings(api) => drop(
                api.patch(name, &params, &Patch::Apply(typed::<RoleBinding>(object)?))
                    .await?,
            ),
            KindApi::Leases(api) => drop(
                api.patch(name, &params, &Patch::Apply(typed::<Lease>(object)?))
                    .await?,
            ),
            KindApi::Custom(_, api) => drop(
                api.patch(
                    name,
                    &params,
                    &Patch::Apply(typed::<DynamicObject>(object)?),
                )
                .await?,
            ),
        }
        Ok(())
    }

    /// A JSON merge patch (RFC 7386) of `patch` onto the object `name`, as this function's
    /// field manager; never creates one. `dry_run` stores nothing.
    pub async fn merge_patch(
        &self,
        name: &str,
        patch: &Value,
        dry_run: bool,
    ) -> Result<(), kube::Error> {
        let params = PatchParams {
            field_manager: Some(MANAGER.to_owned()),
            dry_run,
            ..PatchParams::default()
        };
        let patch = Patch::Merge(patch);
        match self {
            KindApi::Namespaces(api) => drop(api.patch(name, &params, &patch).await?),
            KindApi::RoleBindings(api) => drop(api.patch(name, &params, &patch).await?),
            KindApi::Leases(api) => drop(api.patch(name, &params, &patch).await?),
            KindApi::Custom(_, api) => drop(api.patch(name, &params, &patch).await?),
        }
        Ok(())
    }

    /// Deletes `object`, only if it is still the one with its listed uid; `dry_run` deletes
    /// nothing.
    pub async fn delete(&self, object: &Object, dry_run: bool) -> Result<(), kube::Error> {
        self.delete_if(object, dry_run, false).await
    }

    /// [`KindApi::delete`]; with `unchanged`, only if it is still the very version listed (its
    /// `resourceVersion`): a write since refuses it (409).
    pub async fn delete_if(
        &self,
        object: &Object,
        dry_run: bool,
        unchanged: bool,
    ) -> Result<(), kube::Error> {
        let version = object
            .body
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .filter(|_| unchanged);
        let params = DeleteParams {
            dry_run,
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: (object.uid().is_some() || version.is_some()).then(|| Preconditions {
                uid: object.uid().map(str::to_owned),
                resource_version: version.map(str::to_owned),
            }),
            ..DeleteParams::default()
        };
        let name = object.name.as_str();
        match self {
            KindApi::Namespaces(api) => drop(api.delete(name, &params).await?),
            KindApi::RoleBindings(api) => drop(api.delete(name, &params).await?),
            KindApi::Leases(api) => drop(api.delete(name, &params).await?),
            KindApi::Custom(_, api) => drop(api.delete(name, &params).await?),
        }
        Ok(())
    }
}

/// The typed form of a domain object's body.
fn typed<K: DeserializeOwned>(object: &Object) -> Result<K, kube::Error> {
    serde_json::from_value(object.body.clone()).map_err(kube::Error::SerdeError)
}

/// The JSON form of a typed object: k8s-openapi writes `apiVersion` and `kind` even when the
/// server left them out, as it does for the items of built-in lists.
fn to_value<K: Serialize>(object: K) -> Result<Value, kube::Error> {
    serde_json::to_value(object).map_err(kube::Error::SerdeError)
}

/// A list's items as JSON, without their `managedFields` (the server's bookkeeping of field
/// owners, often the bulk of an object, which nothing here reads), and its `continue` token
/// (none when empty or absent).
fn paged<K: Serialize + Clone + kube::Resource>(
    list: kube::core::ObjectList<K>,
) -> Result<(Vec<Value>, Option<String>), kube::Error> {
    let next = list.metadata.continue_.filter(|t| !t.is_empty());
    let items = list.items.into_iter().map(|mut item| {
        item.meta_mut().managed_fields = None;
        item
    });
    Ok((to_values(items.collect())?, next))
}

fn to_values<K: Serialize>(objects: Vec<K>) -> Result<Vec<Value>, kube::Error> {
    objects.into_iter().map(to_value).collect()
}
