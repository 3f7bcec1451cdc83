#!/usr/bin/env bash
# `make doctor`: invoke the deployed function with a doctor request (aws lambda invoke) and
# print its report, one line per check; exits 1 when a check found a problem, 2 when the AWS
# CLI is missing, not version 2, or has no region (then nothing was invoked).
# Usage: scripts/doctor.sh FUNCTION [EMAIL] [GROUPS, comma-separated]
# FUNCTION is a name or an ARN (whose region is then used); AWS_CLI names the CLI (default: aws).
set -euo pipefail
function=$1 email=${2:-} groups=${3:-}
aws=${AWS_CLI:-aws}
# Checked first, as the Python scripts do: with version 1 the invoke below would fail on
# `Unknown options: --cli-binary-format`, without a region on an SDK error.
region=$(python3 "$(dirname "${BASH_SOURCE[0]}")/aws_cli.py" --prog doctor --function "$function") || exit $?
request=$(python3 -c '
import json, sys
email, groups = sys.argv[1], [g.strip() for g in sys.argv[2].split(",") if g.strip()]
request = {"kubeflow-profile-manager": "doctor", "groups": groups}
if email:
    request["email"] = email
print(json.dumps(request))' "$email" "$groups")
report=$(mktemp)
trap 'rm -f "$report"' EXIT
"$aws" lambda invoke --region "$region" --function-name "$function" \
  --cli-binary-format raw-in-base64-out --payload "$request" "$report" > /dev/null
python3 - "$report" <<'PY'
import json, sys
answer = json.load(open(sys.argv[1]))
if "text" not in answer:
    sys.exit(f"the function did not answer with a report: {answer}")
print(answer["text"], end="")
sys.exit(0 if answer["ok"] else 1)
PY
