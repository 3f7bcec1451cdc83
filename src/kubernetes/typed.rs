//! kube-rs's typed API for each kind this function touches: the built-in kinds as k8s-openapi
//! types, the custom ones as the small structs of [`crate::domain::model::crds`]. Each
//! operation is written once, generic over the type; the kind picks the type once. Converts
//! between the domain's [`Object`] and those types. I/O.

use futures::future::BoxFuture;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{LimitRange, Namespace};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy,
};
use kube::core::{ApiResource, ClusterResourceScope, NamespaceResourceScope};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::domain::model::crds::{AuthorizationPolicy, PodDefault, Profile, ServiceRoleBinding};
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

/// The typed API of one kind, cluster-wide or in one namespace: the resource type is chosen
/// once ([`KindApi::new`]), every operation is written once for any type ([`TypedApi`]).
pub struct KindApi {
    kind: Kind,
    api: Box<dyn TypedApi>,
}

/// A page of a list as JSON bodies, and the token of the next page.
type JsonPage = (Vec<Value>, Option<String>);

/// Each operation of kube's `Api<K>`, for the domain's JSON bodies, whatever `K` is.
trait TypedApi: Send + Sync {
    /// One page; `owners`: with the items' `managedFields`.
    fn list_page<'a>(
        &'a self,
        params: &'a ListParams,
        owners: bool,
    ) -> BoxFuture<'a, Result<JsonPage, kube::Error>>;
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Value, kube::Error>>;
    fn create<'a>(
        &'a self,
        params: &'a PostParams,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<Option<String>, kube::Error>>;
    fn apply<'a>(
        &'a self,
        name: &'a str,
        params: &'a PatchParams,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<(), kube::Error>>;
    fn merge_patch<'a>(
        &'a self,
        name: &'a str,
        params: &'a PatchParams,
        patch: &'a Value,
    ) -> BoxFuture<'a, Result<(), kube::Error>>;
    fn delete<'a>(
        &'a self,
        name: &'a str,
        params: &'a DeleteParams,
    ) -> BoxFuture<'a, Result<(), kube::Error>>;
}

impl<K> TypedApi for Api<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned,
    K: std::fmt::Debug + Send + Sync + 'static,
{
    fn list_page<'a>(
        &'a self,
        params: &'a ListParams,
        owners: bool,
    ) -> BoxFuture<'a, Result<JsonPage, kube::Error>> {
        Box::pin(async move { paged(Api::list(self, params).await?, owners) })
    }

    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Value, kube::Error>> {
        Box::pin(async move { to_value(Api::get(self, name).await?) })
    }

    fn create<'a>(
        &'a self,
        params: &'a PostParams,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<Option<String>, kube::Error>> {
        Box::pin(async move {
            let created = Api::create(self, params, &typed::<K>(body)?).await?;
            Ok(created.meta().uid.clone())
        })
    }

    fn apply<'a>(
        &'a self,
        name: &'a str,
        params: &'a PatchParams,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<(), kube::Error>> {
        Box::pin(async move {
            let patch = Patch::Apply(typed::<K>(body)?);
            Api::patch(self, name, params, &patch).await.map(drop)
        })
    }

    fn merge_patch<'a>(
        &'a self,
        name: &'a str,
        params: &'a PatchParams,
        patch: &'a Value,
    ) -> BoxFuture<'a, Result<(), kube::Error>> {
        Box::pin(async move {
            Api::patch(self, name, params, &Patch::Merge(patch))
                .await
                .map(drop)
        })
    }

    fn delete<'a>(
        &'a self,
        name: &'a str,
        params: &'a DeleteParams,
    ) -> BoxFuture<'a, Result<(), kube::Error>> {
        Box::pin(async move { Api::delete(self, name, params).await.map(drop) })
    }
}

/// `Api<K>` of a namespaced kind in `namespace`, or across all namespaces when `None`.
fn namespaced<K>(client: kube::Client, namespace: Option<&str>) -> Box<dyn TypedApi>
where
    K: kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    K: Clone + Serialize + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    match namespace {
        Some(ns) => Box::new(Api::<K>::namespaced(client, ns)),
        None => Box::new(Api::<K>::all(client)),
    }
}

