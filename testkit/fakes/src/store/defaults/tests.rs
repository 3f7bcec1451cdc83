//! Unit tests of PodDefault and LimitRange validation and of Quantity parsing. Pure.

use super::*;
use crate::store::quantity;

fn store_with_namespace(name: &str) -> Store {
    let mut store = Store::default();
    let target = Target {
        resource: NAMESPACES,
        version: "v1",
        namespace: None,
    };
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    store.create(&target, namespace, "test").unwrap();
    store
}

fn create(resource: Resource, body: Value) -> Result<Value, ApiError> {
    let mut store = store_with_namespace("ml");
    let target = Target {
        resource,
        version: resource.versions[0],
        namespace: Some("ml"),
    };
    store.create(&target, body, "test")
}

/// kubeflow/manifests v1.10.2 `tests/poddefaults.access-ml-pipeline.kubeflow-user-example-com.yaml`.
fn access_ml_pipeline() -> Value {
    json!({
        "apiVersion": "kubeflow.org/v1alpha1", "kind": "PodDefault",
        "metadata": {"name": "access-ml-pipeline", "namespace": "ml"},
        "spec": {
            "desc": "Allow access to Kubeflow Pipelines",
            "selector": {"matchLabels": {"access-ml-pipeline": "true"}},
            "env": [{"name": "KF_PIPELINES_SA_TOKEN_PATH",
                     "value": "/var/run/secrets/kubeflow/pipelines/token"}],
            "volumes": [{"name": "volume-kf-pipeline-token", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 7200,
                                         "audience": "pipelines.kubeflow.org"}}]}}],
            "volumeMounts": [{"mountPath": "/var/run/secrets/kubeflow/pipelines",
                              "name": "volume-kf-pipeline-token", "readOnly": true}],
        },
    })
}

fn invalid_causes(result: Result<Value, ApiError>) -> String {
    let error = result.unwrap_err();
    assert_eq!(
        (error.code, error.reason),
        (422, "Invalid"),
        "{}",
        error.message
    );
    error.message
}

