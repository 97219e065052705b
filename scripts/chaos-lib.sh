# shellcheck shell=bash
# The producers and the faults of scripts/chaos. Sourced by it, never run;
# uses its globals: run (log folder), bin, FILA_* URLs, TOKEN, API_URLS,
# the process registry (WPID, WMODE, SPID) and its start_* functions.
# shellcheck disable=SC2154 # those globals are the caller's

PSQL=/usr/lib/postgresql/15/bin/psql

# One value from the database; empty while it is away.
sql() { "$PSQL" "$FILA_DATABASE_URL" -XqtAc "$1" 2>/dev/null || true; }

# --- producers ----------------------------------------------------------------

# Picks the next task: T_TYPE, T_ARGS (payload JSON), T_MAX (attempts),
# T_RETRY (1: short retry backoff), T_DELAY_MS, T_DEPENDS (a task id).
pick_task() {
  local r=$((RANDOM % 100))
  T_ARGS='' T_MAX=10 T_RETRY=0 T_DELAY_MS=0 T_DEPENDS='' T_PRIORITY=0
  if [ $r -lt 40 ]; then T_TYPE=sleep T_ARGS="{\"ms\": $((500 + RANDOM % 4500))}"
  elif [ $r -lt 55 ]; then T_TYPE=noop
  elif [ $r -lt 70 ]; then T_TYPE=flaky T_ARGS="{\"fail_times\": $((1 + RANDOM % 3))}" T_MAX=8 T_RETRY=1
  elif [ $r -lt 75 ]; then T_TYPE=flaky T_ARGS='{"fail_times": 50}' T_MAX=2 T_RETRY=1  # ends dead
  elif [ $r -lt 85 ]; then T_TYPE=fanout T_ARGS="{\"width\": $((1 + RANDOM % 3)), \"depth\": 1}"
  elif [ $r -lt 88 ]; then T_TYPE=fanout T_ARGS='{"width": 2, "depth": 1, "fail": true}'  # fails, no children
  elif [ $r -lt 94 ]; then T_TYPE=noop T_DELAY_MS=$((2000 + RANDOM % 18000))
  else T_TYPE=noop T_DEPENDS=${LAST_ID:-}
  fi
}

# Logs "ID KEY TYPE VIA" to $out once the enqueue is acknowledged; retries
# the same idempotency key for up to a minute (a server may be away).
acknowledged() {
  printf '%s %s %s %s\n' "$1" "$2" "$T_TYPE" "$3" >>"$out"
  LAST_ID=$1
}

