#!/usr/bin/env bash
# `make doctor`: invoke the deployed function with a doctor request (aws lambda invoke) and
# print its report, one line per check; exits 1 when a check found a problem.
# Usage: scripts/doctor.sh FUNCTION [EMAIL] [GROUPS, comma-separated]
set -euo pipefail
function=$1 email=${2:-} groups=${3:-}
request=$(python3 -c '
import json, sys
email, groups = sys.argv[1], [g.strip() for g in sys.argv[2].split(",") if g.strip()]
request = {"kubeflow-profile-manager": "doctor", "groups": groups}
if email:
    request["email"] = email
print(json.dumps(request))' "$email" "$groups")
report=$(mktemp)
trap 'rm -f "$report"' EXIT
aws lambda invoke --function-name "$function" --cli-binary-format raw-in-base64-out \
  --payload "$request" "$report" > /dev/null
python3 - "$report" <<'PY'
import json, sys
answer = json.load(open(sys.argv[1]))
if "text" not in answer:
    sys.exit(f"the function did not answer with a report: {answer}")
print(answer["text"], end="")
sys.exit(0 if answer["ok"] else 1)
PY
