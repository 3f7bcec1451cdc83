#!/usr/bin/env bash
# `make e2e-cognito`: a real sign-in through cognito-local (a local Cognito user pool), whose
# Pre Token Generation trigger is this function under `cargo lambda watch`, which provisions the
# user on the project's fake EKS cluster. Needs cargo-lambda on PATH (the Makefile sees to it)
# and installs cognito-local and the AWS SDK for JavaScript into .tools/node.
set -euo pipefail
port=${1:-9100}
cognito_port=${COGNITO_PORT:-9229}
target=${CARGO_TARGET_DIR:-target}
root=$(pwd)
node_dir="${TOOLS:-$root/.tools}/node"
if [ ! -x "$node_dir/node_modules/.bin/cognito-local" ] || [ ! -d "$node_dir/node_modules/@aws-sdk/client-cognito-identity-provider" ]; then
  mkdir -p "$node_dir"
  (cd "$node_dir" && { [ -f package.json ] || npm init -y >/dev/null; } \
    && npm install --no-audit --no-fund --silent cognito-local@5.3.0 @aws-sdk/client-cognito-identity-provider@3)
fi

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.2; done; return 1; }

# One sign-in of a local cognito-local user in GROUPS ($groups, or the default below), with the
# function configured by "$@" (KEY=VALUE); leaves the fake cluster's final listing in
# $work/$case/cluster.log, the ID token's claims in $work/$case/claims.json, and what the sign-in
# said in $work/$case/sign-in.log. A refused sign-in fails the case unless $refusal_expected.
sign_in_case() {
  local case=$1; shift
  local user_groups=${groups:-"[ML-PLATFORM, RIDY-JOSE, kube-system]"}
  local dir="$work/$case" env_args=()
  mkdir -p "$dir/cognito/.cognito"
  for setting in "$@"; do env_args+=(--env "$setting"); done
  pids=()
  "$target/debug/kfpm-local" serve --env-file "$dir/env" "${env_args[@]}" > "$dir/cluster.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -f "$dir/env" ] && break; sleep 0.1; done

  echo "== $case: cargo lambda watch (it compiles the function first: the first time several minutes, later seconds)"
  cargo lambda watch --bin kubeflow-profile-manager -A 127.0.0.1 -P "$port" --env-file "$dir/env" > "$dir/watch.log" 2>&1 &
  pids+=($!)
  wait_port "$port" || { cat "$dir/watch.log"; exit 1; }

  # cognito-local calls the function through a proxy that answers as the Lambda API does (a
  # function's error as 200 with X-Amz-Function-Error, where cargo lambda watch answers 500).
  local proxy_port=$((port + 1000))
  python3 "$root/scripts/lambda-invoke-proxy.py" "$proxy_port" "$port" &
  pids+=($!)
  wait_port "$proxy_port" || { echo "the invoke proxy did not start" >&2; exit 1; }

  cat > "$dir/cognito/.cognito/config.json" <<JSON
{"LambdaClient": {"endpoint": "http://127.0.0.1:$proxy_port", "region": "us-east-1",
                  "credentials": {"accessKeyId": "local", "secretAccessKey": "local"}},
 "TriggerFunctions": {"PreTokenGeneration": "kubeflow-profile-manager"}}
JSON
  (cd "$dir/cognito" && PORT=$cognito_port HOST=127.0.0.1 exec "$node_dir/node_modules/.bin/cognito-local") > "$dir/cognito.log" 2>&1 &
  pids+=($!)
  wait_port "$cognito_port" || { cat "$dir/cognito.log"; exit 1; }

  echo "== $case: a local user signs in through cognito-local ($*)"
  local status=0
  node "$node_dir/cognito-sign-in.mjs" "http://127.0.0.1:$cognito_port" alice.smith@corp.example "$user_groups" "$dir/claims.json" \
    > "$dir/sign-in.log" || status=$?
  cat "$dir/sign-in.log"
  if [ "$status" -ne 0 ] && ! { [ "$status" -eq 3 ] && [ -n "${refusal_expected:-}" ]; }; then
    echo "== cognito-local log"; tail -30 "$dir/cognito.log"; echo "== function log"; tail -30 "$dir/watch.log"; exit 1
  fi
  echo "== function log"; grep -E 'change|sign-in|refused|not granted|ERROR' "$dir/watch.log" || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  cat "$dir/cluster.log"
  # The next case listens elsewhere: nothing of this one can answer it.
  port=$((port + 1)); cognito_port=$((cognito_port + 1))
}

# ES modules resolve packages next to the script, so it runs from the tools folder.
cp "$root/scripts/cognito-sign-in.mjs" "$node_dir/"

# A local user's groups are whatever was stored (and users may write them): by default they
# grant nothing.
sign_in_case untrusted
if grep -q 'user-alice-smith-corp-example-clusterrole-edit' "$work/untrusted/cluster.log"; then
  echo "== e2e failed: a local user's stored groups granted access without TRUST_STORED_GROUPS" >&2
  exit 1
fi

# The operator who made the attribute unwritable opts in.
sign_in_case trusted TRUST_STORED_GROUPS=true
grep -q 'ml-platform/user-alice-smith-corp-example-clusterrole-edit' "$work/trusted/cluster.log" \
  && ! grep -q 'kube-system/user-alice' "$work/trusted/cluster.log" \
  || { echo "== e2e failed: alice did not get ml-platform, or got kube-system" >&2; exit 1; }
# The sign-in gate: a person in no allow-listed group is refused with the configured message,
# which cognito-local passes on in its UserLambdaValidationException ("<function> failed with
# error <message>."), as Cognito does.
gate_message="No Kubeflow group yet: ask the ML platform team for one."
groups="[Payroll]" refusal_expected=1 sign_in_case gate TRUST_STORED_GROUPS=true GROUP_PREFIX=RIDY- \
  SIGN_IN_GATE=true "SIGN_IN_GATE_MESSAGE=$gate_message"
grep -qF "refused: UserLambdaValidationException: kubeflow-profile-manager failed with error $gate_message" "$work/gate/sign-in.log" \
  && ! grep -q 'profile-alice' "$work/gate/cluster.log" \
  || { echo "== e2e failed: the gate did not refuse alice with its message, or made her a Profile" >&2; exit 1; }

# The vetted groups in the ID token: cognito-local applies a V1 response's claimsToAddOrOverride
# and claimsToSuppress to the ID token (not groupOverrideDetails, which it ignores: the
# cognito:groups override is checked against Cognito's schema in the unit tests).
sign_in_case claims TRUST_STORED_GROUPS=true GROUP_PREFIX=RIDY- TOKEN_GROUPS=groups \
  TOKEN_GROUPS_CLAIMS=cognito:groups,kubeflow-groups SUPPRESS_GROUPS_ATTRIBUTE=true
python3 - "$work/claims/claims.json" <<'PY' || { echo "== e2e failed: the ID token does not carry exactly the vetted groups" >&2; exit 1; }
import json, sys
claims = json.load(open(sys.argv[1]))
assert claims.get("kubeflow-groups") == "RIDY-JOSE", claims
assert "custom:groups" not in claims, claims
print("== the ID token says kubeflow-groups =", claims["kubeflow-groups"], "and carries no custom:groups")
PY
echo "== e2e passed: without TRUST_STORED_GROUPS alice got nothing; with it ml-platform and ridy-jose, and nothing in kube-system; the gate refused a person of no group with its message; the ID token carried exactly the vetted groups"
