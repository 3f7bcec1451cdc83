#!/usr/bin/env python3
"""Print the function's Kubernetes RBAC (deploy/rbac.yaml, and deploy/rbac-admin.yaml with
--admin) bound to the Kubernetes group the stack maps its roles to, ready for kubectl:

  rbac.py --group my-group [--admin] | kubectl apply -f -
  rbac.py --stack kubeflow-profile-manager [--admin] | kubectl apply -f -

The manifests in deploy/ bind the template's default group, kubeflow-profile-manager. A stack
deployed with another KubernetesGroup needs its ClusterRoleBindings to name that group, or the
function's requests are refused (403). --stack reads the group from the stack's KubernetesGroup
output (AWS CLI v2, AWS_CLI names it). Only the subjects' group name changes.
Exit codes: 0 printed, 1 the AWS CLI failed, 2 refused (bad group, no such stack or output).
"""

import argparse
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
    args = parser.parse_args()
    group = stack_group(args.stack) if args.stack else (args.group or DEFAULT_GROUP)
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
