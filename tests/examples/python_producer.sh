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

example_name=python_producer.sh
# shellcheck source=tests/examples/example_lib.sh
. "$(dirname "$0")/example_lib.sh"
"$py" -c 'import pika, google.protobuf' || die "python3-pika or python3-protobuf missing: run scripts/install-deps"
command -v protoc >/dev/null || die "protoc missing: run scripts/install-deps"
example_setup

# The example enqueues `sleep`, one of fila's test types: on for this stack only.
export FILA_ENABLE_TEST_TYPES=1
start_scheduler
"$bin/fila-worker" --queues default --concurrency 4 >"$work/worker.log" 2>&1 &
pids+=($!)

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
