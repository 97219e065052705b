#!/usr/bin/env bash
# The enqueue benchmark: latency of POST /v1/tasks at a constant 500 and
# 2,000 requests/s (open loop, measured from the intended send time), then
# the throughput of POST /v1/tasks:batch with 1,000 tasks per request.
#
#   bench/run-enqueue.sh
#
# Builds (set FILA_BENCH_NO_BUILD=1 to use build/ as it is), starts the local
# stack (scripts/stack; stopped at the end only if this run started it), and
# runs one fila-scheduler with the HTTP API on a free port against a fresh
# database (dropped at the end). No workers: only the enqueue path is
# measured, with the scheduler's outbox relay publishing to RabbitMQ meanwhile.
# Tasks are `noop` on queue `bench`; the broker queue fila.bench is deleted at
# the end. Tunables: RATES ("500 2000"), DURATION (20), BATCH (1000),
# BATCH_DURATION (10), CONNECTIONS (32), BATCH_CONNECTIONS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
FILA_PROG=bench
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

RATES=${RATES:-500 2000}
DURATION=${DURATION:-20}
BATCH=${BATCH:-1000}
BATCH_DURATION=${BATCH_DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
BATCH_CONNECTIONS=${BATCH_CONNECTIONS:-2}
BODY='{"type":"noop","queue":"bench"}'
py=/usr/bin/python3
bin=$repo/build/bin

work=$(mktemp -d "${TMPDIR:-/tmp}/fila-bench.XXXXXX")
started_stack=0
scheduler_pid=
db=
# shellcheck disable=SC2317 # called from the EXIT trap
finish() {
  local rc=$?
  trap - EXIT
  if [ -n "$scheduler_pid" ]; then
    kill -TERM "$scheduler_pid" 2>/dev/null || true
    wait "$scheduler_pid" 2>/dev/null || true
    if [ "$rc" != 0 ]; then tail -n 20 "$work/scheduler.log" >&2 || true; fi
  fi
  if [ -n "$db" ]; then
    psql -X -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    "$py" - "$FILA_AMQP_URL" <<'PY' >/dev/null 2>&1 || true
import sys, pika
c = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
c.channel().queue_delete("fila.bench")
c.close()
PY
  fi
  if [ "$started_stack" = 1 ]; then scripts/stack down || true; fi
  rm -rf "$work"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "${FILA_BENCH_NO_BUILD:-0}" != 1 ]; then
  scripts/install-deps
  fila_build
fi
load=$bin/fila_bench_enqueue
if [ ! -x "$load" ]; then # bench/ not part of this build (yet): compile it alone
  load=$work/fila_bench_enqueue
  c++ -O2 -std=c++20 bench/enqueue_load.cpp -lcurl -pthread -o "$load"
fi

if ! scripts/stack status >/dev/null 2>&1; then started_stack=1; fi
scripts/stack up
eval "$(scripts/stack env)"
admin_url=$FILA_DATABASE_URL
db=fila_bench_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
psql -X -q "$admin_url" -c "CREATE DATABASE $db" >/dev/null
export FILA_DATABASE_URL=${admin_url%/*}/$db
"$bin/fila" migrate up >/dev/null
token=$("$bin/fila" tokens create --tenant bench --role producer 2>/dev/null | head -n 1)

port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
"$bin/fila-scheduler" --api-listen "127.0.0.1:$port" --log-level warn >"$work/scheduler.log" 2>&1 &
scheduler_pid=$!
for _ in $(seq 1 100); do
  curl -sf -o /dev/null -H "Authorization: Bearer $token" "$url/v1/queues" && break
  kill -0 "$scheduler_pid" 2>/dev/null || fila_die "fila-scheduler exited: $(tail -n 5 "$work/scheduler.log")"
  sleep 0.2
done

results=()
for rate in $RATES; do
  fila_say "open loop: $rate req/s for $DURATION s"
  "$load" --url "$url" --token "$token" --body "$BODY" --rate "$rate" --duration "$DURATION" \
    --connections "$CONNECTIONS" | tee "$work/out" ||
    fila_warn "at $rate req/s the server fell behind or answered errors"
  results+=("$(grep '^summary ' "$work/out")")
done
fila_say "batch: $BATCH tasks per request for $BATCH_DURATION s"
"$load" --url "$url" --token "$token" --body "$BODY" --batch "$BATCH" --duration "$BATCH_DURATION" \
  --warmup 1 --connections "$BATCH_CONNECTIONS" | tee "$work/out" ||
  fila_warn "the batch run had errors"
results+=("$(grep '^summary ' "$work/out")")

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
echo
printf '%-26s %15s %9s %9s %9s %9s %7s %9s\n' "run" "achieved" "p50 ms" "p90 ms" "p99 ms" "max ms" "errors" "not sent"
for r in "${results[@]}"; do
  if [ "$(field mode "$r")" = batch ]; then
    printf '%-26s %15s %9s %9s %9s %9s %7s %9s\n' "batch x$BATCH (${BATCH_CONNECTIONS} conn)" \
      "$(field tasks_per_s "$r") tasks/s" "$(field p50_ms "$r")" "$(field p90_ms "$r")" \
      "$(field p99_ms "$r")" "$(field max_ms "$r")" "$(field errors "$r")" -
  else
    printf '%-26s %15s %9s %9s %9s %9s %7s %9s\n' "$(field rate "$r") req/s" "$(field achieved "$r") req/s" \
      "$(field p50_ms "$r")" "$(field p90_ms "$r")" "$(field p99_ms "$r")" "$(field max_ms "$r")" \
      "$(field errors "$r")" "$(field unsent "$r")"
  fi
done
