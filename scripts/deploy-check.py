#!/usr/bin/env python3
"""`make deploy`'s first step, before a build of minutes: can this deploy succeed as asked?

  deploy-check.py --stack NAME [Key=Value ...]

The Key=Value words are the template parameters make deploy passes to sam deploy
(PARAMS="..."). It checks, and says in one line each what to change:
- the AWS CLI is version 2 and a region is known (scripts/aws_cli.py);
- every Key is a parameter of template.yaml, and each value one it accepts (AllowedValues,
  AllowedPattern, MinValue/MaxValue), as CloudFormation would check it only after the build;
- a first deploy (no such stack yet) names every parameter without a default (ClusterName,
  UserPoolArn) and exactly one allow-list: GroupPrefix=..., or AllowAllGroups=true;
- an update keeps every parameter it does not name (sam deploy sends UsePreviousValue), so
  only the allow-list rule is checked again, on the stack's values with these changes.
It prints the region on stdout (make deploy passes it to sam deploy) and what will happen on
stderr. Exit codes: 0 go ahead, 1 the AWS CLI failed, 2 refused (nothing was built or sent).
"""

import os
import re
import sys

import aws_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Parameters earlier versions had, and what replaced them.
REPLACED = {
    "MoreClusterNames": "MoreClusterArns (each cluster's ARN: aws eks describe-cluster --name NAME --query cluster.arn)",
    "OtherRegionClusters": "MoreClusterArns (each cluster's ARN, in any region)",
}


class Refused(Exception):
    """The deploy cannot succeed as asked; the message says what to change."""


def template_parameters(text):
    """template.yaml's Parameters: name -> {Type, Default, AllowedValues, AllowedPattern,
    MinValue, MaxValue} as written (strings). Reads the plain YAML the template uses for them
    (two-space names, four-space one-line properties), no YAML library needed."""
    parameters, current, inside = {}, None, False
    for line in text.splitlines():
        if re.match(r"^\S", line):
            inside = line.startswith("Parameters:")
            continue
        if not inside:
            continue
        name = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
        if name:
            current = parameters.setdefault(name.group(1), {})
            continue
        prop = re.match(r"^    (Type|Default|AllowedValues|AllowedPattern|MinValue|MaxValue):\s*(.*)$", line)
        if current is not None and prop:
            current[prop.group(1)] = unquote(prop.group(2))
    return parameters


def unquote(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        return inner.replace("''", "'") if value[0] == "'" else inner.encode().decode("unicode_escape")
    return value


def allowed_values(spec):
    return [unquote(v) for v in spec.strip("[]").split(",")]


def parse_overrides(words):
    """Key=Value words (sam deploy --parameter-overrides' form) as a dict. Pure; raises Refused."""
    overrides = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise Refused(f"{word!r} is not Key=Value (PARAMS=\"ClusterName=kf GroupPrefix=KF-\")")
        overrides[key] = value
    return overrides


def check_values(parameters, overrides):
    """Every override names a parameter and gives it a value it accepts. Pure; raises Refused."""
    for key, value in overrides.items():
        if key not in parameters:
            if key in REPLACED:
                raise Refused(f"{key} is no longer a parameter: use {REPLACED[key]}")
            raise Refused(f"{key} is not a parameter of template.yaml; its parameters are: "
                          f"{', '.join(sorted(parameters))}")
        spec = parameters[key]
        values = [value] if spec.get("Type") != "CommaDelimitedList" else value.split(",")
        for one in values:
            if "AllowedValues" in spec and one not in allowed_values(spec["AllowedValues"]):
                raise Refused(f"{key}={one} is not allowed: one of {spec['AllowedValues']}")
            if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], one):
                raise Refused(f"{key}={one!r} does not match {spec['AllowedPattern']}")
            if spec.get("Type") == "Number":
                try:
                    number = float(one)
                except ValueError:
                    raise Refused(f"{key}={one!r} is not a number")
                if "MinValue" in spec and number < float(spec["MinValue"]):
                    raise Refused(f"{key}={one} is below its minimum, {spec['MinValue']}")
                if "MaxValue" in spec and number > float(spec["MaxValue"]):
                    raise Refused(f"{key}={one} is above its maximum, {spec['MaxValue']}")


def check_first_deploy(parameters, overrides):
    """A new stack: every parameter without a default is named. Pure; raises Refused."""
    missing = [name for name, spec in parameters.items() if "Default" not in spec and name not in overrides]
    if missing:
        example = " ".join(f"{name}=..." for name in missing)
        if "GroupPrefix" not in overrides and "AllowAllGroups" not in overrides:
            example += " GroupPrefix=KF-"
        raise Refused(f"a first deploy needs {', '.join(missing)}: make deploy PARAMS=\"{example}\" "
                      f"(README, Deploying)")


def check_allow_list(values):
    """The template's ExactlyOneAllowList rule, on the stack's values after this deploy. Pure."""
    prefix = values.get("GroupPrefix", "")
    all_groups = values.get("AllowAllGroups", "false") == "true"
    if bool(prefix) == all_groups:
        raise Refused("set exactly one of GroupPrefix=<prefix> (only groups starting with it become "
                      "namespaces) and AllowAllGroups=true (every AD group does)")


def deployed_parameters(stack, region):
    """The stack's current parameter values, or None when there is no such stack."""
    found = aws_cli.describe_stack(stack, region)
    if found is None:
        return None
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("Parameters") or []}


def plan(parameters, overrides, deployed):
    """What this deploy does, in words, after every check. Pure; raises Refused."""
    check_values(parameters, overrides)
    if deployed is None:
        check_first_deploy(parameters, overrides)
        defaults = {name: spec.get("Default", "") for name, spec in parameters.items()}
        check_allow_list({**defaults, **overrides})
        return "a first deploy, with " + " ".join(f"{k}={v}" for k, v in overrides.items())
    check_allow_list({**deployed, **overrides})
    lines = ["an update: every parameter keeps its value" + (
        ", except " + " ".join(f"{k}={v}" for k, v in overrides.items()) if overrides else "")]
    for gone in sorted(set(deployed) - set(parameters)):
        instead = f": use {REPLACED[gone]}" if gone in REPLACED else ""
        lines.append(f"{gone} (={deployed[gone]!r}) is no longer a parameter and is dropped{instead}")
    return "; ".join(lines)


def main(argv):
    if len(argv) < 2 or argv[0] != "--stack":
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    stack, words = argv[1], argv[2:]
    region = aws_cli.require("deploy")
    with open(os.path.join(ROOT, "template.yaml"), encoding="utf-8") as template:
        parameters = template_parameters(template.read())
    try:
        overrides = parse_overrides(words)
        check_values(parameters, overrides)
        words_of_plan = plan(parameters, overrides, deployed_parameters(stack, region))
    except Refused as refused:
        print(f"deploy: {refused}", file=sys.stderr)
        return 2
    print(f"deploy: stack {stack} in {region}: {words_of_plan}", file=sys.stderr)
    print(region)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
