#!/usr/bin/env bash
# Runs examples/python/producer.py as a real client: a fresh database, a
# fila-scheduler with the HTTP API and the AMQP ingest, one fila-worker; the
# example enqueues over HTTP (JSON and protobuf) and over AMQP and waits for
# its tasks, which must all have succeeded.
#   tests/examples/python_producer.sh [REPO [BIN_DIR]]
# Uses FILA_DATABASE_URL/FILA_AMQP_URL, or starts scripts/stack when unset.
set -euo pipefail
repo=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
bin=${2:-$repo/build/bin}
py=/usr/bin/python3

say() { echo "python_producer.sh: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }

for b in fila fila-scheduler fila-worker; do [ -x "$bin/$b" ] || die "$bin/$b not built"; done
[ -x "$py" ] || die "$py not found (Debian's python3, for python3-pika and python3-protobuf)"
"$py" -c 'import pika, google.protobuf' || die "python3-pika or python3-protobuf missing: run scripts/install-deps"
command -v protoc >/dev/null || die "protoc missing: run scripts/install-deps"
command -v psql >/dev/null || die "psql missing: run scripts/install-deps"

if [ -z "${FILA_DATABASE_URL:-}" ] || [ -z "${FILA_AMQP_URL:-}" ]; then
  "$repo/scripts/stack" up >&2
  eval "$("$repo/scripts/stack" env)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fila-example.XXXXXX")
db=fila_example_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
admin_url=$FILA_DATABASE_URL
pids=()
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  local rc=$? pid
  trap - EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$rc" != 0 ]; then
    for f in scheduler worker; do
      [ -f "$work/$f.log" ] && { echo "--- $f log (last lines) ---" >&2; tail -n 30 "$work/$f.log" >&2; }
    done
  fi
  psql -X -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

psql -X -q "$admin_url" -c "CREATE DATABASE $db" >/dev/null || die "cannot create database $db"
export FILA_DATABASE_URL=${admin_url%/*}/$db
"$bin/fila" migrate up >/dev/null || die "fila migrate up failed"
token=$("$bin/fila" tokens create --tenant example --role producer | head -n 1)
[ -n "$token" ] || die "fila tokens create printed no token"

# The example enqueues `sleep`, one of fila's test types: on for this stack only.
export FILA_ENABLE_TEST_TYPES=1
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api=http://127.0.0.1:$port
"$bin/fila-scheduler" --api-listen "127.0.0.1:$port" >"$work/scheduler.log" 2>&1 &
pids+=($!)
"$bin/fila-worker" --queues default --concurrency 4 >"$work/worker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -s -o /dev/null -H "Authorization: Bearer $token" "$api/v1/queues" && break
  kill -0 "${pids[0]}" 2>/dev/null || die "fila-scheduler exited"
  sleep 0.2
done
curl -sf -o /dev/null -H "Authorization: Bearer $token" "$api/v1/queues" || die "the API on $api does not answer"

"$repo/examples/python/gen.sh" "$work/gen" >/dev/null
PYTHONPATH=$work/gen "$py" "$repo/examples/python/producer.py" \
  --api "$api" --token "$token" --amqp "$FILA_AMQP_URL" --wait --wait-timeout 60 | tee "$work/out" ||
  die "producer.py failed"

# Three tasks (JSON, protobuf, AMQP), all succeeded, as the example saw them...
n=$(grep -c ': succeeded$' "$work/out" || true)
[ "$n" = 3 ] || die "expected 3 succeeded tasks in the example's output, got $n"
for via in 'http/json:' 'http/protobuf:' 'amqp:'; do
  grep -q "^$via" "$work/out" || die "no '$via' line in the example's output"
done
# ... and as the database has them.
"$bin/fila" list --json >"$work/list.json"
"$py" - "$work/list.json" <<'PY' || die "fila list disagrees: $(cat "$work/list.json")"
import json, sys
tasks = json.load(open(sys.argv[1]))
tasks = tasks.get("tasks", tasks) if isinstance(tasks, dict) else tasks
states = sorted((t["tenant"], t["state"]) for t in tasks)
assert states == [("example", "succeeded")] * 3, states
PY
say "ok: 3 tasks enqueued (HTTP JSON, HTTP protobuf, AMQP) and succeeded"
