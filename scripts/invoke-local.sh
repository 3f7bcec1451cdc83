#!/usr/bin/env bash
# `make invoke`: the function under `cargo lambda watch` (the local Lambda emulator), talking to
# the project's fake EKS cluster, invoked with one event; then the cluster is shown.
# Usage: scripts/invoke-local.sh EVENT.json [PORT]   (cargo-lambda on PATH; `make invoke` sees to it)
set -euo pipefail
event=${1:-events/v1-adfs-hosted-auth.json}
port=${2:-9100}
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$target/debug/kfpm-local" serve --env-file "$work/env" > "$work/cluster.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$work/env" ] && break; sleep 0.1; done
[ -f "$work/env" ] || { cat "$work/cluster.log"; echo "the fake cluster did not start" >&2; exit 1; }

echo "== cargo lambda watch: it compiles the function with its own settings first (the first time several minutes, on 2 cores; later seconds)"
cargo lambda watch --bin kubeflow-profile-manager -A 127.0.0.1 -P "$port" --env-file "$work/env" > "$work/watch.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done

echo "== cargo lambda invoke kubeflow-profile-manager --data-file $event"
answer=$(cargo lambda invoke -A 127.0.0.1 -P "$port" kubeflow-profile-manager --data-file "$event" --output-format json) \
  || { cat "$work/watch.log"; exit 1; }
if python3 -c 'import json,sys; a=json.loads(sys.argv[1]); e=json.load(open(sys.argv[2])); sys.exit(0 if a==e else 1)' "$answer" "$event"; then
  echo "== answer: the event, unchanged"
else
  echo "== answer differs from the event:"; echo "$answer"; exit 1
fi
echo "== function log (cargo lambda watch)"; grep -E 'change|sign-in|ERROR|WARN' "$work/watch.log" || true
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
# The listing make demo shows; not serve's first line, which names this script's temporary files.
grep -v '^fake EKS cluster at ' "$work/cluster.log"
