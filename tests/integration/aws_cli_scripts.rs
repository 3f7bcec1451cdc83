//! The scripts that run the AWS CLI (scripts/doctor.sh, scripts/set-trigger.py,
//! scripts/access-report.py, scripts/deploy-check.py) check it before anything else: it is found, it is version 2, and a
//! region is known. Each failed check is one line saying what to do, exit code 2, and nothing
//! invoked. Run against tests/fixtures/fake-aws, which records every call.

use std::path::Path;
use std::process::Command;

const INSTALL: &str =
    "https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html";
const POOL: &str = "eu-west-1_AbC123xyz";
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-2:111122223333:function:kfpm";

/// What a script did: its exit code, what it printed (stderr, then stdout), the AWS CLI it
/// was given and the calls the fake recorded, one argument list each.
struct Run {
    code: i32,
    printed: String,
    cli: String,
    calls: Vec<Vec<String>>,
}

/// The three scripts as (name in their messages, command line), each invoking `function` (a
/// name or an ARN) or, for set-trigger, describing `pool`.
fn scripts(function: &str, pool: &str) -> Vec<(&'static str, Vec<String>)> {
    let line = |words: &[&str]| words.iter().map(|word| word.to_string()).collect();
    vec![
        ("doctor", line(&["bash", "scripts/doctor.sh", function])),
        (
            "access-report",
            line(&[
                "python3",
                "scripts/access-report.py",
                "--function",
                function,
            ]),
        ),
        (
            "set-trigger",
            line(&[
                "python3",
                "scripts/set-trigger.py",
                "--user-pool-id",
                pool,
                "--function-arn",
                FUNCTION_ARN,
            ]),
        ),
    ]
}

/// `scripts/pool-check.py` for the deployed trigger `function`.
fn pool_check(function: &str) -> Vec<String> {
    ["python3", "scripts/pool-check.py", "--function", function]
        .iter()
        .map(|word| word.to_string())
        .collect()
}

/// [`scripts`], and the two that read the stack (`make deploy`'s check, `make rbac`): every
/// script that checks the AWS CLI before it runs it.
fn every_script(function: &str, pool: &str) -> Vec<(&'static str, Vec<String>)> {
    let line = |words: &[&str]| words.iter().map(|word| word.to_string()).collect();
    let mut all = scripts(function, pool);
    all.push((
        "deploy",
        line(&["python3", "scripts/deploy-check.py", "--stack", "kfpm"]),
    ));
    all.push((
        "rbac",
        line(&["python3", "scripts/rbac.py", "--stack", "kfpm"]),
    ));
    all.push(("pool-check", pool_check(function)));
    all
}

