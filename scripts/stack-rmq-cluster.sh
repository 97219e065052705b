# shellcheck shell=bash
# The variables of scripts/stack are set and read there.
# shellcheck disable=SC2154,SC2034
# The RabbitMQ cluster mode of scripts/stack, sourced by it (never run).
#
#   FILA_STACK_RMQ_NODES=3 scripts/stack up   nodes fila-<hash>-1..3, one cluster
#   scripts/stack up-rmq                      RabbitMQ only (no PostgreSQL), same rules
#   scripts/stack kill-rmq-node N | stop-rmq-node N | start-rmq-node N
#   scripts/stack rmq-queue-node QUEUE        the node (1..N) holding a queue (leader if quorum)
#   scripts/stack rmqctl-node N ARGS...       rabbitmqctl against node N
#
# Each node has its folder <state>/rabbitmq-N (data, logs, pid file, config),
# its own AMQP, distribution and management ports (recorded in ports.env as
# REC_RMQ<N>_*), and the same Erlang cookie; they share one epmd (the single
# node's, <state>/rabbitmq). Nodes that ran before start in parallel; fresh
# ones start in parallel once node 1 runs and join it as they boot (peer
# discovery from their config file), with rabbitmqctl stop_app,
# join_cluster, start_app as the fallback; a node that has joined once
# keeps its membership across restarts. Measured on two busy cores: a fresh
# cluster in 45 s (a parallel start then join_cluster took 70-87 s), a
# restart of all three in 23-31 s, one node in 13-15 s. The number of nodes is recorded
# too (REC_RMQ_NODES): every later command, `env` included, follows it.
# Uses the helpers of scripts/stack (claim_port, rmq_prepare_dir, rmq_setenv,
# rmqctl, rmq_stop, rmq_kill, ...), pointed at one node by rmq_node_use.

RMQ_NODES=1
RMQ_CLUSTER_LOADED=
RMQN_AMQP=() RMQN_DIST=() RMQN_MGMT=()
# Node N: base+10N (AMQP), +1 (distribution), +2 (management). Below the
# kernel's ephemeral range (32768+), as pick_free_port's ports: a client's
# connection could otherwise take a killed node's port before it restarts
# (seen with the cluster's test beside the others).
RMQ_CLUSTER_DEFAULT_BASE=25700

rmq_rec_value() { if [ -f "$PORTS_FILE" ]; then sed -n "s/^$1=//p" "$PORTS_FILE" | tail -n 1; fi; }

# RMQ_NODES and every node's ports: recorded > default. The number of
# nodes: recorded > FILA_STACK_RMQ_NODES > 1; with $1 = up, the variable
# wins (it asks for a mode); with $1 = keep, it is ignored.
rmq_cluster_load() {
  local recorded i
  recorded=$(rmq_rec_value REC_RMQ_NODES)
  case ${1:-} in
    up) RMQ_NODES=${FILA_STACK_RMQ_NODES:-${recorded:-1}} ;;
    keep) RMQ_NODES=${recorded:-1} ;;
    *) RMQ_NODES=${recorded:-${FILA_STACK_RMQ_NODES:-1}} ;;
  esac
  RMQ_CLUSTER_LOADED=1
  case $RMQ_NODES in [1-9]) ;; *) fila_die "FILA_STACK_RMQ_NODES must be 1..9, not '$RMQ_NODES'" ;; esac
  for i in $(seq 1 "$RMQ_NODES"); do
    RMQN_AMQP[i]=$(rmq_rec_value "REC_RMQ${i}_AMQP_PORT")
    RMQN_DIST[i]=$(rmq_rec_value "REC_RMQ${i}_DIST_PORT")
    RMQN_MGMT[i]=$(rmq_rec_value "REC_RMQ${i}_MGMT_PORT")
    RECORDED_PORTS+=" ${RMQN_AMQP[i]} ${RMQN_DIST[i]} ${RMQN_MGMT[i]} "
    : "${RMQN_AMQP[i]:=$((RMQ_CLUSTER_DEFAULT_BASE + 10 * i))}"
    : "${RMQN_DIST[i]:=$((RMQ_CLUSTER_DEFAULT_BASE + 10 * i + 1))}"
    : "${RMQN_MGMT[i]:=$((RMQ_CLUSTER_DEFAULT_BASE + 10 * i + 2))}"
  done
}

rmq_cluster_on() { [ "$RMQ_NODES" -gt 1 ]; }

# Lines for ports.env (called by save_ports): what was recorded, unless a
# command loaded and changed it.
rmq_cluster_save_ports() {
  local i
  [ -n "$RMQ_CLUSTER_LOADED" ] || rmq_cluster_load keep
  echo "REC_RMQ_NODES=$RMQ_NODES"
  rmq_cluster_on || return 0
  for i in $(seq 1 "$RMQ_NODES"); do
    echo "REC_RMQ${i}_AMQP_PORT=${RMQN_AMQP[i]}"
    echo "REC_RMQ${i}_DIST_PORT=${RMQN_DIST[i]}"
    echo "REC_RMQ${i}_MGMT_PORT=${RMQN_MGMT[i]}"
  done
}

