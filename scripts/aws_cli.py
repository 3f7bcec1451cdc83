#!/usr/bin/env python3
"""The AWS CLI that scripts/doctor.sh, scripts/set-trigger.py and scripts/access-report.py run,
checked before they run it: it is found, it is version 2, and a region is known.

Each check that fails is one line saying what to do, and exit code 2, before anything is
invoked: with version 1 the scripts would otherwise fail on `Unknown options:
--cli-binary-format`, and without a region on an SDK error naming neither.

The region comes from what is named (a function ARN, a user pool id) when it says, else
AWS_REGION, AWS_DEFAULT_REGION, or `aws configure get region`; the scripts pass it as
--region, so the CLI uses the same one whatever its version reads.
AWS_CLI names the CLI (default: aws).

The Python scripts import it (`python3 scripts/X.py` puts scripts/ on sys.path); doctor.sh runs
  aws_cli.py --prog doctor [--function NAME|ARN]
which prints the region, or the failed check's line and exits 2.
(Not awscli.py: that is the name of AWS CLI v1's own Python package.)
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

INSTALL = "https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
# arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME; the partition is aws, aws-cn, aws-us-gov, ...
FUNCTION_ARN = re.compile(r"arn:aws[a-z-]*:lambda:([a-z0-9-]+):")
# A pool id is REGION_SUFFIX, e.g. eu-west-1_AbC123xyz.
POOL_ID = re.compile(r"([a-z]{2}(?:-[a-z]+)+-[0-9]+)_[0-9A-Za-z]+")


class Unusable(Exception):
    """The AWS CLI cannot be run as the scripts need; the message says what to do."""


def command():
    return os.environ.get("AWS_CLI") or "aws"


def region_of_function(function):
    """The region of a function ARN; None for a bare name (or a partial ARN)."""
    match = FUNCTION_ARN.match(function or "")
    return match.group(1) if match else None


def region_of_pool(pool_id):
    match = POOL_ID.fullmatch(pool_id or "")
    return match.group(1) if match else None


def check_version(cli):
    if shutil.which(cli) is None:
        if os.sep in cli:
            raise Unusable(f"no AWS CLI at `{cli}` (AWS_CLI): install version 2 ({INSTALL}) "
                           f"or point AWS_CLI at it")
        raise Unusable(f"no AWS CLI: `{cli}` is not on PATH; install version 2 ({INSTALL}) "
                       f"or set AWS_CLI to its path")
    try:
        # Version 1 before 1.18 printed its version on stderr.
        answer = subprocess.run([cli, "--version"], capture_output=True, text=True)
    except OSError as error:
        raise Unusable(f"the AWS CLI at `{cli}` cannot be run ({error.strerror}); "
                       f"these scripts need version 2: {INSTALL}")
    printed = (answer.stdout + answer.stderr).strip()
    match = re.search(r"aws-cli/([0-9]+)(\.[0-9A-Za-z.]*)?", printed)
    if not match:
        shown = printed.splitlines()[0] if printed else "nothing"
        raise Unusable(f"`{cli} --version` printed {shown!r}, not an AWS CLI version; "
                       f"these scripts need the AWS CLI version 2: {INSTALL}")
    if match.group(1) != "2":
        raise Unusable(f"the AWS CLI at `{cli}` is version {match.group(1)}{match.group(2) or ''}; "
                       f"these scripts need version 2: {INSTALL}")


def configured_region(cli):
    # Exits 1, printing nothing, when the profile has no region.
    answer = subprocess.run([cli, "configure", "get", "region"], capture_output=True, text=True)
    return answer.stdout.strip() if answer.returncode == 0 else ""


def check(region=None, hint=""):
    """The region to pass as --region, after checking the CLI: `region` when the caller read
    one from what it was given, else the environment's or the CLI's configuration. Raises
    Unusable; `hint` adds another way to give a region to its message."""
    cli = command()
    check_version(cli)
    region = (region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
              or configured_region(cli))
    if not region:
        raise Unusable(f"no AWS region: set AWS_REGION or run `{cli} configure`{hint}")
    return region


def require(prog, region=None, hint=""):
    """check(), or the failed check's line on stderr and exit 2."""
    try:
        return check(region, hint)
    except Unusable as unusable:
        print(f"{prog}: {unusable}", file=sys.stderr)
        raise SystemExit(2)


def describe_stack(stack, region):
    """The stack's DescribeStacks entry, or None when there is no such stack. Any other failure
    of the CLI is printed and exits 1."""
    answer = subprocess.run(
        [command(), "cloudformation", "describe-stacks", "--stack-name", stack,
         "--region", region, "--output", "json"], capture_output=True, text=True)
    if answer.returncode != 0:
        if "does not exist" in answer.stderr:
            return None
        sys.stderr.write(answer.stderr)
        raise SystemExit(1)
    return json.loads(answer.stdout)["Stacks"][0]


FUNCTION_HINT = " (or give the function as its ARN)"


def require_for_function(prog, function):
    """require() for a script that invokes `function`, a name or an ARN."""
    return require(prog, region_of_function(function), FUNCTION_HINT)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prog", required=True, help="the script's name, for the message")
    parser.add_argument("--function", help="the function to invoke, a name or an ARN")
    args = parser.parse_args(argv)
    print(require_for_function(args.prog, args.function))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