/// Runs `command` against a fresh copy of the fake AWS CLI, with no region in its environment
/// unless `configure` (given the command and the fake's directory) sets one.
fn run(command: &[String], configure: impl FnOnce(&mut Command, &Path)) -> Run {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static RUN: AtomicUsize = AtomicUsize::new(0);
    // Not the system temporary directory, which may be mounted noexec.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "kfpm-aws-cli-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy("tests/fixtures/fake-aws", dir.join("aws")).unwrap();
    std::fs::copy(
        "tests/fixtures/describe-user-pool.json",
        dir.join("pool.json"),
    )
    .unwrap();
    std::fs::write(
        dir.join("answer.json"),
        serde_json::json!({"ok": true, "text": "cluster: reachable\n"}).to_string(),
    )
    .unwrap();
    let mut child = Command::new(&command[0]);
    child
        .args(&command[1..])
        .env("AWS_CLI", dir.join("aws"))
        .env("FAKE_AWS_DIR", &dir)
        // So that the machine's configuration cannot make a test pass.
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("FAKE_AWS_VERSION")
        .env_remove("FAKE_AWS_REGION");
    configure(&mut child, &dir);
    let cli = child
        .get_envs()
        .find(|(name, _)| *name == "AWS_CLI")
        .and_then(|(_, value)| value)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let output = child.output().unwrap();
    let calls = std::fs::read_to_string(dir.join("calls.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    Run {
        code: output.status.code().unwrap(),
        printed: String::from_utf8_lossy(&output.stderr).into_owned()
            + &String::from_utf8_lossy(&output.stdout),
        cli,
        calls,
    }
}

fn calls(list: &[&[&str]]) -> Vec<Vec<String>> {
    list.iter()
        .map(|call| call.iter().map(|word| word.to_string()).collect())
        .collect()
}

/// The `--region` a call was given, if any.
fn region(call: &[String]) -> Option<&str> {
    let at = call.iter().position(|word| word == "--region")?;
    call.get(at + 1).map(String::as_str)
}

/// The calls after the checks (`--version`, `configure get region`): what the script invoked.
fn invoked(run: &Run) -> Vec<&Vec<String>> {
    run.calls
        .iter()
        .filter(|call| call[0] != "--version" && call[0] != "configure")
        .collect()
}

#[test]
fn each_script_refuses_aws_cli_version_1_with_the_fix() {
    for (prog, command) in every_script("kfpm", POOL) {
        let run = run(&command, |child, _| {
            child
                .env("FAKE_AWS_VERSION", "1")
                .env("AWS_REGION", "eu-west-1");
        });
        assert_eq!(run.code, 2, "{prog}: {}", run.printed);
        assert_eq!(
            run.printed,
            format!(
                "{prog}: the AWS CLI at `{}` is version 1.29.0; these scripts need version 2: {INSTALL}\n",
                run.cli
            )
        );
        assert_eq!(run.calls, calls(&[&["--version"]]), "{prog}");
    }
}

#[test]
fn each_script_without_a_region_says_how_to_set_one() {
    // A pool id that does not start with its region, as a real one does.
    for (prog, command) in every_script("kfpm", "AbC123xyz") {
        let run = run(&command, |child, _| {
            child.env("FAKE_AWS_REGION", "");
        });
        assert_eq!(run.code, 2, "{prog}: {}", run.printed);
        let arn = if ["set-trigger", "deploy", "rbac"].contains(&prog) {
            ""
        } else {
            " (or give the function as its ARN)"
        };
        assert_eq!(
            run.printed,
            format!(
                "{prog}: no AWS region: set AWS_REGION or run `{} configure`{arn}\n",
                run.cli
            )
        );
        assert_eq!(
            run.calls,
            calls(&[&["--version"], &["configure", "get", "region"]]),
            "{prog}"
        );
    }
}

#[test]
fn each_script_without_the_aws_cli_says_where_to_get_it() {
    for (prog, command) in every_script("kfpm", POOL) {
        // AWS_CLI a path where there is none.
        let at_path = run(&command, |child, dir| {
            child.env("AWS_CLI", dir.join("no-aws-here"));
        });
        assert_eq!(at_path.code, 2, "{prog}: {}", at_path.printed);
        assert_eq!(
            at_path.printed,
            format!(
                "{prog}: no AWS CLI at `{}` (AWS_CLI): install version 2 ({INSTALL}) or point AWS_CLI at it\n",
                at_path.cli
            )
        );
        assert!(at_path.calls.is_empty(), "{prog}: {:?}", at_path.calls);
        // AWS_CLI a name on no PATH.
        let on_path = run(&command, |child, _| {
            child.env("AWS_CLI", "kfpm-no-such-aws");
        });
        assert_eq!(on_path.code, 2, "{prog}: {}", on_path.printed);
        assert_eq!(
            on_path.printed,
            format!(
                "{prog}: no AWS CLI: `kfpm-no-such-aws` is not on PATH; install version 2 ({INSTALL}) or set AWS_CLI to its path\n"
            )
        );
        assert!(on_path.calls.is_empty(), "{prog}: {:?}", on_path.calls);
    }
}

#[test]
fn a_function_arn_gives_the_region() {
    // No region anywhere else: the ARN's is passed to the CLI, and none is looked up.
    for (prog, command) in scripts(FUNCTION_ARN, POOL) {
        if prog == "set-trigger" {
            continue;
        }
        let run = run(&command, |child, _| {
            child.env("FAKE_AWS_REGION", "");
        });
        assert_eq!(run.code, 0, "{prog}: {}", run.printed);
        assert_eq!(run.calls[0], ["--version"], "{prog}");
        let invoked = invoked(&run);
        assert_eq!(
            run.calls.len(),
            1 + invoked.len(),
            "{prog}: {:?}",
            run.calls
        );
        assert_eq!(invoked.len(), 1, "{prog}: {:?}", run.calls);
        assert_eq!(invoked[0][..2], ["lambda", "invoke"], "{prog}");
        assert_eq!(region(invoked[0]), Some("us-east-2"), "{prog}");
    }
}

#[test]
fn a_pool_id_gives_set_trigger_the_region_before_the_environment() {
    let (_, command) = scripts(FUNCTION_ARN, POOL).pop().unwrap();
    let run = run(&command, |child, _| {
        child
            .env("FAKE_AWS_REGION", "")
            .env("AWS_REGION", "us-east-2");
    });
    assert_eq!(run.code, 0, "{}", run.printed);
    assert_eq!(run.calls[0], ["--version"]);
    let invoked = invoked(&run);
    assert_eq!(run.calls.len(), 1 + invoked.len(), "{:?}", run.calls);
    // Described, updated, described again: each in the pool's region.
    assert_eq!(invoked.len(), 3, "{:?}", run.calls);
    for call in invoked {
        assert_eq!(call[0], "cognito-idp");
        assert_eq!(region(call), Some("eu-west-1"), "{call:?}");
    }
}

#[test]
fn without_an_arn_the_region_is_the_environments_else_the_configured_one() {
    // A pool id that does not start with its region, so that set-trigger looks for one too.
    let pool = "AbC123xyz";
    for (prog, command) in scripts("kfpm", pool) {
        for (env, configured, expected) in [
            (Some(("AWS_REGION", "ap-south-1")), "", "ap-south-1"),
            (
                Some(("AWS_DEFAULT_REGION", "ca-central-1")),
                "",
                "ca-central-1",
            ),
            (None, "eu-north-1", "eu-north-1"),
        ] {
            let run = run(&command, |child, dir| {
                child.env("FAKE_AWS_REGION", configured);
                if let Some((name, value)) = env {
                    child.env(name, value);
                }
                let path = dir.join("pool.json");
                let mut described: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                described["UserPool"]["Id"] = pool.into();
                std::fs::write(path, described.to_string()).unwrap();
            });
            assert_eq!(run.code, 0, "{prog}: {}", run.printed);
            let asked = run.calls[1] == ["configure", "get", "region"];
            assert_eq!(asked, env.is_none(), "{prog}: {:?}", run.calls);
            let invoked = invoked(&run);
            assert!(!invoked.is_empty(), "{prog}: {}", run.printed);
            for call in invoked {
                assert_eq!(region(call), Some(expected), "{prog}: {call:?}");
            }
        }
    }
}

#[test]
fn the_doctor_script_sends_the_request_prints_the_report_and_exits_1_on_a_problem() {
    let command = &scripts("kfpm", POOL)[0].1;
    let mut command = command.clone();
    command.extend(["jane@corp.example".into(), "KF-A, KF-B".into()]);
    let run = run(&command, |child, dir| {
        child.env("AWS_REGION", "eu-west-1");
        let answer =
            serde_json::json!({"ok": false, "text": "cluster: reachable\ntoken: expired\n"});
        std::fs::write(dir.join("answer.json"), answer.to_string()).unwrap();
    });
    assert_eq!(run.code, 1, "{}", run.printed);
    assert_eq!(run.printed, "cluster: reachable\ntoken: expired\n");
    let invoked = invoked(&run);
    assert_eq!(invoked.len(), 1, "{:?}", run.calls);
    let call = invoked[0];
    let payload = &call[call.iter().position(|word| word == "--payload").unwrap() + 1];
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(payload).unwrap(),
        serde_json::json!({"kubeflow-profile-manager": "doctor",
                           "email": "jane@corp.example", "groups": ["KF-A", "KF-B"]})
    );
    assert_eq!(region(call), Some("eu-west-1"));
}

