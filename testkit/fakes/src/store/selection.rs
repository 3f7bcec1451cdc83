//! Lists as kube-apiserver answers them: label and field selectors, `limit` and `continue`,
//! in the order of its storage keys. Pure.

#[allow(unused_imports)]
use super::*;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

pub(super) fn parse_label_selector(selector: &str) -> Result<Vec<Requirement>, ApiError> {
    let bad = || {
        ApiError::new(
            400,
            "BadRequest",
            format!("unable to parse requirement: invalid label selector {selector:?}"),
        )
    };
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in selector.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    let key_ok = |k: &str| is_qualified_key(k);
    let mut requirements = Vec::new();
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let requirement = if let Some((key, values)) = part
            .split_once(" notin ")
            .or_else(|| part.split_once(" in "))
        {
            let values = values
                .trim()
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or_else(bad)?
                .split(',')
                .map(|v| v.trim().to_owned())
                .collect::<Vec<_>>();
            if values.iter().any(|v| !is_qualified_name_part(v, true)) {
                return Err(bad());
            }
            let key = key.trim().to_owned();
            if part.contains(" notin ") {
                Requirement::NotIn(key, values)
            } else {
                Requirement::In(key, values)
            }
        } else if let Some((key, value)) = part.split_once("!=") {
            Requirement::NotEquals(key.trim().into(), value.trim().into())
        } else if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
            Requirement::Equals(key.trim().into(), value.trim().into())
        } else if let Some(key) = part.strip_prefix('!') {
            Requirement::NotExists(key.trim().into())
        } else {
            Requirement::Exists(part.into())
        };
        let (Requirement::Equals(key, _)
        | Requirement::NotEquals(key, _)
        | Requirement::In(key, _)
        | Requirement::NotIn(key, _)
        | Requirement::Exists(key)
        | Requirement::NotExists(key)) = &requirement;
        if !key_ok(key) {
            return Err(bad());
        }
        if let Requirement::Equals(_, v) | Requirement::NotEquals(_, v) = &requirement
            && !is_qualified_name_part(v, true)
        {
            return Err(bad());
        }
        requirements.push(requirement);
    }
    Ok(requirements)
}

pub(super) fn matches_labels(requirements: &[Requirement], body: &Value) -> bool {
    let label = |k: &str| {
        body.pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
    };
    requirements.iter().all(|r| match r {
        Requirement::Equals(k, v) => label(k) == Some(v.as_str()),
        Requirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
        Requirement::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
        Requirement::NotIn(k, vs) => !label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
        Requirement::Exists(k) => label(k).is_some(),
        Requirement::NotExists(k) => label(k).is_none(),
    })
}

/// `metadata.name` / `metadata.namespace` field selectors, the only ones custom resources support.
pub(super) fn parse_field_selector(
    selector: &str,
) -> Result<Vec<(String, bool, String)>, ApiError> {
    selector
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|part| {
            let (field, negated, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, false, v)
            } else {
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    format!("invalid field selector {part:?}"),
                ));
            };
            let field = field.trim();
            if field != "metadata.name" && field != "metadata.namespace" {
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    format!("field label not supported: {field}"),
                ));
            }
            Ok((field.to_owned(), negated, value.trim().to_owned()))
        })
        .collect()
}

impl Store {
    /// LIST, in key order (namespace, name). With `page`, at most that many items after the
    /// one `after` names, and the key of the last one when more remain.
    pub fn list(
        &self,
        target: &Target,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
        page: Option<Page<'_>>,
    ) -> Result<(Value, Option<(String, String)>), ApiError> {
        let labels = parse_label_selector(label_selector.unwrap_or(""))?;
        let fields = parse_field_selector(field_selector.unwrap_or(""))?;
        let plural = target.resource.plural;
        let after = page.and_then(|p| p.after);
        let start: Key = match after {
            Some((ns, name)) => (plural, Ns(ns.to_owned()), name.to_owned()),
            None => (plural, Ns::default(), String::new()),
        };
        let limit = page.map_or(usize::MAX, |p| p.limit);
        let from = start.clone();
        let mut matching = self
            .objects
            .range(start..)
            .take_while(|((p, _, _), _)| *p == plural)
            // The range starts at the `after` object itself, which is not part of the page.
            .filter(|(key, _)| after.is_none() || **key != from)
            .filter(|((_, ns, name), _)| {
                target.namespace.is_none_or(|t| t == ns.as_str())
                    && fields.iter().all(|(field, negated, value)| {
                        let actual = if field == "metadata.name" {
                            name
                        } else {
                            &ns.0
                        };
                        (actual == value) != *negated
                    })
            })
            .filter(|(_, stored)| matches_labels(&labels, &stored.body));
        let mut items = Vec::new();
        let mut last = None;
        for ((_, ns, name), stored) in matching.by_ref().take(limit) {
            let mut item = self.render(stored, target.version);
            // kube-apiserver leaves the type out of the items of built-in lists (clients
            // see empty TypeMeta there); custom resources' items keep theirs.
            if target.resource.builtin
                && let Some(fields) = item.as_object_mut()
            {
                fields.remove("apiVersion");
                fields.remove("kind");
            }
            items.push(item);
            last = Some((ns.0.clone(), name.clone()));
        }
        let more = matching.next().is_some();
        let group = target.resource.group;
        let list = json!({
            "apiVersion": if group.is_empty() { target.version.to_owned() } else { format!("{group}/{}", target.version) },
            "kind": format!("{}List", target.resource.kind),
            "metadata": {"resourceVersion": self.resource_version.to_string()},
            "items": items,
        });
        Ok((list, last.filter(|_| more)))
    }
}
