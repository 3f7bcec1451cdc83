//! What the sweep and the access report read of a cluster, page by page, keeping only bounded
//! fields: the group Profiles' namespaces (the function's territory), the people's records, the
//! bindings in the territory. An object outside the territory, or with a value longer than any
//! real one, is dropped as its page arrives, so that neither what tenants store nor the number
//! of people decides how much is held. I/O.

use std::collections::{BTreeMap, BTreeSet};

use kube::api::ListParams;
use kube::core::{Expression, Selector};
use serde_json::{Value, json};

use crate::domain::model::activity::{
    Activity, RESUME_ANNOTATION, SWEEP_STATE_LEASE, parse_rfc3339, recorded, user_key,
};
use crate::domain::model::mesh::MESH_LABEL_KEYS;
use crate::domain::model::objects::{
    GROUP_ANNOTATION, Kind, MANAGED_BY_LABEL, MANAGER, Object, USER_LABEL,
};
use crate::domain::offboarding::access::TeamSetup;
use crate::domain::offboarding::sweep::People;
use crate::domain::sign_in::plan::profile_owner;
use crate::error::Error;
use crate::kubernetes::bounded;

/// Items per page of what no tenant writes (Profiles, namespaces, Istio policies, Leases).
pub const PAGE: u32 = 250;
/// Items per page of RoleBindings, which a namespace admin writes: a page is held whole while
/// it is trimmed, and the API server takes objects of up to about 1.5 MiB (etcd's request
/// limit), so 50 of them, read, parsed and converted, stay far inside the sweep's 512 MB.
pub const TENANT_PAGE: u32 = 50;

/// The page size for objects of `kind`.
fn page_of(kind: Kind) -> u32 {
    match kind {
        Kind::RoleBinding => TENANT_PAGE,
        _ => PAGE,
    }
}

/// The longest annotation or subject value kept: an email is at most 254 characters (RFC 5321),
/// an AD group name at most 256; longer ones are cut.
pub const MAX_VALUE: usize = bounded::MAX_VALUE;
/// Subjects of a RoleBinding kept for the access report; the rest are counted.
pub const MAX_SUBJECTS: usize = 16;
/// The longest `targetRefs` kept (serialised): the one this function writes is under 100 bytes.
const MAX_TARGET_REFS: usize = 1024;

/// Annotations and labels anything here reads; everything else of an object is dropped.
const KEPT_ANNOTATIONS: &[&str] = &["owner", GROUP_ANNOTATION, RESUME_ANNOTATION];
const KEPT_LABELS: &[&str] = &[MANAGED_BY_LABEL, USER_LABEL];

/// Hands every object of `kind` matching `params` (cluster-wide, or in `namespace`) to `keep`,
/// trimmed ([`trimmed`]), as its page arrives; however large an object, it is handed on, its
/// values cut. How many objects could not be read at all.
pub async fn read_pages(
    client: &kube::Client,
    kind: Kind,
    namespace: Option<&str>,
    params: ListParams,
    mut keep: impl FnMut(Object),
) -> Result<usize, Error> {
    read_pages_while(client, kind, namespace, params, |object| {
        keep(object);
        true
    })
    .await
}

/// [`read_pages`] until `keep` answers false (no further page is read). Each page is read as
/// text and its items parsed only as far as they are read ([`bounded`]): what a namespace admin
/// stores never decides how much is built. How many items could not be read at all.
pub async fn read_pages_while(
    client: &kube::Client,
    kind: Kind,
    namespace: Option<&str>,
    params: ListParams,
    mut keep: impl FnMut(Object) -> bool,
) -> Result<usize, Error> {
    let mut params = params.limit(page_of(kind));
    let mut unreadable = 0;
    loop {
        let page = bounded::list_page(client, kind, namespace, &params, true, None)
            .await
            .map_err(|source| {
                Error::kubernetes("list", &format!("{} list", kind.name()), source)
            })?;
        unreadable += page.unreadable;
        for object in page.items {
            if !keep(trimmed(object)) {
                return Ok(unreadable);
            }
        }
        match page.next {
            Some(token) => params.continue_token = Some(token),
            None => return Ok(unreadable),
        }
    }
}

/// `value` cut to [`MAX_VALUE`] characters when it is a longer string.
fn cut(value: &Value) -> Value {
    match value.as_str() {
        Some(text) if text.chars().count() > MAX_VALUE => {
            Value::String(text.chars().take(MAX_VALUE).collect())
        }
        _ => value.clone(),
    }
}