/// `Api<K>` of a cluster-scoped kind.
fn cluster<K>(client: kube::Client) -> Box<dyn TypedApi>
where
    K: kube::Resource<DynamicType = (), Scope = ClusterResourceScope>,
    K: Clone + Serialize + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    Box::new(Api::<K>::all(client))
}

impl KindApi {
    /// The API of `kind` in `namespace`, or across all namespaces (and for cluster-scoped kinds)
    /// when `None`.
    pub fn new(client: &kube::Client, kind: Kind, namespace: Option<&str>) -> Self {
        let client = client.clone();
        let api = match kind {
            Kind::Namespace => cluster::<Namespace>(client),
            Kind::Profile => cluster::<Profile>(client),
            Kind::RoleBinding => namespaced::<RoleBinding>(client, namespace),
            Kind::Lease => namespaced::<Lease>(client, namespace),
            Kind::AuthorizationPolicy => namespaced::<AuthorizationPolicy>(client, namespace),
            Kind::ServiceRoleBinding => namespaced::<ServiceRoleBinding>(client, namespace),
            Kind::PodDefault => namespaced::<PodDefault>(client, namespace),
            Kind::LimitRange => namespaced::<LimitRange>(client, namespace),
        };
        KindApi { kind, api }
    }

    /// The API of `object`'s kind in its namespace.
    pub fn of(client: &kube::Client, object: &Object) -> Self {
        Self::new(client, object.kind, object.namespace.as_deref())
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
        let (values, next) = self
            .api
            .list_page(params, self.kind.field_owners_read())
            .await?;
        let objects = values
            .into_iter()
            .filter_map(|value| Object::from_body(self.kind, value))
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
        self.api.get(name).await
    }

    /// Creates `object` (this function as its field manager); the uid the API server gave it.
    /// With `dry_run`, the API server validates, admits and authorizes it and stores nothing.
    pub async fn create(
        &self,
        object: &Object,
        dry_run: bool,
    ) -> Result<Option<String>, kube::Error> {
        let params = PostParams {
            field_manager: Some(MANAGER.to_owned()),
            dry_run,
        };
        self.api.create(&params, &object.body).await
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
        self.api.apply(&object.name, &params, &object.body).await
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
        self.api.merge_patch(name, &params, patch).await
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
        self.api.delete(&object.name, &params).await
    }
}

/// The typed form of a domain object's body.
fn typed<K: DeserializeOwned>(body: &Value) -> Result<K, kube::Error> {
    K::deserialize(body).map_err(kube::Error::SerdeError)
}

/// The JSON form of a typed object, with its `apiVersion` and `kind` even when the server left
/// them out, as it does for the items of built-in lists (k8s-openapi writes them; the custom
/// resources' structs get them here).
fn to_value<K: kube::Resource<DynamicType = ()> + Serialize>(
    object: K,
) -> Result<Value, kube::Error> {
    let mut value = serde_json::to_value(object).map_err(kube::Error::SerdeError)?;
    if let Some(fields) = value.as_object_mut() {
        fields
            .entry("apiVersion")
            .or_insert_with(|| Value::String(K::api_version(&()).into_owned()));
        fields
            .entry("kind")
            .or_insert_with(|| Value::String(K::kind(&()).into_owned()));
    }
    Ok(value)
}

/// A list's items as JSON, without their `managedFields` (the server's bookkeeping of field
/// owners, often the bulk of an object) unless `owners`, and its `continue` token (none when
/// empty or absent).
fn paged<K: Serialize + Clone + kube::Resource<DynamicType = ()>>(
    list: kube::core::ObjectList<K>,
    owners: bool,
) -> Result<JsonPage, kube::Error> {
    let next = list.metadata.continue_.filter(|t| !t.is_empty());
    let items = list.items.into_iter().map(|mut item| {
        if !owners {
            item.meta_mut().managed_fields = None;
        }
        item
    });
    Ok((to_values(items.collect())?, next))
}

fn to_values<K: Serialize + kube::Resource<DynamicType = ()>>(
    objects: Vec<K>,
) -> Result<Vec<Value>, kube::Error> {
    objects.into_iter().map(to_value).collect()
}
