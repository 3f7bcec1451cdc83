//! The unit tests of `mesh`. Pure.

use super::*;
use serde_json::json;

fn namespace(name: &str, labels: Value, owned: bool) -> Object {
    let mut body = json!({"metadata": {"name": name, "labels": labels}});
    if owned {
        body["metadata"]["ownerReferences"] = json!([{"apiVersion": "kubeflow.org/v1", "kind": "Profile", "name": name, "controller": true}]);
    }
    Object::from_body(Kind::Namespace, body).unwrap()
}

#[test]
fn the_mesh_labels_are_learnt_only_from_a_namespace_the_controller_created() {
    let sidecar = namespace(
        "profile-jo",
        json!({"istio-injection": "enabled", "app.kubernetes.io/part-of": "kubeflow-profile"}),
        true,
    );
    assert_eq!(learnt_from(&sidecar, false), Some(default_mesh_labels()));
    assert_eq!(
        learnt_from(&sidecar, true),
        None,
        "one of ours teaches nothing"
    );
    let adopted = namespace(
        "team",
        json!({"app.kubernetes.io/part-of": "kubeflow-profile"}),
        false,
    );
    assert_eq!(
        learnt_from(&adopted, false),
        None,
        "adopted: not the controller's choice"
    );
    let ambient = namespace(
        "profile-jo",
        json!({"istio-injection": "disabled", "istio.io/dataplane-mode": "ambient",
               "istio.io/use-waypoint": "waypoint", "istio.io/use-waypoint-namespace": "profile-jo",
               "istio.io/ingress-use-waypoint": "true"}),
        true,
    );
    let learnt = learnt_from(&ambient, false).unwrap();
    assert_eq!(learnt["istio.io/use-waypoint-namespace"], OWN_NAMESPACE);
    assert_eq!(
        for_namespace(&learnt, "ml")["istio.io/use-waypoint-namespace"],
        "ml",
        "the waypoint of each namespace is its own"
    );
}

#[test]
fn only_a_namespace_without_any_mesh_label_is_repaired() {
    assert!(lacks_mesh_labels(&namespace(
        "ml",
        json!({"pipelines.kubeflow.org/enabled": "true"}),
        false
    )));
    assert!(lacks_mesh_labels(&namespace("ml", Value::Null, false)));
    for chosen in [
        json!({"istio-injection": "disabled"}),
        json!({"istio.io/dataplane-mode": "ambient"}),
    ] {
        assert!(!lacks_mesh_labels(&namespace("ml", chosen, false)));
    }
    let off = namespace("ml", json!({"istio-injection": "disabled"}), false);
    assert_eq!(
        differences(&off, &default_mesh_labels()),
        [(
            "istio-injection".to_owned(),
            Some("disabled".to_owned()),
            "enabled".to_owned()
        )]
    );
}

#[test]
fn an_ambient_namespace_attaches_the_policy_to_its_waypoint_or_writes_none() {
    let ambient = json!({"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint",
                         "istio.io/use-waypoint-namespace": "ml", "istio.io/ingress-use-waypoint": "true"});
    assert_eq!(
        reach(Some(&ambient), "ml"),
        Reach::Waypoint("waypoint".into())
    );
    assert_eq!(
        reach(Some(&ambient), "nlp"),
        Reach::NoHeaderRules,
        "another namespace's waypoint"
    );
    assert_eq!(
        reach(Some(&json!({"istio.io/dataplane-mode": "ambient"})), "ml"),
        Reach::NoHeaderRules
    );
    assert_eq!(
        reach(Some(&json!({"istio-injection": "enabled"})), "ml"),
        Reach::Sidecar
    );
    let both = json!({"istio-injection": "enabled", "istio.io/dataplane-mode": "ambient"});
    assert_eq!(
        reach(Some(&both), "ml"),
        Reach::Sidecar,
        "a sidecar wins over ambient"
    );
    assert_eq!(reach(None, "ml"), Reach::Sidecar);
    let objects = vec![
        Object::new(Kind::RoleBinding, Some("ml"), "b", json!({"roleRef": {}})),
        Object::new(
            Kind::AuthorizationPolicy,
            Some("ml"),
            "b",
            json!({"spec": {"rules": []}}),
        ),
    ];
    let attached = shaped(&objects, &Reach::Waypoint("waypoint".into()));
    assert_eq!(
        attached[1].body["spec"]["targetRefs"],
        json!([{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "waypoint"}])
    );
    assert_eq!(attached[0], objects[0]);
    let without = shaped(&objects, &Reach::NoHeaderRules);
    assert_eq!(without, objects[..1]);
    assert_eq!(shaped(&objects, &Reach::Sidecar), objects);
}

