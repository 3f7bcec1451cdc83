//! Lists read as text, item by item, so that what a namespace admin stores never decides how
//! much is parsed or held: an item up to [`MAX_PARSED_ITEM`] is parsed whole; a larger one only
//! as far as this function reads objects (a few known fields, each value at most
//! [`MAX_VALUE`] characters, each list at most [`MAX_ITEMS`] long and the rest counted), the rest
//! skipped without being built. The page's text is the most held at once. I/O.

use std::fmt;

use kube::api::ListParams;
use kube::core::{ApiResource, DynamicObject, Resource};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::domain::model::objects::{KFAM_ROLE_ANNOTATION, KFAM_USER_ANNOTATION, Kind, Object};
use crate::kubernetes::policy::AnswerLimit;
use crate::kubernetes::typed::api_resource;

/// The largest item parsed whole: the function's own objects are under 2 KiB.
pub const MAX_PARSED_ITEM: usize = 64 * 1024;
/// The longest string kept of a larger item.
pub const MAX_VALUE: usize = 1024;
/// The most elements kept of a list of a larger item; the count of the others is appended as
/// `{"omitted": n}`.
pub const MAX_ITEMS: usize = 16;

/// The fields of a larger item that are kept (at any depth); everything else is skipped.
const KEPT_FIELDS: &[&str] = &[
    "metadata",
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "labels",
    "annotations",
    "app.kubernetes.io/managed-by",
    "kubeflow-profile-manager/user",
    "kubeflow-profile-manager/group",
    "kubeflow-profile-manager/resume-at",
    "owner",
    KFAM_USER_ANNOTATION,
    KFAM_ROLE_ANNOTATION,
    "roleRef",
    "subjects",
    "kind",
    "apiGroup",
    "spec",
    "targetRefs",
    "renewTime",
];

/// One page of a list: its items (larger ones as far as they are read) and the token of the
/// next page.
pub struct Page {
    pub items: Vec<Object>,
    /// Items that could not be read at all.
    pub unreadable: usize,
    /// Items larger than [`MAX_PARSED_ITEM`], read only in part.
    pub oversized: usize,
    /// The length of the page's text.
    pub bytes: usize,
    pub next: Option<String>,
}

#[derive(Deserialize)]
struct RawList<'a> {
    #[serde(borrow, default)]
    items: Vec<&'a RawValue>,
    #[serde(default)]
    metadata: ListMeta,
}

#[derive(Deserialize, Default)]
struct ListMeta {
    #[serde(rename = "continue", default)]
    next: Option<String>,
}

/// One page of the objects of `kind` (in `namespace`, or everywhere) matching `params`. Items
/// larger than [`MAX_PARSED_ITEM`] are read in part when `partial`, else left out. An answer
/// over `limit` bytes is refused unread ([`crate::kubernetes::policy::answer_too_large`]).
pub async fn list_page(
    client: &kube::Client,
    kind: Kind,
    namespace: Option<&str>,
    params: &ListParams,
    partial: bool,
    limit: Option<usize>,
) -> Result<Page, kube::Error> {
    let resource = api_resource(kind);
    let path = DynamicObject::url_path(&resource, namespace);
    let mut request = kube::core::Request::new(path)
        .list(params)
        .map_err(kube::Error::BuildRequest)?;
    if let Some(limit) = limit {
        request.extensions_mut().insert(AnswerLimit(limit));
    }
    let text = client.request_text(request).await?;
    let list: RawList = serde_json::from_str(&text).map_err(kube::Error::SerdeError)?;
    let mut page = Page {
        items: Vec::with_capacity(list.items.len()),
        unreadable: 0,
        oversized: 0,
        bytes: text.len(),
        next: list.metadata.next.filter(|t| !t.is_empty()),
    };
    for raw in list.items {
        let whole = raw.get().len() <= MAX_PARSED_ITEM;
        if !whole {
            page.oversized += 1;
            if !partial {
                continue;
            }
        }
        let parsed = if whole {
            serde_json::from_str::<Value>(raw.get())
        } else {
            let mut reader = serde_json::Deserializer::from_str(raw.get());
            Bounded { depth: 0 }.deserialize(&mut reader)
        };
        match parsed
            .ok()
            .and_then(|body| Object::from_body(kind, typed(body, &resource)))
        {
            Some(object) => page.items.push(object),
            None => page.unreadable += 1,
        }
    }
    Ok(page)
}