rmq_node_check() {
  case $1 in '' | *[!0-9]*) fila_die "no such RabbitMQ node: '$1' (1..$RMQ_NODES)" ;; esac
  if [ "$1" -lt 1 ] || [ "$1" -gt "$RMQ_NODES" ]; then fila_die "no such RabbitMQ node: $1 (1..$RMQ_NODES)"; fi
}

# Points the single-node variables of scripts/stack at node $1: only in a
# subshell, since save_ports would record node $1's ports as the single
# node's.
rmq_node_use() {
  rmq_node_check "$1"
  RMQ_DIR=$stack_dir/rabbitmq-$1
  RMQ_NODE=fila-$HASH-$1@localhost
  RMQ_PIDFILE=$RMQ_DIR/rabbitmq.pid
  AMQP_PORT=${RMQN_AMQP[$1]} DIST_PORT=${RMQN_DIST[$1]} MGMT_PORT=${RMQN_MGMT[$1]}
  FILA_PROG="stack[rmq-$1]"
}

rmq_node_running() { (rmq_node_use "$1" && rmq_running); }

# Free ports for node $1, none shared with another node.
rmq_node_claim_ports() {
  local i=$1 var taken j ref
  for var in RMQN_AMQP RMQN_DIST RMQN_MGMT; do
    ref="${var}[$i]"
    claim_port "$ref" "RabbitMQ node $i"
    for _ in 1 2 3; do
      taken=" $PG_PORT $EPMD_PORT "
      for j in $(seq 1 "$RMQ_NODES"); do
        [ "$j" = "$i" ] || taken+=" ${RMQN_AMQP[j]} ${RMQN_DIST[j]} ${RMQN_MGMT[j]} "
      done
      [ "$var" = RMQN_AMQP ] || taken+=" ${RMQN_AMQP[i]} "
      [ "$var" = RMQN_DIST ] || taken+=" ${RMQN_DIST[i]} "
      [ "$var" = RMQN_MGMT ] || taken+=" ${RMQN_MGMT[i]} "
      case $taken in *" ${!ref} "*) printf -v "$ref" '%s' "$(pick_free_port)" ;; *) break ;; esac
    done
  done
}

# Starts node $1's server in the background (after rmq_node_use); the
# caller awaits it with rmq_node_await. With RMQ_JOIN_NODE1=1 a node that
# never ran joins node 1's cluster as it boots (peer discovery from the
# config file; a node that has data ignores it).
rmq_node_launch() {
  mkdir -p "$RMQ_DIR/log"
  if [ ! -s "$RMQ_DIR/.erlang.cookie" ]; then
    install -m 400 "$stack_dir/rabbitmq/.erlang.cookie" "$RMQ_DIR/.erlang.cookie"
  fi
  rmq_prepare_dir
  if [ "${RMQ_JOIN_NODE1:-0}" = 1 ]; then
    {
      echo "cluster_formation.peer_discovery_backend = classic_config"
      echo "cluster_formation.classic_config.nodes.1 = fila-$HASH-1@localhost"
    } >>"$RMQ_DIR/rabbitmq.conf"
  fi
  rm -f "$RMQ_PIDFILE"
  (rmq_setenv && cd "$RMQ_DIR" && exec setsid nohup "$RMQ_BIN/rabbitmq-server" \
    >>"$RMQ_DIR/log/stdout.log" 2>&1 </dev/null 9>&-) &
}

# Waits until node $1 (after rmq_node_use) runs; on failure shows its log.
rmq_node_await() {
  local _
  for _ in $(seq 1 600); do
    [ -s "$RMQ_PIDFILE" ] && break
    sleep 0.1
  done
  if [ -s "$RMQ_PIDFILE" ] && rmqctl await_startup --timeout 90 >>"$RMQ_DIR/log/ctl.log" 2>&1; then
    return 0
  fi
  if rmq_running; then kill -KILL "$(rmq_pid)" 2>/dev/null || true; fi
  show_log_since "$RMQ_DIR/log/$RMQ_NODE.log" 0 15
  return 1
}

# A node other than node 1 that never joined node 1's cluster.
rmq_node_fresh() { [ "$1" -gt 1 ] && [ ! -f "$stack_dir/rabbitmq-$1/joined" ]; }

# Launches nodes $@ at once and waits for all; prints the ones that failed.
rmq_nodes_boot() {
  local i
  declare -A waiter=()
  for i in "$@"; do (rmq_node_use "$i" && rmq_node_launch); done
  for i in "$@"; do
    (rmq_node_use "$i" && rmq_node_await) &
    waiter[$i]=$!
  done
  for i in "$@"; do wait "${waiter[$i]}" || printf '%s ' "$i"; done
}

