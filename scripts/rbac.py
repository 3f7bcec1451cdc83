#!/usr/bin/env python3
"""Print the function's Kubernetes RBAC (deploy/rbac.yaml, and deploy/rbac-admin.yaml with
--admin) bound to the Kubernetes group the stack maps its roles to, ready for kubectl, or with
--admission its admission policies (deploy/admission.yaml) with the stack's settings:

  rbac.py --group my-group [--admin] | kubectl apply -f -
  rbac.py --stack kubeflow-profile-manager [--admin] | kubectl apply -f -

The manifests in deploy/ bind the template's default group, kubeflow-profile-manager. A stack
deployed with another KubernetesGroup needs its ClusterRoleBindings to name that group, or the
function's requests are refused (403). --stack reads the group from the stack's KubernetesGroup
output (AWS CLI v2, AWS_CLI names it). Only the subjects' group name changes.
Exit codes: 0 printed, 1 the AWS CLI failed, 2 refused (bad group, no such stack or output).
"""

import argparse
import json
import os
import re
import sys

import aws_cli

DEFAULT_GROUP = "kubeflow-profile-manager"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The subject of each binding, exactly as deploy/*.yaml write it: the trigger's group, and the
# sweep function's (the same name with "-sweep", as template.yaml maps its role).
SUBJECT = "    kind: Group\n    name: {}\n"
SWEEP = "-sweep"
# What the template's KubernetesGroup parameter accepts (a lower-case DNS-1123 subdomain short
# enough for its "-sweep").
GROUP = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,55}[a-z0-9])?$")


def render(manifest, group):
    """`manifest` with every Group subject naming `group` (or `group` + "-sweep"). Pure."""
    if not GROUP.match(group):
        raise ValueError(
            f"{group!r} is no Kubernetes group the template accepts (lower-case letters, digits, '-' and '.', at most 57)")
    trigger = SUBJECT.format(DEFAULT_GROUP)
    if trigger not in manifest:
        raise ValueError("the manifest has no Group subject to set")
    sweep = SUBJECT.format(DEFAULT_GROUP + SWEEP)
    return (manifest.replace(trigger, SUBJECT.format(group))
            .replace(sweep, SUBJECT.format(group + SWEEP)))


# deploy/admission.yaml's values as it writes them (the template's defaults), each replaced by
# render_admission.
ADMISSION_DEFAULTS = {
    "trusted": "\"['kubeflow-profile-manager', 'kubeflow-profile-manager-sweep', 'kubeflow-profile-manager-break-glass']\"",
    "functions": "g in ['kubeflow-profile-manager', 'kubeflow-profile-manager-sweep']",
    "owner": "\"'admin@kubeflow.com'\"",
    "roles": "\"['kubeflow-edit', 'kubeflow-view']\"",
    "protected": "\"['default', 'kubeflow', 'istio-system', 'auth', 'cert-manager', 'knative-serving', 'knative-eventing', 'oauth2-proxy']\"",
    "sweep": "\"'kubeflow-profile-manager-sweep'\"",
}
BUILT_IN_PROTECTED = ["default", "kubeflow", "istio-system", "auth", "cert-manager",
                      "knative-serving", "knative-eventing", "oauth2-proxy"]
DEFAULT_BREAK_GLASS = "kubeflow-profile-manager-break-glass"
# What a CEL string literal may hold here: no quote, no backslash, no control character.
PLAIN = re.compile(r"^[^'\"\\\x00-\x1f]+$")


def cel_list(items):
    return "[" + ", ".join(f"'{item}'" for item in items) + "]"


def render_admission(manifest, group, owner, admin, protected, break_glass):
    """deploy/admission.yaml with the stack's values in its policies' expressions. Pure."""
    if not GROUP.match(group):
        raise ValueError(
            f"{group!r} is no Kubernetes group the template accepts (lower-case letters, digits, '-' and '.', at most 57)")
    for value, what in [(owner, "GroupProfileOwner"), (break_glass, "the break-glass group")] + [
            (name, "a protected namespace") for name in protected]:
        if not PLAIN.match(value):
            raise ValueError(f"{what} {value!r} cannot be written into the policies")
    sweep = group + SWEEP
    roles = ["kubeflow-edit", "kubeflow-view"] + (["kubeflow-admin"] if admin else [])
    rendered = {
        "trusted": f'"{cel_list([group, sweep, break_glass])}"',
        "functions": f"g in {cel_list([group, sweep])}",
        "owner": f"\"'{owner}'\"",
        "roles": f'"{cel_list(roles)}"',
        "protected": f'"{cel_list(BUILT_IN_PROTECTED + [p for p in protected if p not in BUILT_IN_PROTECTED])}"',
        "sweep": f"\"'{sweep}'\"",
    }
    for key, default in ADMISSION_DEFAULTS.items():
        if default not in manifest:
            raise ValueError(f"deploy/admission.yaml no longer writes its {key} as expected")
        manifest = manifest.replace(default, rendered[key])
    return manifest


# The team defaults and the IRSA role as deploy/admission.yaml writes them (none).
DEFAULTS_AS_WRITTEN = 'name: defaults\n      expression: "{}"'
IRSA_ROLE_AS_WRITTEN = 'name: irsaRole\n      expression: "[]"'
PACKAGED_DEFAULTS = "deploy/team-defaults/team-defaults.yaml"


def read_team_defaults(path):
    """The objects of a TEAM_DEFAULTS_FILE (YAML documents, or one JSON list)."""
    try:
        import yaml
    except ImportError:
        raise ValueError("reading the team defaults needs PyYAML: pip install pyyaml, "
                         "or run it with the tools' Python (.tools/venv/bin/python, make tools)")
    with open(path, encoding="utf-8") as text:
        objects = []
        for document in yaml.safe_load_all(text):
            if isinstance(document, list):
                objects.extend(document)
            elif document is not None:
                objects.append(document)
    return objects


def render_team_setup(manifest, defaults, irsa_role):
    """`manifest` with the team defaults' specs by Kind/name (a JSON object, which is a CEL map
    literal, in a YAML single-quoted string) and the IRSA role's text around {namespace}. Pure."""
    for default in (DEFAULTS_AS_WRITTEN, IRSA_ROLE_AS_WRITTEN):
        if default not in manifest:
            raise ValueError("deploy/admission.yaml no longer writes its team settings as expected")
    if defaults:
        by_name = {f"{o.get('kind', '')}/{(o.get('metadata') or {}).get('name', '')}": o.get("spec")
                   for o in defaults}
        literal = json.dumps(by_name, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        manifest = manifest.replace(
            DEFAULTS_AS_WRITTEN,
            "name: defaults\n      expression: '" + literal.replace("'", "''") + "'")
    if irsa_role:
        prefix, _, suffix = irsa_role.partition("{namespace}")
        for part in (prefix, suffix):
            if part and not PLAIN.match(part):
                raise ValueError(f"TeamRoleArn {irsa_role!r} cannot be written into the policies")
        manifest = manifest.replace(
            IRSA_ROLE_AS_WRITTEN,
            f"name: irsaRole\n      expression: \"['{prefix}', '{suffix}']\"")
    return manifest


def stack_parameters(stack):
    """The stack's parameters, as a dict."""
    found = aws_cli.describe_stack(stack, aws_cli.require("rbac"))
    if found is None:
        refuse(f"there is no stack {stack} in this region (STACK=..., or GROUP=...)")
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("Parameters") or []}


def refuse(message):
    print(f"rbac: {message}", file=sys.stderr)
    sys.exit(2)


def stack_group(stack):
    found = aws_cli.describe_stack(stack, aws_cli.require("rbac"))
    if found is None:
        refuse(f"there is no stack {stack} in this region (STACK=..., or GROUP=...)")
    outputs = found.get("Outputs") or []
    for output in outputs:
        if output.get("OutputKey") == "KubernetesGroup":
            return output["OutputValue"]
    refuse(f"stack {stack} has no KubernetesGroup output: is it this project's stack?")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--group", help=f"the Kubernetes group (default {DEFAULT_GROUP})")
    source.add_argument("--stack", help="read the group from this stack's KubernetesGroup output")
    parser.add_argument("--admin", action="store_true", help="add deploy/rbac-admin.yaml (ALLOW_ADMIN_ROLE)")
    parser.add_argument("--admission", action="store_true",
                        help="print deploy/admission.yaml instead, with the stack's settings")
    parser.add_argument("--break-glass", default=DEFAULT_BREAK_GLASS,
                        help=f"with --admission: the group that may write the function's objects (default {DEFAULT_BREAK_GLASS})")
    parser.add_argument("--team-defaults",
                        help=f"with --admission: the stack's TEAM_DEFAULTS_FILE (with --stack and TeamDefaults=true, {PACKAGED_DEFAULTS})")
    parser.add_argument("--irsa-role",
                        help="with --admission: the stack's TeamRoleArn when TeamRoleVia=irsa (read from --stack)")
    args = parser.parse_args()
    group = stack_group(args.stack) if args.stack else (args.group or DEFAULT_GROUP)
    if args.admission:
        parameters = stack_parameters(args.stack) if args.stack else {}
        owner = parameters.get("GroupProfileOwner") or "admin@kubeflow.com"
        admin = args.admin or parameters.get("AllowAdminRole") == "true"
        protected = [n.strip().lower() for n in parameters.get("ProtectedNamespaces", "").split(",") if n.strip()]
        defaults_file = args.team_defaults or (
            os.path.join(ROOT, PACKAGED_DEFAULTS) if parameters.get("TeamDefaults") == "true" else None)
        irsa_role = args.irsa_role or (
            parameters.get("TeamRoleArn") if parameters.get("TeamRoleVia") == "irsa" else None)
        with open(os.path.join(ROOT, "deploy/admission.yaml"), encoding="utf-8") as manifest:
            try:
                defaults = read_team_defaults(defaults_file) if defaults_file else []
                rendered = render_admission(manifest.read(), group, owner, admin, protected,
                                            args.break_glass)
                sys.stdout.write(render_team_setup(rendered, defaults, irsa_role))
            except (ValueError, OSError) as refused:
                refuse(refused)
        return
    files = ["deploy/rbac.yaml"] + (["deploy/rbac-admin.yaml"] if args.admin else [])
    documents = []
    for name in files:
        with open(os.path.join(ROOT, name), encoding="utf-8") as manifest:
            try:
                documents.append(render(manifest.read(), group))
            except ValueError as refused:
                refuse(refused)
    sys.stdout.write("---\n".join(documents))


if __name__ == "__main__":
    main()