const USER_POOL_ARN: &str =
    "arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_AbC123xyz";

/// `make deploy`'s check with `params`, the stack as `stack` describes it (None: no such stack).
fn deploy_check(params: &[&str], stack: Option<serde_json::Value>) -> Run {
    let mut command: Vec<String> = ["python3", "scripts/deploy-check.py", "--stack", "kfpm"]
        .iter()
        .map(|w| w.to_string())
        .collect();
    command.extend(params.iter().map(|p| p.to_string()));
    run(&command, |_, dir| {
        if let Some(stack) = stack {
            std::fs::write(dir.join("stack.json"), stack.to_string()).unwrap();
        }
    })
}

fn deployed(parameters: &[(&str, &str)]) -> Option<serde_json::Value> {
    let parameters: Vec<serde_json::Value> = parameters
        .iter()
        .map(|(k, v)| serde_json::json!({"ParameterKey": k, "ParameterValue": v}))
        .collect();
    Some(
        serde_json::json!({"StackName": "kfpm", "Parameters": parameters,
                            "Outputs": [{"OutputKey": "KubernetesGroup", "OutputValue": "kf-pm-prod"}]}),
    )
}

#[test]
fn a_first_deploy_without_what_has_no_default_is_refused_before_the_build() {
    let refused = deploy_check(&["ClusterName=kf"], None);
    assert_eq!(refused.code, 2, "{}", refused.printed);
    assert_eq!(
        refused.printed,
        "deploy: a first deploy needs UserPoolArn: make deploy PARAMS=\"UserPoolArn=... GroupPrefix=KF-\" (README, Deploying)\n"
    );
    let pool = format!("UserPoolArn={USER_POOL_ARN}");
    let both = deploy_check(
        &[
            "ClusterName=kf",
            &pool,
            "GroupPrefix=KF-",
            "AllowAllGroups=true",
        ],
        None,
    );
    assert_eq!(both.code, 2);
    assert!(
        both.printed
            .starts_with("deploy: set exactly one of GroupPrefix"),
        "{}",
        both.printed
    );
    let ok = deploy_check(
        &["ClusterName=kf", &pool, "GroupPrefix=KF-", "DryRun=true"],
        None,
    );
    assert_eq!(ok.code, 0, "{}", ok.printed);
    assert_eq!(
        ok.printed,
        format!(
            "deploy: stack kfpm in eu-west-1: a first deploy, with ClusterName=kf {pool} GroupPrefix=KF- DryRun=true\neu-west-1\n"
        )
    );
    // It asked whether the stack exists, in the region it prints for sam deploy.
    assert_eq!(region(invoked(&ok)[0]), Some("eu-west-1"));
}