# Joins node $1 to node 1's cluster the manual way (join_cluster resets it).
rmq_node_join() {
  (rmq_node_use "$1" && rmqctl stop_app && rmqctl join_cluster "fila-$HASH-1@localhost" &&
    rmqctl start_app && rmqctl await_startup --timeout 90) >>"$stack_dir/rabbitmq-$1/log/ctl.log" 2>&1
}

# Starts the nodes $@ (not running). Nodes that ran before start at once.
# Fresh nodes start together once node 1 runs and join it as they boot
# (one boot each; a standalone boot then stop_app, join_cluster and
# start_app take twice as long); a fresh node that booted alone anyway is
# joined with join_cluster.
rmq_nodes_start() {
  local i failed known=() fresh=() members
  for i in "$@"; do rmq_node_claim_ports "$i"; done
  save_ports
  for i in "$@"; do if rmq_node_fresh "$i"; then fresh+=("$i"); else known+=("$i"); fi; done
  failed=$(rmq_nodes_boot "${known[@]}")
  [ -z "$failed" ] || fila_die "RabbitMQ node(s) $failed failed to start (logs: $stack_dir/rabbitmq-N/log/)"
  [ ${#fresh[@]} -gt 0 ] || return 0
  failed=$(RMQ_JOIN_NODE1=1 rmq_nodes_boot "${fresh[@]}")
  [ -z "$failed" ] || fila_die "RabbitMQ node(s) $failed failed to start (logs: $stack_dir/rabbitmq-N/log/)"
  members=$( (rmq_node_use 1 && rmqctl cluster_status --formatter json) 2>/dev/null) || members=
  for i in "${fresh[@]}"; do
    case $members in
      *'"running_nodes":['*"\"fila-$HASH-$i@localhost\""*) ;;
      *)
        fila_warn "node $i did not join node 1 as it booted; joining it with rabbitmqctl join_cluster"
        rmq_node_join "$i" || fila_die "RabbitMQ node $i could not join node 1 (log: $stack_dir/rabbitmq-$i/log/ctl.log)"
        ;;
    esac
    touch "$stack_dir/rabbitmq-$i/joined"
  done
}

