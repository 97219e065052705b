#!/usr/bin/env bash
# Runs an HTTP handler example (examples/python-http-handler or
# examples/node-http-handler) end to end: a fresh database, the example's
# type registered (its URL pointed at a free port), a fila-scheduler with the
# HTTP API, one fila-worker, the example's handler; three tasks enqueued
# over the API: one succeeds with progress, one is retried after a 503 +
# Retry-After, one fails for good on a 422.
#   tests/examples/http_handler_example.sh REPO BIN_DIR python|node
# Uses FILA_DATABASE_URL/FILA_AMQP_URL, or starts scripts/stack when unset.
set -euo pipefail
repo=$(cd "$1" && pwd)
bin=$2
lang=$3

example_name="http_handler_example.sh ($lang)"
# shellcheck source=tests/examples/example_lib.sh
. "$(dirname "$0")/example_lib.sh"
case $lang in
  python) dir=$repo/examples/python-http-handler; run=("$py" "$dir/handler.py") ;;
  node) dir=$repo/examples/node-http-handler; run=(node "$dir/handler.js")
        command -v node >/dev/null || die "node missing" ;;
  *) die "unknown example $lang" ;;
esac
example_setup
# A queue of this run's own: examples may run at once on one broker.
queue=thumbnails-${db#fila_example_}
"$bin/fila" tenants bind example queue "$queue" >/dev/null || die "fila tenants bind failed"

# The example's type, its URL on a free port.
handler_port=$(free_port)
sed -e "s#http://127.0.0.1:[0-9]*/#http://127.0.0.1:$handler_port/#" -e "s#queue: thumbnails#queue: $queue#" \
  "$dir/types.yaml" >"$work/types.yaml"
"$bin/fila" types apply -f "$work/types.yaml" >/dev/null || die "fila types apply -f $dir/types.yaml failed"

PORT=$handler_port "${run[@]}" >"$work/handler.log" 2>&1 &
pids+=($!)
start_scheduler
"$bin/fila-worker" --queues "$queue" --concurrency 4 >"$work/worker.log" 2>&1 &
pids+=($!)

enqueue() {
  local out
  out=$(curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"type\": \"example.thumbnail\", \"args\": $1}" "$api/v1/tasks") || die "enqueue $1 failed"
  "$py" -c 'import json, sys; print(json.load(sys.stdin)["id"])' <<<"$out"
}
ok=$(enqueue '{"image": "cat.png", "width": 640}')
busy=$(enqueue '{"image": "busy.png", "width": 320}')
bad=$(enqueue '{"image": "dog.png", "width": 0}')

for _ in $(seq 1 150); do
  n=$(sql "SELECT count(*) FROM tasks WHERE state IN ('succeeded', 'failed', 'dead', 'cancelled')")
  [ "$n" = 3 ] && break
  sleep 0.2
done
[ "$n" = 3 ] || die "the tasks did not end: $(sql "SELECT id, state, last_error FROM tasks")"

state() { sql "SELECT state FROM tasks WHERE id = '$1'"; }
[ "$(state "$ok")" = succeeded ] || die "cat.png: $(state "$ok")"
[ "$(sql "SELECT convert_from(result, 'UTF8') FROM tasks WHERE id = '$ok'")" = '{"thumbnail":"cat-640.png"}' ] ||
  [ "$(sql "SELECT convert_from(result, 'UTF8') FROM tasks WHERE id = '$ok'")" = '{"thumbnail": "cat-640.png"}' ] ||
  die "cat.png result: $(sql "SELECT convert_from(result, 'UTF8') FROM tasks WHERE id = '$ok'")"
grep -q '^progress 50%: 200$' "$work/handler.log" || die "no progress accepted"
[ "$(state "$busy")" = succeeded ] || die "busy.png: $(state "$busy")"
[ "$(sql "SELECT count(*) FROM task_attempts WHERE task_id = '$busy'")" = 2 ] || die "busy.png was not retried once"
# From the first attempt's start (before its 503 was answered) to the second's.
gap=$(sql "SELECT extract(epoch FROM b.started_at - a.started_at) >= 1.0 FROM task_attempts a JOIN task_attempts b
           ON a.task_id = b.task_id AND b.attempt = 2 WHERE a.task_id = '$busy' AND a.attempt = 1")
[ "$gap" = t ] || die "busy.png was retried sooner than its Retry-After: 1"
[ "$(state "$bad")" = failed ] || die "dog.png: $(state "$bad")"
[ "$(sql "SELECT count(*) FROM task_attempts WHERE task_id = '$bad'")" = 1 ] || die "dog.png was retried"
sql "SELECT last_error FROM tasks WHERE id = '$bad'" | grep -q 'answered 422: width must be a positive integer' ||
  die "dog.png's error: $(sql "SELECT last_error FROM tasks WHERE id = '$bad'")"
say "ok: a thumbnail with progress, a retry after 503 + Retry-After, a 422 failed for good"