#[test]
fn a_deploy_refuses_unknown_parameters_and_values_the_template_would_refuse() {
    for (params, said) in [
        (
            &["FailMode=sometimes"][..],
            "deploy: FailMode='sometimes' does not match ^(closed|open)(,[^,=]+=(closed|open))*$",
        ),
        (
            &["TimeBudgetMs=9000"][..],
            "deploy: TimeBudgetMs=9000 is above its maximum, 4900",
        ),
        (
            &["FailMod=open"][..],
            "deploy: FailMod is not a parameter of template.yaml; its parameters are: ",
        ),
        (
            &["MoreClusterNames=kf-dev"][..],
            "deploy: MoreClusterNames is no longer a parameter: use MoreClusterArns",
        ),
        (
            &["MoreClusterArns=kf-dev"][..],
            "deploy: MoreClusterArns='kf-dev' does not match ",
        ),
        (
            &["KubernetesGroup=Kubeflow Admins"][..],
            "deploy: KubernetesGroup='Kubeflow Admins' does not match ",
        ),
        (
            &["GroupPrefix"][..],
            "deploy: 'GroupPrefix' is not Key=Value",
        ),
    ] {
        let run = deploy_check(params, deployed(&[("GroupPrefix", "KF-")]));
        assert_eq!(run.code, 2, "{params:?}: {}", run.printed);
        assert!(run.printed.starts_with(said), "{params:?}: {}", run.printed);
    }
}

#[test]
fn an_update_keeps_every_parameter_it_does_not_name() {
    let stack = deployed(&[
        ("ClusterName", "kf"),
        ("GroupPrefix", "KF-"),
        ("MoreClusterNames", "kf-dev"),
    ]);
    let run = deploy_check(&["FailMode=open"], stack.clone());
    assert_eq!(run.code, 0, "{}", run.printed);
    assert!(
        run.printed.starts_with("deploy: stack kfpm in eu-west-1: an update: every parameter keeps its value, except FailMode=open; MoreClusterNames (='kf-dev') is no longer a parameter and is dropped: use MoreClusterArns"),
        "{}",
        run.printed
    );
    // Switching the allow-list means naming both sides of it.
    let half = deploy_check(&["AllowAllGroups=true"], stack.clone());
    assert_eq!(half.code, 2, "{}", half.printed);
    let whole = deploy_check(&["AllowAllGroups=true", "GroupPrefix="], stack);
    assert_eq!(whole.code, 0, "{}", whole.printed);
}

#[test]
fn make_rbac_takes_the_group_from_the_stack() {
    let command: Vec<String> = ["python3", "scripts/rbac.py", "--stack", "kfpm"]
        .iter()
        .map(|w| w.to_string())
        .collect();
    let run = run(&command, |child, dir| {
        child.env("AWS_REGION", "eu-west-1");
        std::fs::write(dir.join("stack.json"), deployed(&[]).unwrap().to_string()).unwrap();
    });
    assert_eq!(run.code, 0, "{}", run.printed);
    assert!(
        run.printed
            .contains("    kind: Group\n    name: kf-pm-prod\n"),
        "{}",
        run.printed
    );
    assert!(
        !run.printed
            .contains("    name: kubeflow-profile-manager\n    kind"),
        "{}",
        run.printed
    );
}

