# shellcheck shell=bash
# What every example runner does around its example: the stack, a fresh
# database of its own (dropped at the end), a producer token, free ports, and
# on failure the last lines of each log in $work. Source it after setting
# `repo`, `bin` and `example_name`; then call example_setup.
# Uses FILA_DATABASE_URL/FILA_AMQP_URL, or starts scripts/stack when unset.

# shellcheck disable=SC2154 # repo, bin and example_name: the sourcing script's
py=/usr/bin/python3
say() { echo "$example_name: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }
free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
sql() { psql -X -q -t -A "$FILA_DATABASE_URL" -c "$1"; }

# shellcheck disable=SC2317 # called from the EXIT trap
example_cleanup() {
  local rc=$? pid log
  trap - EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$rc" != 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] && { echo "--- $(basename "$log" .log) log (last lines) ---" >&2; tail -n 30 "$log" >&2; }
    done
  fi
  psql -X -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}

# Sets work, db, admin_url, pids and token; FILA_DATABASE_URL names the new
# database, migrated.
example_setup() {
  local b
  for b in fila fila-scheduler fila-worker "$@"; do [ -x "$bin/$b" ] || die "$bin/$b not built"; done
  [ -x "$py" ] || die "$py not found"
  command -v psql >/dev/null || die "psql missing: run scripts/install-deps"
  if [ -z "${FILA_DATABASE_URL:-}" ] || [ -z "${FILA_AMQP_URL:-}" ]; then
    "$repo/scripts/stack" up >&2
    eval "$("$repo/scripts/stack" env)"
  fi
  work=$(mktemp -d "${TMPDIR:-/tmp}/fila-example.XXXXXX")
  db=fila_example_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
  admin_url=$FILA_DATABASE_URL
  pids=()
  trap example_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  psql -X -q "$admin_url" -c "CREATE DATABASE $db" >/dev/null || die "cannot create database $db"
  export FILA_DATABASE_URL=${admin_url%/*}/$db
  "$bin/fila" migrate up >/dev/null || die "fila migrate up failed"
  token=$("$bin/fila" tokens create --tenant example --role producer | head -n 1)
  [ -n "$token" ] || die "fila tokens create printed no token"
}

# Starts fila-scheduler with the HTTP API on a free port (sets api) and
# waits until the API answers the example's token.
start_scheduler() {
  local port pid _
  port=$(free_port)
  api=http://127.0.0.1:$port
  "$bin/fila-scheduler" --api-listen "127.0.0.1:$port" >"$work/scheduler.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 100); do
    curl -s -o /dev/null -H "Authorization: Bearer $token" "$api/v1/queues" && break
    kill -0 "$pid" 2>/dev/null || die "fila-scheduler exited"
    sleep 0.2
  done
  curl -sf -o /dev/null -H "Authorization: Bearer $token" "$api/v1/queues" || die "the API on $api does not answer"
}