/// `body` with its type, which kube-apiserver leaves out of the items of built-in lists (as
/// the typed API's objects carry it).
fn typed(mut body: Value, resource: &ApiResource) -> Value {
    if let Some(fields) = body.as_object_mut() {
        fields
            .entry("apiVersion")
            .or_insert_with(|| json!(resource.api_version));
        fields.entry("kind").or_insert_with(|| json!(resource.kind));
    }
    body
}

/// Builds a JSON value of the kept fields only, strings and lists cut short.
struct Bounded {
    depth: usize,
}

const MAX_DEPTH: usize = 8;

impl<'de> DeserializeSeed<'de> for Bounded {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(json!(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(json!(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(json!(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        let cut = v
            .char_indices()
            .nth(MAX_VALUE)
            .map_or(v, |(at, _)| &v[..at]);
        Ok(Value::String(cut.to_owned()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut kept = Vec::new();
        let mut omitted = 0_u64;
        loop {
            if kept.len() < MAX_ITEMS && self.depth < MAX_DEPTH {
                match seq.next_element_seed(Bounded {
                    depth: self.depth + 1,
                })? {
                    Some(value) => kept.push(value),
                    None => break,
                }
            } else {
                match seq.next_element::<IgnoredAny>()? {
                    Some(_) => omitted += 1,
                    None => break,
                }
            }
        }
        if omitted > 0 {
            kept.push(json!({"omitted": omitted}));
        }
        Ok(Value::Array(kept))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if self.depth < MAX_DEPTH && KEPT_FIELDS.contains(&key.as_str()) {
                let value = map.next_value_seed(Bounded {
                    depth: self.depth + 1,
                })?;
                kept.insert(key, value);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Value::Object(kept))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounded(text: &str) -> Value {
        let mut reader = serde_json::Deserializer::from_str(text);
        Bounded { depth: 0 }.deserialize(&mut reader).unwrap()
    }

    #[test]
    fn a_large_item_is_read_only_as_far_as_the_function_reads_objects() {
        let subjects: Vec<Value> = (0..1000)
            .map(|i| json!({"kind": "User", "name": format!("u{i}"), "apiGroup": "rbac.authorization.k8s.io"}))
            .collect();
        let item = json!({
            "metadata": {"name": "x", "namespace": "ml", "uid": "u-1",
                         "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager",
                                    "junk": "y".repeat(5000)},
                         "annotations": {"ballast": "z".repeat(200_000),
                                         "owner": "o".repeat(3000)}},
            "roleRef": {"kind": "ClusterRole", "name": "kubeflow-edit"},
            "subjects": subjects,
        });
        let read = bounded(&item.to_string());
        assert_eq!(read["metadata"]["name"], "x");
        assert_eq!(
            read["metadata"]["labels"],
            json!({"app.kubernetes.io/managed-by": "kubeflow-profile-manager"})
        );
        assert!(read["metadata"]["annotations"].get("ballast").is_none());
        assert_eq!(
            read["metadata"]["annotations"]["owner"]
                .as_str()
                .unwrap()
                .len(),
            MAX_VALUE
        );
        let kept = read["subjects"].as_array().unwrap();
        assert_eq!(kept.len(), MAX_ITEMS + 1);
        assert_eq!(kept[0]["name"], "u0");
        assert_eq!(kept[MAX_ITEMS], json!({"omitted": 1000 - MAX_ITEMS}));
        assert_eq!(read["roleRef"]["name"], "kubeflow-edit");
    }
}