#[test]
fn make_rbac_without_the_stack_says_so() {
    let command: Vec<String> = ["python3", "scripts/rbac.py", "--stack", "kfpm"]
        .iter()
        .map(|w| w.to_string())
        .collect();
    let missing = run(&command, |child, _| {
        child.env("AWS_REGION", "eu-west-1");
    });
    assert_eq!(missing.code, 2, "{}", missing.printed);
    assert_eq!(
        missing.printed,
        "rbac: there is no stack kfpm in this region (STACK=..., or GROUP=...)\n"
    );
}

/// The trigger's configuration as `lambda get-function-configuration` answers it, and the pool's
/// app clients: the hosted UI's, set up safely, and a single-page app whose users get the
/// self-service scope and may write the groups.
fn pool_with_clients(dir: &Path, variables: serde_json::Value) {
    let function =
        serde_json::json!({"FunctionName": "kfpm", "Environment": {"Variables": variables}});
    std::fs::write(dir.join("function.json"), function.to_string()).unwrap();
    let clients = serde_json::json!([
        {"ClientId": "kubeflowhostedui0001", "ClientName": "kubeflow",
         "WriteAttributes": ["custom:groups", "email"],
         "AllowedOAuthScopes": ["openid", "email", "profile"],
         "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"]},
        {"ClientId": "spa0000000000000000001", "ClientName": "notebook-spa",
         "WriteAttributes": ["custom:groups", "email", "name"],
         "AllowedOAuthScopes": ["openid", "aws.cognito.signin.user.admin"],
         "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]},
        {"ClientId": "cli00000000000000001", "ClientName": "cli",
         "WriteAttributes": [], "AllowedOAuthScopes": [],
         "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH"]},
    ]);
    std::fs::write(dir.join("clients.json"), clients.to_string()).unwrap();
}

#[test]
fn the_pool_check_names_each_client_whose_users_can_rewrite_their_groups_or_email() {
    let run = run(&pool_check(FUNCTION_ARN), |_, dir| {
        pool_with_clients(
            dir,
            serde_json::json!({"USER_POOL_ID": POOL, "GROUPS_CLAIM": "custom:groups"}),
        );
    });
    assert_eq!(run.code, 1, "{}", run.printed);
    let lines: Vec<&str> = run.printed.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.printed);
    assert!(
        lines[0].starts_with(
            "ok       app client kubeflow (kubeflowhostedui0001): its users cannot rewrite"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("PROBLEM  app client notebook-spa (spa0000000000000000001): its users can rewrite custom:groups and email with UpdateUserAttributes"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("Fix: remove aws.cognito.signin.user.admin"));
    // An empty WriteAttributes is every standard attribute: the email, not the custom groups.
    assert!(
        lines[2].starts_with(
            "PROBLEM  app client cli (cli00000000000000001): its users can rewrite email "
        ),
        "{}",
        lines[2]
    );
    // The pool and the settings come from the trigger's configuration, in the ARN's region.
    let invoked = invoked(&run);
    assert_eq!(invoked[0][..2], ["lambda", "get-function-configuration"]);
    assert!(invoked.iter().all(|call| region(call) == Some("us-east-2")));
    assert_eq!(
        invoked
            .iter()
            .filter(|call| call[1] == "list-user-pool-clients")
            .count(),
        2,
        "every page"
    );
}

#[test]
fn the_pool_check_without_a_pool_says_so_and_asks_nothing_of_cognito() {
    let run = run(&pool_check("kfpm"), |child, dir| {
        child.env("AWS_REGION", "eu-west-1");
        pool_with_clients(dir, serde_json::json!({"CLUSTER_NAME": "kf"}));
    });
    assert_eq!(run.code, 2, "{}", run.printed);
    assert!(
        run.printed.contains("has no USER_POOL_ID"),
        "{}",
        run.printed
    );
    assert!(invoked(&run).iter().all(|call| call[0] != "cognito-idp"));
    // With a safe pool it exits 0.
    let run = run_safe();
    assert_eq!(run.code, 0, "{}", run.printed);
}

fn run_safe() -> Run {
    run(&pool_check("kfpm"), |child, dir| {
        child.env("AWS_REGION", "eu-west-1");
        pool_with_clients(dir, serde_json::json!({"USER_POOL_ID": POOL}));
        let safe = serde_json::json!([{"ClientId": "kubeflowhostedui0001", "ClientName": "kubeflow",
            "WriteAttributes": ["custom:groups", "email"], "AllowedOAuthScopes": ["openid"],
            "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"]}]);
        std::fs::write(dir.join("clients.json"), safe.to_string()).unwrap();
    })
}