rmq_cluster_up() {
  rmq_check_bins
  mkdir -p "$RMQ_DIR/log"
  epmd_start
  # One cookie for every node and for rabbitmqctl.
  if [ ! -s "$RMQ_DIR/.erlang.cookie" ]; then
    (umask 077 && head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F >"$RMQ_DIR/.erlang.cookie")
  fi
  local t0 i down=()
  t0=$(fila_now_ms)
  for i in $(seq 1 "$RMQ_NODES"); do rmq_node_running "$i" || down+=("$i"); done
  if [ ${#down[@]} -eq 0 ]; then
    fila_say "rabbitmq: $RMQ_NODES-node cluster already running on ports $(rmq_cluster_ports)"
    return 0
  fi
  rmq_nodes_start "${down[@]}"
  fila_say "rabbitmq: $RMQ_NODES-node cluster on 127.0.0.1 ports $(rmq_cluster_ports) in $(fila_elapsed "$t0") (nodes fila-$HASH-1..$RMQ_NODES@localhost)"
}

rmq_cluster_ports() {
  local i out=
  for i in $(seq 1 "$RMQ_NODES"); do out+="${out:+,}${RMQN_AMQP[i]}"; done
  printf '%s\n' "$out"
}

rmq_cluster_stop() { # $1: stop | kill
  local i pids=()
  for i in $(seq 1 "$RMQ_NODES"); do
    if [ "$1" = kill ]; then (rmq_node_use "$i" && rmq_kill) & else (rmq_node_use "$i" && rmq_stop) & fi
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || true; done
}

rmq_cluster_status() {
  local i rc=0
  for i in $(seq 1 "$RMQ_NODES"); do
    (
      rmq_node_use "$i"
      if rmq_running && port_open "$AMQP_PORT"; then
        echo "rabbitmq node $i: up on 127.0.0.1:$AMQP_PORT (node $RMQ_NODE, pid $(rmq_pid))"
      else
        echo "rabbitmq node $i: down (127.0.0.1:$AMQP_PORT, node $RMQ_NODE)"
        exit 1
      fi
    ) || rc=1
  done
  return "$rc"
}

# The queue's node: a classic queue's process, a quorum queue's leader.
rmq_queue_node() {
  [ -n "${1:-}" ] || fila_die "usage: scripts/stack rmq-queue-node QUEUE (e.g. fila.default)"
  local i line
  for i in $(seq 1 "$RMQ_NODES"); do
    rmq_node_running "$i" || continue
    line=$( (rmq_node_use "$i" && rmqctl list_queues -q --no-table-headers name pid leader) 2>/dev/null |
      awk -v q="$1" '$1 == q { print; exit }') || continue
    [ -n "$line" ] || fila_die "no queue $1"
    case $line in
      *"fila-$HASH-"*) line=${line##*fila-"$HASH"-} && printf '%s\n' "${line%%@*}" && return 0 ;;
      *) fila_die "queue $1 has no live node: $line" ;;
    esac
  done
  fila_die "no RabbitMQ node is running"
}

# --- what scripts/stack calls -----------------------------------------------

rmq_any_up() { if rmq_cluster_load up && rmq_cluster_on; then rmq_cluster_switch_check && rmq_cluster_up; else rmq_cluster_switch_check && rmq_up; fi; }
rmq_any_stop() { if rmq_cluster_load && rmq_cluster_on; then rmq_cluster_stop stop; else rmq_stop; fi; }
rmq_any_kill() { if rmq_cluster_load && rmq_cluster_on; then rmq_cluster_stop kill; else rmq_kill; fi; }

# Changing the number of nodes needs the old ones stopped first.
rmq_cluster_switch_check() {
  local recorded i
  recorded=$(rmq_rec_value REC_RMQ_NODES)
  recorded=${recorded:-1}
  [ "$recorded" != "$RMQ_NODES" ] || return 0
  if [ "$recorded" = 1 ]; then
    ! rmq_running || fila_die "a single RabbitMQ node runs in $stack_dir: scripts/stack down first"
  else
    for i in $(seq 1 "$recorded"); do
      [ ! -s "$stack_dir/rabbitmq-$i/rabbitmq.pid" ] || ! pid_is "$(cat "$stack_dir/rabbitmq-$i/rabbitmq.pid")" beam ||
        fila_die "a $recorded-node RabbitMQ cluster runs in $stack_dir: scripts/stack down first"
    done
  fi
}

# The export line of FILA_AMQP_URL: every node, comma-separated (quoted
# whole: %q would escape each comma).
rmq_env_amqp_url() {
  local i out=
  if ! rmq_cluster_on; then
    printf 'export %s=%q\n' FILA_AMQP_URL "amqp://guest:guest@127.0.0.1:$AMQP_PORT/"
    return 0
  fi
  for i in $(seq 1 "$RMQ_NODES"); do out+="${out:+,}amqp://guest:guest@127.0.0.1:${RMQN_AMQP[i]}/"; done
  printf "export FILA_AMQP_URL='%s'\n" "$out"
}

# For `env`: node 1 stands for the cluster in the single-node variables, and
# the cluster's own ones are added.
rmq_cluster_env() {
  rmq_cluster_load
  rmq_cluster_on || return 0
  AMQP_PORT=${RMQN_AMQP[1]} DIST_PORT=${RMQN_DIST[1]} MGMT_PORT=${RMQN_MGMT[1]}
}
rmq_cluster_env_extra() {
  rmq_cluster_on || return 0
  printf "export FILA_STACK_RMQ_NODES=%s FILA_STACK_AMQP_PORTS='%s'\n" "$RMQ_NODES" "$(rmq_cluster_ports)"
}

rmq_cluster_purge() { rm -rf "$stack_dir"/rabbitmq-[0-9]; }

# The cluster's own commands: $1 the command, $2... its arguments.
rmq_cluster_command() {
  local cmd=$1
  shift
  if [ "$cmd" = up-rmq ]; then
    take_lock
    load_ports
    rmq_any_up
    return
  fi
  with_recorded_ports
  rmq_cluster_load
  if [ "$cmd" = rmq-queue-node ]; then
    if rmq_cluster_on; then rmq_queue_node "$@"; else echo 1; fi
    return
  fi
  rmq_cluster_on || fila_die "$cmd needs a cluster: FILA_STACK_RMQ_NODES=3 scripts/stack up"
  local node=${1:-}
  case $cmd in
    kill-rmq-node) (rmq_node_use "$node" && rmq_kill) ;;
    stop-rmq-node) (rmq_node_use "$node" && rmq_stop) ;;
    start-rmq-node)
      rmq_node_check "$node"
      if rmq_node_running "$node"; then
        fila_say "rabbitmq node $node: already running on 127.0.0.1:${RMQN_AMQP[node]}"
      else
        local t0
        t0=$(fila_now_ms)
        rmq_nodes_start "$node"
        fila_say "rabbitmq node $node: started on 127.0.0.1:${RMQN_AMQP[node]} in $(fila_elapsed "$t0")"
      fi
      ;;
    rmqctl-node) shift; (rmq_node_use "$node" && rmqctl "$@") ;;
    *) fila_die "unknown command: $cmd" ;;
  esac
}
