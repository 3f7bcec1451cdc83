//! Everything this function manages on the cluster, for the sweep and the access report: its
//! bindings of every kind the cluster serves and every Profile, each read in pages of 500 and
//! kept only as far as they are read. I/O.

use std::collections::{BTreeMap, BTreeSet};

use kube::api::ListParams;
use kube::core::{Expression, Selector};

use serde_json::{Value, json};

use crate::domain::activity::{
    LAST_ACTIVITY_ANNOTATION, SWEEP_RESUME_ANNOTATION, USERNAME_ANNOTATION,
};
use crate::domain::mesh::MESH_LABEL_KEYS;
use crate::domain::objects::{Kind, MANAGED_BY_LABEL, MANAGER, Object, USER_LABEL};
use crate::error::Error;
use crate::kubernetes::typed::KindApi;

/// Items per page: kubectl's default chunk size.
const PAGE: u32 = 500;

/// What the cluster holds of this function's, as read.
pub struct Inventory {
    /// This function's RoleBindings and Istio twins, everywhere.
    pub bindings: Vec<Object>,
    /// Every Profile.
    pub profiles: Vec<Object>,
}

/// Every object of `kind` (cluster-wide) matching `params`, page by page.
pub async fn list_all(
    client: &kube::Client,
    kind: Kind,
    params: ListParams,
) -> Result<Vec<Object>, Error> {
    let mut objects = Vec::new();
    read_pages(client, kind, params, |object| objects.push(trimmed(object))).await?;
    Ok(objects)
}

/// Hands every object of `kind` matching `params` to `keep` as its page arrives.
async fn read_pages(
    client: &kube::Client,
    kind: Kind,
    params: ListParams,
    mut keep: impl FnMut(Object),
) -> Result<(), Error> {
    let api = KindApi::new(client, kind, None);
    let mut params = params.limit(PAGE);
    loop {
        let (page, next) = api.list_page(&params).await.map_err(|source| {
            Error::kubernetes("list", &format!("{} list", kind.name()), source)
        })?;
        page.into_iter().for_each(&mut keep);
        match next {
            Some(token) => params.continue_token = Some(token),
            None => return Ok(()),
        }
    }
}

/// Annotations and labels the sweep and the report read; everything else of an object is
/// dropped as its page arrives, so that thousands of people fit a small function.
const KEPT_ANNOTATIONS: &[&str] = &[
    "user",
    "role",
    LAST_ACTIVITY_ANNOTATION,
    USERNAME_ANNOTATION,
    SWEEP_RESUME_ANNOTATION,
];
const KEPT_LABELS: &[&str] = &[MANAGED_BY_LABEL, USER_LABEL];

/// The longest `targetRefs` kept (serialised): the one this function writes is under 100 bytes.
const MAX_TARGET_REFS: usize = 1024;

/// `object` with only what the sweep and the report read: its identity and versions, the labels
/// and annotations above, a RoleBinding's `roleRef`, a Profile's owner and an
/// AuthorizationPolicy's `targetRefs`.
fn trimmed(object: Object) -> Object {
    let body = &object.body;
    let metadata = &body["metadata"];
    let mut slim = json!({"metadata": {
        "labels": object.meta_subset("labels", KEPT_LABELS),
        "annotations": object.meta_subset("annotations", KEPT_ANNOTATIONS),
    }});
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(value) = metadata.get(field) {
            slim["metadata"][field] = value.clone();
        }
    }
    if let Some(role) = body.get("roleRef") {
        slim["roleRef"] = role.clone();
    }
    if let Some(owner) = body.pointer("/spec/owner") {
        slim["spec"] = json!({"owner": owner});
    }
    // A contributor policy's attachment, which the sweep brings to its namespace's mesh mode;
    // one longer than any this function writes is kept as a mark that differs from them all.
    if let Some(refs) = body.pointer("/spec/targetRefs") {
        let short = refs.to_string().len() <= MAX_TARGET_REFS;
        slim["spec"] = json!({"targetRefs": if short { refs.clone() } else { json!("oversized") }});
    }
    Object {
        body: slim,
        ..object
    }
}

/// This function's bindings of `binding_kinds` and every Profile, read concurrently.
pub async fn inventory(client: &kube::Client, binding_kinds: &[Kind]) -> Result<Inventory, Error> {
    let ours = ListParams::default().labels_from(&Selector::from(Expression::Equal(
        MANAGED_BY_LABEL.into(),
        MANAGER.into(),
    )));
    let (bindings, profiles) = futures::join!(
        futures::future::join_all(binding_kinds.iter().map(|kind| list_all(
            client,
            *kind,
            ours.clone()
        ))),
        list_all(client, Kind::Profile, ListParams::default()),
    );
    Ok(Inventory {
        bindings: bindings
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?
            .concat(),
        profiles: profiles?,
    })
}

/// The mesh labels of every namespace in `territory` (the others dropped page by page), by
/// name: what decides the shape of a contributor policy there.
pub async fn mesh_labels(
    client: &kube::Client,
    territory: &BTreeSet<&str>,
) -> Result<BTreeMap<String, Value>, Error> {
    let mut labels = BTreeMap::new();
    read_pages(
        client,
        Kind::Namespace,
        ListParams::default(),
        |namespace| {
            if territory.contains(namespace.name.as_str()) {
                let mesh = namespace.meta_subset("labels", &MESH_LABEL_KEYS);
                labels.insert(namespace.name, mesh);
            }
        },
    )
    .await?;
    Ok(labels)
}