#[test]
fn the_access_ml_pipeline_pod_default_is_accepted() {
    let created = create(PODDEFAULTS, access_ml_pipeline()).unwrap();
    assert_eq!(
        created["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
        7200
    );
}

#[test]
fn a_pod_default_without_selector_is_refused() {
    let mut body = access_ml_pipeline();
    body["spec"].as_object_mut().unwrap().remove("selector");
    let message = invalid_causes(create(PODDEFAULTS, body));
    assert!(
        message.ends_with("is invalid: spec.selector: Required value"),
        "{message}"
    );
}

#[test]
fn pod_default_fields_of_the_wrong_type_are_refused_as_the_schema_says() {
    let mut body = access_ml_pipeline();
    body["spec"]["desc"] = json!(3);
    body["spec"]["env"] = json!({"name": "X"});
    body["spec"]["volumes"][0]
        .as_object_mut()
        .unwrap()
        .remove("name");
    body["spec"]["volumeMounts"][0]["readOnly"] = json!("yes");
    body["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] =
        json!(1.5);
    let message = invalid_causes(create(PODDEFAULTS, body));
    for cause in [
        r#"spec.desc: Invalid value: "integer": spec.desc in body must be of type string: "integer""#,
        r#"spec.env: Invalid value: "object": spec.env in body must be of type array: "object""#,
        "spec.volumes[0].name: Required value",
        r#"spec.volumeMounts[0].readOnly: Invalid value: "string": spec.volumeMounts[0].readOnly in body must be of type boolean: "string""#,
        r#"spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: "float64": spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds in body must be of type int64: "float64""#,
    ] {
        assert!(message.contains(cause), "{cause}\nnot in\n{message}");
    }
    // An integral float is an integer; nulls are dropped; a quantity pattern is checked.
    let mut body = access_ml_pipeline();
    body["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] =
        json!(7200.0);
    body["spec"]["desc"] = Value::Null;
    create(PODDEFAULTS, body.clone()).unwrap();
    body["spec"]["volumes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "scratch", "emptyDir": {"sizeLimit": "1Gb"}}));
    let message = invalid_causes(create(PODDEFAULTS, body));
    assert!(message.contains("spec.volumes[1].emptyDir.sizeLimit: Invalid value: \"1Gb\": spec.volumes[1].emptyDir.sizeLimit in body should match '^(\\+|-)?"), "{message}");
}

fn limit_range(limits: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "LimitRange",
           "metadata": {"name": "defaults", "namespace": "ml"},
           "spec": {"limits": limits}})
}

fn container_limits() -> Value {
    json!([{"type": "Container",
            "default": {"cpu": "1", "memory": "1Gi"},
            "defaultRequest": {"cpu": "100m", "memory": "256Mi"},
            "max": {"cpu": "8"}}])
}

#[test]
fn a_container_limit_range_is_accepted() {
    let created = create(LIMITRANGES, limit_range(container_limits())).unwrap();
    assert_eq!(created["kind"], "LimitRange");
}

#[test]
fn a_default_above_max_is_refused_in_upstreams_words() {
    let mut limits = container_limits();
    limits[0]["default"]["cpu"] = json!("16");
    let message = invalid_causes(create(LIMITRANGES, limit_range(limits)));
    assert!(message.contains(r#"spec.limits[0].default[cpu]: Invalid value: "8": default value 16 is greater than max value 8"#), "{message}");
    // Defaulting first: a missing default is the max, so a request above max is above both.
    let limits =
        json!([{"type": "Container", "defaultRequest": {"cpu": "9"}, "max": {"cpu": "8"}}]);
    let message = invalid_causes(create(LIMITRANGES, limit_range(limits)));
    assert!(message.contains(r#"spec.limits[0].defaultRequest[cpu]: Invalid value: "9": default request value 9 is greater than max value 8"#), "{message}");
    assert!(
        message.contains("default request value 9 is greater than default limit value 8"),
        "{message}"
    );
}

#[test]
fn a_pod_limit_with_default_is_refused() {
    let limits = json!([{"type": "Pod", "default": {"cpu": "1"}, "max": {"cpu": "4"}}]);
    let message = invalid_causes(create(LIMITRANGES, limit_range(limits)));
    assert!(
        message.ends_with(
            "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"
        ),
        "{message}"
    );
}

#[test]
fn types_names_ratios_and_storage_are_checked() {
    let limits = json!([
        {"type": "Node", "max": {"cpu": "1"}},
        {"type": "PersistentVolumeClaim", "max": {"cpu": "1"}},
        {"type": "Container", "max": {"gpu": "1", "cpu": "2"}, "min": {"cpu": "500m"},
         "maxLimitRequestRatio": {"cpu": "10", "memory": "0.5"}},
        {"type": "Container"},
    ]);
    let message = invalid_causes(create(LIMITRANGES, limit_range(limits)));
    for cause in [
        r#"spec.limits[0].type: Invalid value: "Node": must be a standard limit type or fully qualified"#,
        "spec.limits[1].limits: Required value: either minimum or maximum storage value is required, but neither was provided",
        r#"spec.limits[2].max[gpu]: Invalid value: "gpu": must be a standard resource type or fully qualified"#,
        r#"spec.limits[2].max[gpu]: Invalid value: "gpu": must be a standard resource for containers"#,
        r#"spec.limits[2].maxLimitRequestRatio[cpu]: Invalid value: "10": ratio 10 is greater than max/min = 4.000000"#,
        r#"spec.limits[2].maxLimitRequestRatio[memory]: Invalid value: "500m": ratio 500m is less than 1"#,
        r#"spec.limits[3].type: Duplicate value: "Container""#,
    ] {
        assert!(message.contains(cause), "{cause}\nnot in\n{message}");
    }
    let limits = json!([{"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}},
                        {"type": "example.com/Custom", "max": {"example.com/widgets": "3"}}]);
    create(LIMITRANGES, limit_range(limits)).unwrap();
}

#[test]
fn a_bad_quantity_is_a_bad_request() {
    for (bad, reason) in [
        ("1x", quantity::FORMAT_WRONG),
        ("1Kb", quantity::FORMAT_WRONG),
        ("1ki", "unable to parse quantity's suffix"),
        ("", quantity::FORMAT_WRONG),
    ] {
        let mut limits = container_limits();
        limits[0]["max"]["memory"] = json!(bad);
        let error = create(LIMITRANGES, limit_range(limits)).unwrap_err();
        assert_eq!((error.code, error.reason), (400, "BadRequest"), "{bad}");
        let expected =
            format!("LimitRange in version \"v1\" cannot be handled as a LimitRange: {reason}");
        assert_eq!(error.message, expected, "{bad}");
    }
    let error = create(LIMITRANGES, limit_range(json!({"type": "Container"}))).unwrap_err();
    assert_eq!(error.code, 400);
    assert!(error.message.ends_with("json: cannot unmarshal object into Go struct field LimitRangeSpec.spec.limits of type []v1.LimitRangeItem"), "{}", error.message);
}

#[test]
fn quantities_parse_and_print_as_upstream() {
    let text = |s: &str| quantity::parse(s).map(|q| q.text());
    for (input, printed) in [
        ("1", "1"),
        ("+1", "+1"),
        ("1.5", "1500m"),
        ("0.1m", "1m"),
        ("1000", "1k"),
        ("1024Mi", "1Gi"),
        ("1536Mi", "1536Mi"),
        ("0.5Gi", "512Mi"),
        ("12Mi", "12Mi"),
        ("1e3", "1e3"),
        ("1.5e3", "1500"),
        ("100m", "100m"),
        (".5", "500m"),
        ("1.", "1."),
        ("-", "0"),
        (".", "0"),
        ("1E", "1E"),
        ("-1.5", "-1500m"),
        ("1e-3", "1e-3"),
    ] {
        assert_eq!(text(input), Ok(printed.to_owned()), "{input}");
    }
    for bad in ["1e", "1.2.3", "abc", "1 Gi", "1e2.5", "1Ki5", "1eK"] {
        assert!(quantity::parse(bad).is_err(), "{bad}");
    }
    let q = |s: &str| quantity::parse(s).unwrap();
    assert!(q("1Gi").cmp(&q("1G")).is_gt());
    assert!(q("1000m").cmp(&q("1")).is_eq());
    for (input, ok) in [
        ("1e2.5", true),
        (".", false),
        ("+1Ki", true),
        ("1e", false),
        ("E", false),
        ("1E", true),
    ] {
        assert_eq!(quantity::matches_quantity_pattern(input), ok, "{input}");
    }
}
