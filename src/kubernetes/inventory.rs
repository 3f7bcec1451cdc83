//! Everything this function manages on the cluster, for the sweep and the access report: its
//! bindings of every kind the cluster serves and every Profile, each read in pages of 500 and
//! kept only as far as they are read. I/O.

use kube::api::ListParams;
use kube::core::{Expression, Selector};

use serde_json::{Map, Value, json};

use crate::domain::activity::{
    LAST_ACTIVITY_ANNOTATION, SWEEP_RESUME_ANNOTATION, USERNAME_ANNOTATION,
};
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
    let api = KindApi::new(client, kind, None);
    let mut params = params.limit(PAGE);
    let mut objects = Vec::new();
    loop {
        let (page, next) = api.list_page(&params).await.map_err(|source| {
            Error::kubernetes("list", &format!("{} list", kind.name()), source)
        })?;
        objects.extend(page.into_iter().map(trimmed));
        match next {
            Some(token) => params.continue_token = Some(token),
            None => return Ok(objects),
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

/// `object` with only what the sweep and the report read: its identity and versions, the labels
/// and annotations above, a RoleBinding's `roleRef` and a Profile's owner.
fn trimmed(object: Object) -> Object {
    let body = &object.body;
    let metadata = &body["metadata"];
    let pick = |field: &str, keys: &[&str]| -> Value {
        let mut kept = Map::new();
        for key in keys {
            if let Some(value) = metadata.get(field).and_then(|m| m.get(*key)) {
                kept.insert((*key).to_owned(), value.clone());
            }
        }
        Value::Object(kept)
    };
    let mut slim = json!({"metadata": {
        "labels": pick("labels", KEPT_LABELS),
        "annotations": pick("annotations", KEPT_ANNOTATIONS),
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
