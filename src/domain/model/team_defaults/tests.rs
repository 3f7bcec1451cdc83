//! The team defaults' file: what it may declare, checked as the API server would check it.
//! Pure.

use super::*;

/// The file the template packages.
const PACKAGED: &str = include_str!("../../../../deploy/team-defaults/team-defaults.yaml");

fn refused(text: &str) -> String {
    TeamDefaults::parse(text).expect_err("accepted")
}

fn limit_range(limits: &str) -> String {
    format!("apiVersion: v1\nkind: LimitRange\nmetadata: {{name: l}}\nspec:\n  limits:\n{limits}")
}

#[test]
fn the_packaged_file_is_valid_and_is_a_pod_default_and_a_limit_range() {
    let defaults = TeamDefaults::parse(PACKAGED).expect("valid");
    assert_eq!(
        defaults.names(),
        ["PodDefault/access-ml-pipeline", "LimitRange/team-limits"]
    );
}

#[test]
fn in_a_namespace_each_object_carries_it_and_the_functions_label() {
    let defaults = TeamDefaults::parse(PACKAGED).expect("valid");
    let objects = defaults.in_namespace("team-ml");
    assert_eq!(objects.len(), 2);
    for object in &objects {
        assert_eq!(object.namespace.as_deref(), Some("team-ml"));
        assert_eq!(object.body["metadata"]["namespace"], "team-ml");
        assert!(object.is_managed());
    }
    assert_eq!(
        objects[0].body["spec"]["selector"]["matchLabels"]["access-ml-pipeline"],
        "true"
    );
}

#[test]
fn a_json_list_is_read_as_well_as_yaml_documents() {
    let json = r#"[{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"a"},
        "spec":{"limits":[{"type":"Container","max":{"cpu":"2"}}]}}]"#;
    assert_eq!(
        TeamDefaults::parse(json).expect("valid").names(),
        ["LimitRange/a"]
    );
    assert!(TeamDefaults::parse("").expect("empty").is_empty());
}

