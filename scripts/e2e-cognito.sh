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

"$target/debug/kfpm-local" serve --env-file "$work/env" > "$work/cluster.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$work/env" ] && break; sleep 0.1; done

cargo lambda watch --bin kubeflow-profile-manager -A 127.0.0.1 -P "$port" --env-file "$work/env" > "$work/watch.log" 2>&1 &
pids+=($!)
wait_port "$port" || { cat "$work/watch.log"; exit 1; }

mkdir -p "$work/cognito/.cognito"
cat > "$work/cognito/.cognito/config.json" <<JSON
{"LambdaClient": {"endpoint": "http://127.0.0.1:$port", "region": "us-east-1",
                  "credentials": {"accessKeyId": "local", "secretAccessKey": "local"}},
 "TriggerFunctions": {"PreTokenGeneration": "kubeflow-profile-manager"}}
JSON
(cd "$work/cognito" && PORT=$cognito_port HOST=127.0.0.1 exec "$node_dir/node_modules/.bin/cognito-local") > "$work/cognito.log" 2>&1 &
pids+=($!)
wait_port "$cognito_port" || { cat "$work/cognito.log"; exit 1; }

# ES modules resolve packages next to the script, so it runs from the tools folder.
cp "$root/scripts/cognito-sign-in.mjs" "$node_dir/"
node "$node_dir/cognito-sign-in.mjs" "http://127.0.0.1:$cognito_port" alice.smith@corp.example "[ML-PLATFORM, RIDY-JOSE, kube-system]" \
  || { echo "== cognito-local log"; tail -30 "$work/cognito.log"; echo "== function log"; tail -30 "$work/watch.log"; exit 1; }
echo "== function log"; grep -E 'change|sign-in|refused|ERROR' "$work/watch.log" || true
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
cat "$work/cluster.log"
grep -q 'ml-platform/user-alice-smith-corp-example-clusterrole-edit' "$work/cluster.log" \
  && ! grep -q 'kube-system/user-alice' "$work/cluster.log" \
  && echo "== e2e passed: alice got ml-platform and ridy-jose, and nothing in kube-system"
