#!/usr/bin/env bash
# Runs examples/python-exec-handler for real: a fresh database, the type
# example.report registered (its handler: report.py, run per task by
# fila-worker), a fila-scheduler with the HTTP API and one fila-worker;
# enqueue.py enqueues three tasks over HTTP and waits for them: one succeeds
# with progress, one is retried after exit 75 and succeeds, one fails for
# good with report.py's stderr as its error.
#   tests/examples/python_exec_handler.sh [REPO [BIN_DIR]]
# Uses FILA_DATABASE_URL/FILA_AMQP_URL, or starts scripts/stack when unset.
set -euo pipefail
repo=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
bin=${2:-$repo/build/bin}
example=$repo/examples/python-exec-handler

example_name=python_exec_handler.sh
# shellcheck source=tests/examples/example_lib.sh
. "$(dirname "$0")/example_lib.sh"
example_setup fila-exec-shim

"$bin/fila" types apply -f "$example/types.yaml" >&2 || die "fila types apply failed"

start_scheduler
# The type's command is `python3 report.py`: the worker runs in the example's folder.
(cd "$example" && exec "$bin/fila-worker" --queues reports --concurrency 4) >"$work/worker.log" 2>&1 &
pids+=($!)

"$py" "$example/enqueue.py" --api "$api" --token "$token" | tee "$work/out" || die "enqueue.py failed"

# What the example printed, checked line by line ...
grep -q "^ok       succeeded attempt 1 progress 100% 'month 6 of 6' result {\"customer\": \"acme\"" "$work/out" ||
  die "the first task did not succeed with its progress and result"
grep -q "^retried  succeeded attempt 2 " "$work/out" || die "the second task did not succeed on its second attempt"
grep -q "^bad      failed attempt 1 .*error .the command exited with status 2: .*the payload needs a customer" \
  "$work/out" || die "the third task did not fail with report.py's stderr"
# ... and the retried task's first attempt as the database has it.
attempts=$(psql -X -qAt -v ON_ERROR_STOP=1 "$FILA_DATABASE_URL" -c \
  "SELECT string_agg(outcome || ': ' || error, ' | ' ORDER BY a.attempt) FROM task_attempts a JOIN tasks t
     ON t.id = a.task_id WHERE convert_from(t.payload, 'UTF8') LIKE '%globex%'") ||
  die "cannot read the attempts of the retried task"
case $attempts in
  "failed: the command exited with status 75 (EX_TEMPFAIL: try again later): "*"the sales database is busy"*" | succeeded: ") ;;
  *) die "unexpected attempts of the retried task: $attempts" ;;
esac
say "ok: 3 tasks run by report.py (a success with progress, a retry after exit 75, a permanent failure)"
