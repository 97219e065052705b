# shellcheck shell=bash
# shellcheck disable=SC2153,SC2154 # PG_PORT, stack_dir, ... are scripts/stack's
# A streaming standby for scripts/stack's PostgreSQL, and failover commands.
# Sourced by scripts/stack (never run); uses its helpers and variables
# (PG_BASE, PG_PORT, pg_run, pg_write_conf, claim_port, save_ports, ...).
#
# Two nodes under the same PostgreSQL folder: node 1 is the stack's usual
# server ($PG_BASE/data, port PG_PORT), node 2 is made by
# `FILA_STACK_PG_STANDBY=1 scripts/stack up` with pg_basebackup -R from node
# 1 ($PG_BASE/data2, port PG2_PORT, recorded as REC_PG2_PORT in ports.env;
# FILA_STACK_PG2_PORT overrides). Which node is the primary is recorded in
# <state>/pg.primary. Failing over swaps the roles, never the ports, so the
# two-host URL of `scripts/stack env` stays valid:
#
#   stop-pg-primary    fast shutdown of the primary (it first sends every
#                      WAL record to the connected standby: nothing is lost)
#   promote            promotes the standby (pg_ctl promote); an old primary
#                      still running is stopped first, so two never take writes
#   rejoin-pg          rebuilds the node that is not the primary as its
#                      standby (pg_basebackup) and starts it
#   start-pg-primary   starts the primary again (after stop-pg-primary
#                      without promote)
#
# Replication is asynchronous: stop the primary cleanly (stop-pg-primary)
# before promoting, and nothing committed is lost.

PG2_PORT=
PG_PRIMARY_FILE=

pg2_setup() {
  load_pg_base
  PG_PRIMARY_FILE=$stack_dir/pg.primary
  local REC_PG2_PORT=''
  # shellcheck disable=SC1090
  if [ -f "$PORTS_FILE" ]; then . "$PORTS_FILE"; fi
  PG2_PORT=${FILA_STACK_PG2_PORT:-${REC_PG2_PORT:-$((DEFAULT_PG_PORT + 1))}}
  if pg_node_running 2; then PG2_PORT=${REC_PG2_PORT:-$PG2_PORT}; fi
  RECORDED_PORTS="$RECORDED_PORTS $REC_PG2_PORT "
}

# True once node 2 exists (the stack then runs both nodes).
pg2_exists() { [ -n "$PG_BASE" ] && [ -f "$PG_BASE/data2/PG_VERSION" ]; }

pg_node_data() { if [ "$1" = 1 ]; then echo "$PG_BASE/data"; else echo "$PG_BASE/data2"; fi; }
pg_node_port() { if [ "$1" = 1 ]; then echo "$PG_PORT"; else echo "$PG2_PORT"; fi; }
pg_other_node() { if [ "$1" = 1 ]; then echo 2; else echo 1; fi; }
pg_primary_node() { if [ -s "$PG_PRIMARY_FILE" ]; then cat "$PG_PRIMARY_FILE"; else echo 1; fi; }

pg_node_running() {
  local data
  data=$(pg_node_data "$1")
  [ -n "$PG_BASE" ] && [ -f "$data/PG_VERSION" ] || return 1
  pg_run "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1
}

# For save_ports: keeps node 2's port in ports.env whoever rewrites it.
pg_standby_save_ports() {
  local REC_PG2_PORT='' port=$PG2_PORT
  if [ -z "$port" ] && [ -f "$PORTS_FILE" ]; then
    # shellcheck disable=SC1090
    . "$PORTS_FILE"
    port=$REC_PG2_PORT
  fi
  if [ -n "$port" ]; then echo "REC_PG2_PORT=$port"; fi
}

# For pg_write_conf: what both nodes need for replication and failover.
pg_standby_conf() {
  echo "# streaming standby (scripts/stack-pg-standby.sh)"
  echo "wal_keep_size = 1GB"
}

# The URL every client uses: both nodes when node 2 exists, so that libpq
# finds whichever is the primary.
pg_database_url() {
  pg2_setup
  if pg2_exists; then
    printf 'postgresql://postgres@127.0.0.1:%s,127.0.0.1:%s/fila?target_session_attrs=read-write\n' \
      "$PG_PORT" "$PG2_PORT"
  else
    printf 'postgresql://postgres@127.0.0.1:%s/fila\n' "$PG_PORT"
  fi
}

pg_standby_env() {
  if pg2_exists; then printf 'export %s=%q\n' FILA_STACK_PG2_PORT "$PG2_PORT"; fi
}

pg_standby_status() {
  pg2_setup
  pg2_exists || return 0
  local role=standby
  [ "$(pg_primary_node)" = 2 ] && role=primary
  if pg_node_running 2 && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG2_PORT" -t 3; then
    echo "postgresql node 2: up on 127.0.0.1:$PG2_PORT ($role; node 1 is the $([ "$role" = primary ] && echo standby || echo primary))"
  else
    echo "postgresql node 2: down (127.0.0.1:$PG2_PORT, $role)"
  fi
}