/// `object` with only what the sweep and the report read: its identity, versions and creation,
/// the labels and annotations above, a RoleBinding's `roleRef` and first subjects (and how many
/// others it has), a Profile's owner, an AuthorizationPolicy's `targetRefs`, a Lease's renewal;
/// every string at most [`MAX_VALUE`] characters. Nothing is left out for its size: a binding
/// stays visible to the access report, and countable to the sweep, however large.
pub fn trimmed(object: Object) -> Object {
    let body = &object.body;
    let metadata = &body["metadata"];
    let mut annotations = object.meta_subset("annotations", KEPT_ANNOTATIONS);
    if let Some(kept) = annotations.as_object_mut() {
        for value in kept.values_mut() {
            *value = cut(value);
        }
    }
    let mut labels = object.meta_subset("labels", KEPT_LABELS);
    if object.kind == Kind::Namespace
        && let (Some(kept), Value::Object(mesh)) = (
            labels.as_object_mut(),
            object.meta_subset("labels", &MESH_LABEL_KEYS),
        )
    {
        kept.extend(mesh);
    }
    let mut slim = json!({"metadata": {"labels": labels, "annotations": annotations}});
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(value) = metadata.get(field) {
            slim["metadata"][field] = cut(value);
        }
    }
    if let Some(role) = body.get("roleRef").and_then(Value::as_object) {
        slim["roleRef"] = role.iter().map(|(k, v)| (k.clone(), cut(v))).collect();
    }
    if let Some(subjects) = body.get("subjects").and_then(Value::as_array) {
        // A list read in part ends with {"omitted": n}.
        let omitted_earlier: u64 = subjects
            .iter()
            .filter_map(|s| s.get("omitted").and_then(Value::as_u64))
            .sum();
        let real: Vec<&Value> = subjects
            .iter()
            .filter(|s| s.get("omitted").is_none())
            .collect();
        let kept: Vec<Value> = real
            .iter()
            .take(MAX_SUBJECTS)
            .map(|s| match s.as_object() {
                Some(fields) => fields.iter().map(|(k, v)| (k.clone(), cut(v))).collect(),
                None => Value::Null,
            })
            .collect();
        slim["subjects"] = json!(kept);
        slim["subjectsOmitted"] =
            json!(real.len().saturating_sub(MAX_SUBJECTS) as u64 + omitted_earlier);
    }
    if let Some(owner) = body.pointer("/spec/owner/name") {
        slim["spec"] = json!({"owner": {"name": cut(owner)}});
    }
    // A contributor policy's attachment, which the sweep brings to its namespace's mesh mode;
    // one longer than any this function writes is kept as a mark that differs from them all.
    if let Some(refs) = body.pointer("/spec/targetRefs") {
        let short = refs.to_string().len() <= MAX_TARGET_REFS;
        slim["spec"] = json!({"targetRefs": if short { refs.clone() } else { json!("oversized") }});
    }
    if let Some(renewed) = body.pointer("/spec/renewTime") {
        slim["spec"] = json!({"renewTime": cut(renewed)});
    }
    Object {
        body: slim,
        ..object
    }
}

/// The creation time the API server gave an object (seconds since the epoch).
pub fn created(object: &Object) -> Option<i64> {
    parse_rfc3339(
        object
            .body
            .pointer("/metadata/creationTimestamp")?
            .as_str()?,
    )
}

/// The function's labels: `managed-by` and, with `person`, a person's key present.
pub fn ours(person: bool) -> ListParams {
    let mut expressions = vec![Expression::Equal(MANAGED_BY_LABEL.into(), MANAGER.into())];
    if person {
        expressions.push(Expression::Exists(USER_LABEL.into()));
    }
    ListParams::default().labels_from(&Selector::from_iter(expressions))
}

/// What the Profiles say: the namespaces of group Profiles owned by `group_owner` (the only
/// places the function manages access), and the people with a personal Profile (labelled with
/// their key by the function).
#[derive(Debug, Default)]
pub struct Profiles {
    pub territory: BTreeSet<String>,
    /// What each team's Profile says of its AWS role and quota, by namespace.
    pub teams: BTreeMap<String, TeamSetup>,
    pub personal: BTreeMap<String, Vec<PersonalProfile>>,
}

/// A personal Profile the function made: its name and owner (the access report lists those of
/// people gone quiet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalProfile {
    pub name: String,
    pub owner: String,
}

/// Every Profile, page by page: the group Profiles' names, and the personal Profiles by person.
pub async fn profiles(client: &kube::Client, group_owner: &str) -> Result<Profiles, Error> {
    let mut found = Profiles::default();
    read_pages(
        client,
        Kind::Profile,
        None,
        ListParams::default(),
        |profile| {
            let owner = profile_owner(&profile).unwrap_or_default().to_owned();
            if owner == group_owner {
                found.territory.insert(profile.name.clone());
                found
                    .teams
                    .insert(profile.name.clone(), TeamSetup::of(&profile));
            } else if let (true, Some(key)) = (profile.is_managed(), user_key(&profile)) {
                let entry = found.personal.entry(key.to_owned()).or_default();
                entry.push(PersonalProfile {
                    name: profile.name.clone(),
                    owner,
                });
            }
        },
    )
    .await?;
    Ok(found)
}

