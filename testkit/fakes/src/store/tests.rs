//! The store's unit tests. Pure.

use super::*;

fn target(resource: Resource, namespace: Option<&'static str>) -> Target<'static> {
    Target {
        resource,
        version: resource.versions[0],
        namespace,
    }
}

fn store_with_namespace(name: &str) -> Store {
    let mut store = Store::default();
    store
        .create(
            &target(NAMESPACES, None),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
            "test",
        )
        .unwrap();
    store
}

fn profile(owner: &str) -> Value {
    json!({"apiVersion": "kubeflow.org/v1", "kind": "Profile", "metadata": {"name": "team"},
           "spec": {"owner": {"kind": "User", "name": owner}}})
}

#[test]
fn apply_conflicts_with_another_managers_field_unless_forced() {
    let mut store = Store::default();
    let t = target(PROFILES, None);
    store
        .apply(&t, "team", profile("a@x"), Some("kubectl"), false)
        .unwrap();
    let err = store
        .apply(&t, "team", profile("b@x"), Some("other"), false)
        .unwrap_err();
    assert_eq!((err.code, err.reason), (409, "Conflict"));
    assert!(err.message.contains(".spec.owner.name"), "{}", err.message);
    // Same value: shared ownership, no conflict, no new resourceVersion.
    let rv = store.resource_version();
    store
        .apply(&t, "team", profile("a@x"), Some("other"), false)
        .unwrap();
    assert!(store.resource_version() > rv, "ownership changed");
    let rv = store.resource_version();
    store
        .apply(&t, "team", profile("a@x"), Some("other"), false)
        .unwrap();
    assert_eq!(store.resource_version(), rv, "a no-op apply moves nothing");
    let (forced, _) = store
        .apply(&t, "team", profile("b@x"), Some("other"), true)
        .unwrap();
    assert_eq!(
        forced["spec"]["owner"]["name"], "b@x",
        "force takes the field over"
    );
}

#[test]
fn lists_come_in_storage_key_order_and_pages_follow_it() {
    // `/registry/rolebindings/team-a/...` sorts before `/registry/rolebindings/team/...`.
    let mut store = store_with_namespace("team");
    store
        .create(
            &target(NAMESPACES, None),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
            "test",
        )
        .unwrap();
    let rb = |name: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": name},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "a@x"}]})
    };
    for (ns, name) in [
        ("team", "a"),
        ("team-a", "b"),
        ("team", "c"),
        ("team-a", "d"),
    ] {
        let t = Target {
            resource: ROLEBINDINGS,
            version: "v1",
            namespace: Some(ns),
        };
        store.create(&t, rb(name), "test").unwrap();
    }
    let all = target(ROLEBINDINGS, None);
    let place = |item: &Value| {
        format!(
            "{}/{}",
            item["metadata"]["namespace"].as_str().unwrap(),
            item["metadata"]["name"].as_str().unwrap()
        )
    };
    let (list, _) = store.list(&all, None, None, None).unwrap();
    let order: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(place)
        .collect();
    assert_eq!(order, ["team-a/b", "team-a/d", "team/a", "team/c"]);
    let page = Page {
        limit: 2,
        after: None,
    };
    let (first, last) = store.list(&all, None, None, Some(page)).unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let last = last.unwrap();
    let page = Page {
        limit: 2,
        after: Some((last.0.as_str(), last.1.as_str())),
    };
    let (second, last) = store.list(&all, None, None, Some(page)).unwrap();
    let order: Vec<String> = second["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(place)
        .collect();
    assert_eq!(
        (order, last),
        (vec!["team/a".to_owned(), "team/c".to_owned()], None)
    );
}

#[test]
fn names_labels_namespaces_and_duplicates_are_checked() {
    let mut store = store_with_namespace("ml");
    let rb = |name: &str, labels: Value| {
        json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "labels": labels},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "a@x"}]})
    };
    let ml = target(ROLEBINDINGS, Some("ml"));
    assert_eq!(
        store
            .create(&ml, rb("a/b", json!({})), "t")
            .unwrap_err()
            .code,
        422
    );
    assert_eq!(
        store
            .create(&ml, rb("ok", json!({"k": "a@x"})), "t")
            .unwrap_err()
            .code,
        422
    );
    assert_eq!(
        store
            .create(
                &target(ROLEBINDINGS, Some("nope")),
                rb("ok", json!({})),
                "t"
            )
            .unwrap_err()
            .code,
        404
    );
    store.create(&ml, rb("ok", json!({})), "t").unwrap();
    assert_eq!(
        store
            .create(&ml, rb("ok", json!({})), "t")
            .unwrap_err()
            .code,
        409
    );
    let mut changed = rb("ok", json!({}));
    changed["roleRef"]["name"] = json!("kubeflow-admin");
    let err = store
        .apply(&ml, "ok", changed, Some("t"), true)
        .unwrap_err();
    assert_eq!(err.code, 422);
    assert_eq!(
        store
            .apply(&ml, "ok", rb("ok", json!({})), None, false)
            .unwrap_err()
            .code,
        400
    );
    let bad_ns = target(NAMESPACES, None);
    let err = store
        .create(
            &bad_ns,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Bad_Name"}}),
            "t",
        )
        .unwrap_err();
    assert_eq!(err.code, 422);
}

#[test]
fn updates_need_the_current_resource_version() {
    let mut store = store_with_namespace("ml");
    let t = target(NAMESPACES, None);
    let current = store.get(&t, "ml").unwrap();
    let mut stale = current.clone();
    stale["metadata"]["managedFields"] = Value::Null;
    stale["metadata"]["labels"]["x"] = json!("1");
    store.update(&t, "ml", stale.clone(), "t").unwrap();
    assert_eq!(store.update(&t, "ml", stale, "t").unwrap_err().code, 409);
}

#[test]
fn label_selectors_select() {
    let store = store_with_namespace("ml");
    let t = target(NAMESPACES, None);
    let count = |sel: &str| {
        store.list(&t, Some(sel), None, None).unwrap().0["items"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count("kubernetes.io/metadata.name in (ml,other)"), 1);
    assert_eq!(count("kubernetes.io/metadata.name notin (ml)"), 0);
    assert_eq!(count("kubernetes.io/metadata.name=ml,!missing"), 1);
    assert_eq!(count("missing"), 0);
    assert_eq!(
        store.list(&t, Some("a in b"), None, None).unwrap_err().code,
        400
    );
    assert_eq!(
        store
            .list(&t, None, Some("spec.x=1"), None)
            .unwrap_err()
            .code,
        400
    );
}