#[test]
fn the_doctor_names_each_namespace_outside_the_mesh_or_unreachable() {
    let outside = namespace(
        "ml",
        json!({"app.kubernetes.io/managed-by": "kubeflow-profile-manager"}),
        false,
    );
    let sidecar = namespace("nlp", json!({"istio-injection": "enabled"}), false);
    let ambient = namespace("cv", json!({"istio.io/dataplane-mode": "ambient"}), false);
    let chosen = namespace("ops", json!({"istio-injection": "disabled"}), false);
    let said = territory_report(&[outside, sidecar, ambient, chosen], &default_mesh_labels());
    assert_eq!(said.len(), 3, "{said:?}");
    assert!(
        !said[0].0 && said[0].1.starts_with("namespace ml: no mesh label"),
        "{said:?}"
    );
    assert!(
        said[0].1.contains("adds istio-injection=enabled"),
        "{said:?}"
    );
    assert!(
        !said[1].0
            && said[1]
                .1
                .starts_with("namespace cv: Istio ambient mode without a waypoint")
    );
    assert!(
        said[2].0
            && said[2]
                .1
                .contains("istio-injection=disabled (a new one gets enabled)")
    );
}

#[test]
fn a_policy_is_reshaped_to_its_namespace_mode_carrying_only_what_the_function_applies() {
    let sidecar = json!({"istio-injection": "enabled"});
    let waypoint = json!({
        "istio.io/dataplane-mode": "ambient",
        "istio.io/use-waypoint": "wp",
        "istio.io/ingress-use-waypoint": "true",
    });
    let no_waypoint = json!({"istio.io/dataplane-mode": "ambient"});
    let stored = Object::from_body(
        Kind::AuthorizationPolicy,
        json!({"metadata": {
            "name": "user-jo", "namespace": "ml", "resourceVersion": "7", "uid": "u",
            "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager", "kubeflow-profile-manager/user": "s", "other": "x"},
            "annotations": {"user": "jo@x", "role": "edit", "kubeflow-profile-manager/last-activity": "2026-01-01T00:00:00Z"},
            "managedFields": [{"manager": "m"}],
        }, "spec": {"rules": [{"when": []}]}}),
    )
    .unwrap();
    assert!(!misshapen(&stored, Some(&sidecar)));
    assert!(misshapen(&stored, Some(&waypoint)));
    assert!(
        !misshapen(&stored, Some(&no_waypoint)),
        "no shape works there"
    );
    let attached = reshaped(&stored, Some(&waypoint));
    assert!(!misshapen(&attached, Some(&waypoint)));
    assert!(misshapen(&attached, Some(&sidecar)));
    assert_eq!(
        attached.body,
        json!({
            "apiVersion": "security.istio.io/v1beta1",
            "kind": "AuthorizationPolicy",
            "metadata": {
                "name": "user-jo", "namespace": "ml", "resourceVersion": "7",
                "labels": {"app.kubernetes.io/managed-by": "kubeflow-profile-manager", "kubeflow-profile-manager/user": "s"},
                "annotations": {"user": "jo@x", "role": "edit"},
            },
            "spec": {
                "rules": [{"when": []}],
                "targetRefs": [{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "wp"}],
            },
        })
    );
    assert!(
        reshaped(&attached, Some(&sidecar))
            .body
            .pointer("/spec/targetRefs")
            .is_none()
    );
    assert!(attached_alike(&attached, &attached));
    assert!(!attached_alike(&stored, &attached));
}