pg_node_start() { # $1 node
  if [ "$1" = 1 ]; then
    pg_up
    return 0
  fi
  if pg_node_running 2; then
    fila_say "postgresql node 2: already running on 127.0.0.1:$PG2_PORT"
    return 0
  fi
  local data log t0
  data=$(pg_node_data 2)
  log=$PG_BASE/server2.log
  t0=$(fila_now_ms)
  claim_port PG2_PORT "PostgreSQL node 2"
  save_ports
  pg_write_conf "$data" "$PG2_PORT"
  pg_run "$PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start >>"$stack_dir/pg_ctl.log" 2>&1 9>&- ||
    { show_log_since "$log" 0 30; fila_die "PostgreSQL node 2 failed to start (log: $log)"; }
  fila_say "postgresql node 2: started on 127.0.0.1:$PG2_PORT in $(fila_elapsed "$t0")"
}

pg_node_stop() { # $1 node, $2 fast | immediate
  pg_node_running "$1" || return 0
  pg_run "$PG_BIN/pg_ctl" -D "$(pg_node_data "$1")" -m "$2" -w -t 60 stop >>"$stack_dir/pg_ctl.log" 2>&1 ||
    fila_die "pg_ctl stop of node $1 failed (log: $stack_dir/pg_ctl.log)"
  fila_say "postgresql node $1: stopped ($2)"
}

# Replaces node $1's data by a base backup of node $2, set up to stream from
# it. --no-sync, like the stack's initdb: the node's first start is a
# recovery, which syncs the whole data folder before it serves anything.
pg_node_rebuild() {
  local data t0
  data=$(pg_node_data "$1")
  t0=$(fila_now_ms)
  pg_run rm -rf "$data"
  pg_run "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$(pg_node_port "$2")" -U postgres -D "$data" \
    -R -X stream -c fast --no-sync >>"$stack_dir/pg_ctl.log" 2>&1 ||
    fila_die "pg_basebackup of node $2 into node $1 failed (log: $stack_dir/pg_ctl.log)"
  fila_say "postgresql node $1: base backup of node $2 in $(fila_elapsed "$t0")"
}

# --- commands (scripts/stack dispatches to these) ---------------------------

# `up` and `up-pg`: PostgreSQL, with node 2 when FILA_STACK_PG_STANDBY=1 or
# when it exists; the primary first. A node that was the primary before a
# failover and was not rejoined is rebuilt as a standby before it starts:
# started as it is, it would take writes beside the new primary.
pg_pair_up() {
  pg2_setup
  if ! pg2_exists; then
    pg_up
    if [ "${FILA_STACK_PG_STANDBY:-0}" = 1 ]; then
      claim_port PG2_PORT "PostgreSQL node 2"
      save_ports
      pg_node_rebuild 2 1
      pg_node_start 2
    fi
    return 0
  fi
  local primary standby
  primary=$(pg_primary_node)
  standby=$(pg_other_node "$primary")
  pg_node_start "$primary"
  if ! pg_node_running "$standby" && [ ! -f "$(pg_node_data "$standby")/standby.signal" ]; then
    fila_warn "node $standby was the primary before the failover: rebuilding it as a standby"
    pg_node_rebuild "$standby" "$primary"
  fi
  pg_node_start "$standby"
}

cmd_up_pg() {
  take_lock
  load_ports
  pg_pair_up
}

pg_standby_down() { # $1: 1 to purge
  pg2_setup
  pg_node_stop 2 fast
  if [ "$1" = 1 ]; then rm -f "$PG_PRIMARY_FILE"; fi
}

pg_standby_command() {
  with_recorded_ports
  pg2_setup
  pg2_exists || fila_die "no standby in $stack_dir: start with FILA_STACK_PG_STANDBY=1 scripts/stack up"
  local primary standby
  primary=$(pg_primary_node)
  standby=$(pg_other_node "$primary")
  case $1 in
    stop-pg-primary) pg_node_stop "$primary" fast ;;
    start-pg-primary) pg_node_start "$primary" ;;
    promote)
      pg_node_running "$standby" || fila_die "node $standby (the standby) is not running"
      if pg_node_running "$primary"; then
        fila_warn "node $primary (the primary) still runs: stopping it first"
        pg_node_stop "$primary" fast
      fi
      local t0
      t0=$(fila_now_ms)
      pg_run "$PG_BIN/pg_ctl" -D "$(pg_node_data "$standby")" -w -t 60 promote >>"$stack_dir/pg_ctl.log" 2>&1 ||
        fila_die "pg_ctl promote of node $standby failed (log: $stack_dir/pg_ctl.log)"
      echo "$standby" >"$PG_PRIMARY_FILE"
      fila_say "postgresql node $standby: promoted to primary in $(fila_elapsed "$t0") (127.0.0.1:$(pg_node_port "$standby"))"
      ;;
    rejoin-pg)
      pg_node_running "$primary" || fila_die "node $primary (the primary) is not running"
      pg_node_stop "$standby" fast
      pg_node_rebuild "$standby" "$primary"
      pg_node_start "$standby"
      ;;
  esac
}