/// The records namespace as the sweep reads it: the people's records, and its own state Lease.
#[derive(Debug, Default)]
pub struct Records {
    /// Each person's record (usable or not) and its version.
    pub people: BTreeMap<String, (Activity, String)>,
    /// The sweep's own Lease, when there is one.
    pub state: Option<Object>,
}

/// Every Lease of the records namespace, page by page.
pub async fn records(client: &kube::Client, namespace: &str) -> Result<Records, Error> {
    let mut found = Records::default();
    read_pages(client, Kind::Lease, Some(namespace), ours(false), |lease| {
        if lease.name == SWEEP_STATE_LEASE {
            found.state = Some(lease);
            return;
        }
        let version = lease
            .body
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let (Some(key), Some(activity)) = (user_key(&lease), recorded(&lease))
            && lease.name == key
        {
            found.people.insert(key.to_owned(), (activity, version));
        }
    })
    .await?;
    Ok(found)
}

/// Hands every managed binding of `kinds` in `territory`, with its person's key, to `keep`,
/// page by page. How many objects could not be read at all.
async fn territory_bindings(
    client: &kube::Client,
    kinds: &[Kind],
    territory: &BTreeSet<String>,
    mut keep: impl FnMut(&str, Object),
) -> Result<usize, Error> {
    let mut unreadable = 0;
    for kind in kinds {
        unreadable += read_pages(client, *kind, None, ours(true), |binding| {
            let in_territory = binding
                .namespace
                .as_deref()
                .is_some_and(|ns| territory.contains(ns));
            if let (true, Some(key)) = (in_territory, user_key(&binding).map(str::to_owned)) {
                keep(&key, binding);
            }
        })
        .await?;
    }
    Ok(unreadable)
}

/// Counts every person's managed bindings of `kinds` in `territory` into `people`, with the
/// creation of their oldest. How many objects could not be read at all.
pub async fn count_bindings(
    client: &kube::Client,
    kinds: &[Kind],
    territory: &BTreeSet<String>,
    people: &mut People,
) -> Result<usize, Error> {
    territory_bindings(client, kinds, territory, |key, binding| {
        people
            .entry(key.to_owned())
            .or_default()
            .add_binding(created(&binding));
    })
    .await
}

/// The managed bindings of `kinds` in `territory` of the people `wanted`, by person, each kept
/// as a revocation needs it (its place, its uid, the user it names), and each binding of
/// everyone else to `also` (the sweep looks at the kept people's policies).
pub async fn bindings_of(
    client: &kube::Client,
    kinds: &[Kind],
    territory: &BTreeSet<String>,
    wanted: &BTreeSet<&str>,
    mut also: impl FnMut(Object),
) -> Result<BTreeMap<String, Vec<Object>>, Error> {
    let mut found: BTreeMap<String, Vec<Object>> = BTreeMap::new();
    territory_bindings(client, kinds, territory, |key, binding| {
        if wanted.contains(key) {
            found
                .entry(key.to_owned())
                .or_default()
                .push(to_revoke(binding));
        } else {
            also(binding);
        }
    })
    .await?;
    Ok(found)
}

/// `binding` with only what its revocation needs: its place, its uid, and the user its first
/// `User` subject names (for the log).
fn to_revoke(binding: Object) -> Object {
    let user = binding
        .body
        .get("subjects")
        .and_then(Value::as_array)
        .and_then(|subjects| subjects.iter().find(|s| s["kind"] == "User").cloned());
    let body = json!({
        "metadata": {"uid": binding.body.pointer("/metadata/uid").cloned().unwrap_or(Value::Null)},
        "subjects": user.into_iter().collect::<Vec<_>>(),
    });
    Object { body, ..binding }
}

/// The mesh labels of every namespace in `territory` (the others dropped page by page), by
/// name: what decides the shape of a contributor policy there.
pub async fn mesh_labels(
    client: &kube::Client,
    territory: &BTreeSet<String>,
) -> Result<BTreeMap<String, Value>, Error> {
    let mut labels = BTreeMap::new();
    read_pages(
        client,
        Kind::Namespace,
        None,
        ListParams::default(),
        |namespace| {
            if territory.contains(&namespace.name) {
                labels.insert(
                    namespace.name.clone(),
                    namespace.meta_subset("labels", &MESH_LABEL_KEYS),
                );
            }
        },
    )
    .await?;
    Ok(labels)
}