enqueue_http() { # key
  local key=$1 body resp code i=0 until=$((SECONDS + 60))
  body="{\"type\": \"$T_TYPE\", \"queue\": \"chaos\", \"idempotency_key\": \"$key\", \"max_attempts\": $T_MAX, \"priority\": $T_PRIORITY"
  [ -z "$T_ARGS" ] || body+=", \"args\": $T_ARGS"
  [ "$T_RETRY" = 0 ] || body+=', "retry_base_ms": 200, "retry_cap_ms": 2000'
  [ "$T_DELAY_MS" = 0 ] || body+=", \"delay_ms\": $T_DELAY_MS"
  [ -z "$T_DEPENDS" ] || body+=", \"depends_on\": [\"$T_DEPENDS\"]"
  body+='}'
  while [ $SECONDS -lt $until ]; do
    resp=$(curl -s -m 5 -w '\n%{http_code}' -XPOST "${API_URLS[$((i++ % ${#API_URLS[@]}))]}/v1/tasks" \
      -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$body" 2>/dev/null) || true
    code=${resp##*$'\n'}
    if [[ $code =~ ^20[01]$ && $resp =~ \"id\":\"([0-9a-f-]{36})\" ]]; then
      acknowledged "${BASH_REMATCH[1]}" "$key" http
      return 0
    fi
    # 4xx other than 408/429 is this script's mistake: logged, not retried.
    if [[ $code =~ ^4 && $code != 408 && $code != 429 ]]; then
      echo "# refused $key: $code ${resp%$'\n'*}" >>"$out"
      return 1
    fi
    sleep 0.5
  done
  echo "# gave up $key" >>"$out"
}

enqueue_cli() { # key
  local key=$1 id until=$((SECONDS + 60))
  local args=(enqueue "$T_TYPE" --queue chaos --idempotency-key "$key" --max-attempts "$T_MAX" --priority "$T_PRIORITY")
  [ -z "$T_ARGS" ] || args+=(--payload-json "$T_ARGS")
  [ "$T_RETRY" = 0 ] || args+=(--retry-base-ms 200 --retry-cap-ms 2000)
  [ "$T_DELAY_MS" = 0 ] || args+=(--delay "$((T_DELAY_MS / 1000))s")
  [ -z "$T_DEPENDS" ] || args+=(--depends-on "$T_DEPENDS")
  while [ $SECONDS -lt $until ]; do
    if id=$("$bin/fila" "${args[@]}" 2>>"$run/producer-errors.log") && [[ $id =~ ^[0-9a-f-]{36}$ ]]; then
      acknowledged "$id" "$key" cli
      return 0
    fi
    sleep 0.5
  done
  echo "# gave up $key" >>"$out"
}

# A producer until $run/stop exists: $1 name, $2 http|cli.
# Paced, not as fast as enqueues are answered: the load stays the same
# share of the workers' capacity however fast the API is (unpaced, a faster
# API offered 3x what three 3-slot workers run, and no run could drain).
# FILA_CHAOS_INTERVAL_MS (default 400: 2.5 tasks/s per producer, about 5/s
# for both, some 60 % of the workers' capacity) between enqueues; a
# producer that fell behind does not burst to catch up.
producer() {
  local name=$1 via=$2 seq=0 out=$run/enqueued-$1.log
  local interval=${FILA_CHAOS_INTERVAL_MS:-400} next wait
  LAST_ID=
  next=$(fila_now_ms)
  while [ ! -e "$run/stop" ]; do
    seq=$((seq + 1))
    pick_task
    "enqueue_$via" "$name-$seq" || true
    next=$((next + interval))
    wait=$((next - $(fila_now_ms)))
    if [ "$wait" -gt 0 ]; then
      sleep "$(printf '%d.%03d' $((wait / 1000)) $((wait % 1000)))"
    else
      next=$(fila_now_ms)
    fi
  done
}

# --- recovery -------------------------------------------------------------------

# The running tasks of worker $1, as a quoted SQL list ('' when none).
running_on() { sql "SELECT string_agg(quote_literal(id::text), ',') FROM tasks WHERE state = 'running' AND worker = '$1'"; }

# Seconds since $1 (fila_now_ms), e.g. 3.42.
since() { local ms=$(($(fila_now_ms) - $1)); printf '%d.%02d' $((ms / 1000)) $((ms % 1000 / 10)); }

# Waits up to $4 s until none of the tasks $1 is queued or still running on
# worker $2: they run elsewhere or ended. RECOVERY: seconds since $3.
wait_moved() {
  local ids=$1 worker=$2 t0=$3 until=$((SECONDS + $4))
  RECOVERY=-
  [ -n "$ids" ] || return 0
  while [ $SECONDS -lt $until ]; do
    if [ "$(sql "SELECT count(*) FROM tasks WHERE id IN ($ids) AND (state = 'queued' OR (state = 'running' AND worker = '$worker'))")" = 0 ]; then
      RECOVERY=$(since "$t0")
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# Enqueues a no-op probe (CLI, retried; priority 9, so that it measures
# whether tasks flow again, not the backlog the fault left) and waits up to
# $2 s for it to succeed. RECOVERY: seconds since $1.
probe_seq=0
wait_probe() {
  local t0=$1 until=$((SECONDS + $2)) out=$run/enqueued-probe.log
  probe_seq=$((probe_seq + 1))
  T_TYPE=noop T_ARGS='' T_MAX=10 T_RETRY=0 T_DELAY_MS=0 T_DEPENDS='' T_PRIORITY=9
  RECOVERY=-
  enqueue_cli "probe-$probe_seq" || return 1
  while [ $SECONDS -lt $until ]; do
    if [ "$(sql "SELECT state FROM tasks WHERE id = '$LAST_ID'")" = succeeded ]; then
      RECOVERY=$(since "$t0")
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# --- faults -------------------------------------------------------------------
# Each prints what it did (FAULT_DETAIL), sets RECOVERY, and fails when the
# fault could not be injected or the system did not recover in time.

# The worker running the most tasks (a fault on an idle one measures
# nothing), or any when none runs a task.
busiest_worker() {
  local w ids=("${!WPID[@]}")
  for w in $(sql "SELECT worker FROM tasks WHERE state = 'running' GROUP BY worker ORDER BY count(*) DESC"); do
    [ -z "${WPID[$w]:-}" ] || { printf '%s\n' "$w"; return 0; }
  done
  printf '%s\n' "${ids[$((RANDOM % ${#ids[@]}))]}"
}

# A worker that cannot come back until $2 (a command) undoes $1 (a command);
# $3 the worker. Away for ISOLATION s (beyond the 10 s lease).
isolate_worker() {
  local away=$1 back=$2 w=$3 ids t0 rc=0
  ids=$(running_on "$w")
  $away
  t0=$(fila_now_ms)
  wait_moved "$ids" "$w" "$t0" "$ISOLATION" || rc=1
  while [ "$(($(fila_now_ms) - t0))" -lt $((ISOLATION * 1000)) ]; do sleep 0.2; done
  $back
  [ "$rc" = 0 ] || wait_moved "$ids" "$w" "$t0" 60 || return 1
  FAULT_DETAIL="worker $w away ${ISOLATION}s holding $(count_list "$ids") tasks"
}

count_list() { if [ -z "$1" ]; then echo 0; else local a=${1//[^,]/}; echo $((${#a} + 1)); fi; }

fault_kill9() {
  local w ids t0
  w=$(busiest_worker)
  ids=$(running_on "$w")
  kill -KILL "${WPID[$w]}" 2>/dev/null || return 1
  t0=$(fila_now_ms)
  wait "${WPID[$w]}" 2>/dev/null || true
  start_worker "$w-r$fault_no" "${WMODE[$w]}"
  unset "WPID[$w]" "WMODE[$w]"
  FAULT_DETAIL="killed $w holding $(count_list "$ids") tasks, started $w-r$fault_no"
  wait_moved "$ids" "$w" "$t0" 60
}

fault_sigstop() {
  local w
  w=$(busiest_worker)
  isolate_worker "kill -STOP ${WPID[$w]}" "kill -CONT ${WPID[$w]}" "$w"
}

fault_partition() { isolate_worker "netns_cut w" "netns_heal w" "$NS_WORKER"; }

fault_scheduler() {
  local s=$((1 + RANDOM % ${#SPID[@]})) sig=KILL t0
  [ $((RANDOM % 2)) = 0 ] || sig=TERM
  t0=$(fila_now_ms)
  kill -$sig "${SPID[$s]}" 2>/dev/null || return 1
  wait "${SPID[$s]}" 2>/dev/null || true
  start_scheduler "$s"
  FAULT_DETAIL="SIG$sig to scheduler $s, started again"
  wait_probe "$t0" 120
}

stack_fault() { # $1 detail, then the stack commands to run in order
  local t0
  FAULT_DETAIL=$1
  shift
  t0=$(fila_now_ms)
  local cmd
  for cmd in "$@"; do
    # shellcheck disable=SC2086 # a command with its arguments
    scripts/stack $cmd >>"$run/stack.log" 2>&1 || { FAULT_DETAIL+=" (scripts/stack $cmd failed)"; return 1; }
  done
  wait_probe "$t0" 120
}

fault_pg_restart() { stack_fault "scripts/stack restart-pg" restart-pg; }
fault_rmq_restart() { stack_fault "scripts/stack stop-rmq, start-rmq" stop-rmq start-rmq; }

fault_rmq_node() {
  local n=$((1 + RANDOM % 3)) t0
  t0=$(fila_now_ms)
  FAULT_DETAIL="node $n killed for 5 s"
  scripts/stack kill-rmq-node "$n" >>"$run/stack.log" 2>&1 || return 1
  sleep 5
  scripts/stack start-rmq-node "$n" >>"$run/stack.log" 2>&1 || return 1
  wait_probe "$t0" 120
}

fault_pg_failover() {
  local t0
  t0=$(fila_now_ms)
  FAULT_DETAIL="primary stopped, standby promoted, old primary rejoined"
  scripts/stack stop-pg-primary >>"$run/stack.log" 2>&1 || return 1
  scripts/stack promote >>"$run/stack.log" 2>&1 || return 1
  wait_probe "$t0" 120 || return 1
  local recovery=$RECOVERY
  scripts/stack rejoin-pg >>"$run/stack.log" 2>&1 || return 1
  RECOVERY=$recovery
}

# Recovered once every task queued at the purge was claimed or published
# again: the loss is made good. When each then runs depends on the backlog
# and its priority (the drain and the history check see that they all do).
fault_purge() {
  local ids t0 at until=$((SECONDS + 120))
  at=$(sql "SELECT now()")
  [ -n "$at" ] || return 1
  ids=$(sql "SELECT string_agg(quote_literal(id::text), ',') FROM tasks WHERE state = 'queued'")
  t0=$(fila_now_ms)
  curl -sf -m 10 -XDELETE "${FILA_AMQP_MGMT_URL%/}/api/queues/%2F/fila.chaos/contents" >/dev/null || return 1
  FAULT_DETAIL="purged fila.chaos with $(count_list "$ids") tasks queued"
  RECOVERY=-
  [ -n "$ids" ] || return 0
  while [ $SECONDS -lt $until ]; do
    if [ "$(sql "SELECT count(*) FROM tasks WHERE id IN ($ids) AND state = 'queued' AND updated_at <= '$at'")" = 0 ]; then
      RECOVERY=$(since "$t0")
      return 0
    fi
    sleep 0.2
  done
  return 1
}