#[test]
fn only_pod_defaults_and_limit_ranges_without_namespace_or_marks_are_defaults() {
    let why = refused("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
    assert!(
        why.contains("only kubeflow.org/v1alpha1 PodDefault"),
        "{why}"
    );
    let why = refused(
        "apiVersion: v1\nkind: LimitRange\nmetadata: {name: l, namespace: x}\nspec: {limits: [{type: Container}]}\n",
    );
    assert!(why.contains("metadata.namespace"), "{why}");
    let why = refused(
        "apiVersion: v1\nkind: LimitRange\nmetadata: {name: l, labels: {kubeflow-profile-manager/user: x}}\nspec: {limits: [{type: Container}]}\n",
    );
    assert!(why.contains("the function's own mark"), "{why}");
    let why = refused("apiVersion: v1\nkind: LimitRange\nmetadata: {name: Bad_Name}\nspec: {}\n");
    assert!(why.contains("DNS subdomain"), "{why}");
    let twice = format!(
        "{}\n---\n{}",
        limit_range("    - {type: Container}"),
        limit_range("    - {type: Pod}")
    );
    assert!(refused(&twice).contains("declared twice"));
    let many: Vec<String> = (0..9)
        .map(|i| format!("apiVersion: v1\nkind: LimitRange\nmetadata: {{name: l{i}}}\nspec: {{limits: [{{type: Container}}]}}\n"))
        .collect();
    assert!(refused(&many.join("---\n")).contains("at most 8"));
}

#[test]
fn a_pod_default_needs_its_selector_and_runs_no_container() {
    let head = "apiVersion: kubeflow.org/v1alpha1\nkind: PodDefault\nmetadata: {name: p}\n";
    assert!(refused(&format!("{head}spec: {{desc: x}}\n")).contains("spec.selector: required"));
    assert!(
        refused(&format!("{head}spec: {{selector: {{}}, sidecars: []}}\n"))
            .contains("a workload, not a team default")
    );
    assert!(
        refused(&format!("{head}spec: {{selector: {{}}, desc: [1]}}\n")).contains("wrong type")
    );
    assert!(
        refused(&format!("{head}spec: {{selector: {{}}, colour: red}}\n"))
            .contains("unknown field")
    );
    assert!(TeamDefaults::parse(&format!("{head}spec: {{selector: {{}}}}\n")).is_ok());
}

#[test]
fn a_limit_range_is_checked_as_kube_apiserver_checks_it() {
    let cases = [
        (
            "    - {type: Container, default: {cpu: \"2\"}, max: {cpu: \"1\"}}",
            "default is greater than max",
        ),
        (
            "    - {type: Container, defaultRequest: {cpu: \"2\"}, default: {cpu: \"1\"}}",
            "defaultRequest is greater than default",
        ),
        (
            "    - {type: Container, min: {memory: 2Gi}, max: {memory: 1Gi}}",
            "min is greater than max",
        ),
        (
            "    - {type: Pod, default: {cpu: \"1\"}}",
            "not for type Pod",
        ),
        (
            "    - {type: PersistentVolumeClaim, max: {cpu: \"1\"}}",
            "min or max storage",
        ),
        (
            "    - {type: Container, max: {cpu: lots}}",
            "not a Kubernetes quantity",
        ),
        ("    - {type: Container, max: {cpu: \"-1\"}}", "0 or more"),
        (
            "    - {type: Container, maxLimitRequestRatio: {cpu: 500m}}",
            "less than 1",
        ),
        ("    - {type: Node}", "or a qualified name with a domain"),
        (
            "    - {type: Container}\n    - {type: Container}",
            "declared twice",
        ),
        (
            "    - {type: Container, maximum: {cpu: \"1\"}}",
            "one LimitRange does not have",
        ),
        (
            "    - {type: Container, default: {nvidia.com/gpu: \"1\"}, defaultRequest: {nvidia.com/gpu: \"0\"}}",
            "cannot be overcommitted",
        ),
    ];
    for (limits, expected) in cases {
        let why = refused(&limit_range(limits));
        assert!(why.contains(expected), "{limits}: {why}");
    }
    let fine = limit_range(
        "    - {type: Container, min: {cpu: 10m}, defaultRequest: {cpu: 100m}, default: {cpu: \"1\"}, max: {cpu: \"2\"}}\n    - {type: PersistentVolumeClaim, max: {storage: 100Gi}}",
    );
    assert!(TeamDefaults::parse(&fine).is_ok());
}

#[test]
fn what_the_api_server_takes_is_taken_and_what_it_refuses_is_refused() {
    // Numbers are quantities too, and a null list is none.
    let numbers = TeamDefaults::parse(&limit_range(
        "    - {type: Container, default: {cpu: 1, memory: 0.5}, max: null}\n    - {type: example.com/widget, max: {example.com/size: \"3\"}}",
    ))
    .expect("numbers and a qualified type are fine");
    let made = &numbers.in_namespace("ml")[0];
    assert_eq!(made.body["spec"]["limits"][0]["default"]["cpu"], "1");
    assert!(made.body["spec"]["limits"][0].get("max").is_none());
    let cases = [
        ("    - {type: Container, max: {storage: 10Gi}}", "may name"),
        ("    - {type: Container, max: {gpu: \"1\"}}", "may name"),
        (
            "    - {type: Container, min: {cpu: \"1\"}, max: {cpu: \"2\"}, maxLimitRequestRatio: {cpu: \"4\"}}",
            "greater than max/min",
        ),
        (
            "    - {type: widget, max: {cpu: \"1\"}}",
            "qualified name with a domain",
        ),
    ];
    for (limits, expected) in cases {
        let why = refused(&limit_range(limits));
        assert!(why.contains(expected), "{limits}: {why}");
    }
    let head = "apiVersion: kubeflow.org/v1alpha1\nkind: PodDefault\nmetadata: {name: p}\n";
    for (spec, expected) in [
        (
            "spec: {selector: {}, env: [{value: x}]}",
            "spec.env[0].name",
        ),
        (
            "spec: {selector: {}, volumes: [{emptyDir: {}}]}",
            "spec.volumes[0].name",
        ),
        (
            "spec: {selector: {}, volumeMounts: [{name: v}]}",
            "spec.volumeMounts[0].mountPath",
        ),
        ("spec: {selector: {matchLabels: {a: 1}}}", "matchLabels"),
    ] {
        let why = refused(&format!("{head}{spec}\n"));
        assert!(why.contains(expected), "{spec}: {why}");
    }
    let label = "apiVersion: v1\nkind: LimitRange\nmetadata: {name: l, labels: {team: \"a b\"}}\nspec: {limits: [{type: Container}]}\n";
    assert!(refused(label).contains("metadata.labels.team"));
}
