# shellcheck shell=bash
# Network namespaces for scripts/chaos: the shell twin of
# tests/support/netns.h (same names fila-<pid>-<id>, same lock, same /30s of
# 10.213.0.0/16). A process started with netns_exec reaches this host only
# through a veth pair; fila-tcp-forward on the host end relays its
# connections to the stack's servers on 127.0.0.1 (they listen nowhere
# else, and no iptables is needed). Sourced after scripts/lib.sh, never run.
#
#   netns_unavailable                 prints why namespaces cannot be used; false when they can
#   netns_create H FORWARDER PORT...  namespace H: veth, addresses, forwarders for PORTs
#   netns_exec H CMD...               runs CMD inside (exec, same pid)
#   netns_rewrite H URL               URL with 127.0.0.1/localhost replaced by H's host end
#   netns_inner H                     the address of H's end (listeners inside use it)
#   netns_cut H / netns_heal H        link of H's end down (partition) / up
#   netns_delay H MS                  tc netem delay both ways (0 removes); false without sch_netem
#   netns_destroy H                   forwarders, veth and namespace gone (also for a half-made H)
#
# H is a short handle ([a-z0-9]); its state lives in variables NETNS_<H>_*.
# Needs root and iproute2.

NETNS_LOCK=/tmp/fila-netns.lock

netns_unavailable() {
  if [ "$(id -u)" -ne 0 ]; then echo "network namespaces need root (CAP_NET_ADMIN)"; return 0; fi
  command -v ip >/dev/null 2>&1 || { echo "ip not found (iproute2: scripts/install-deps)"; return 0; }
  local probe out
  probe=fila-$$-probe$RANDOM
  if ! out=$(ip netns add "$probe" 2>&1); then echo "ip netns add is not permitted here: $out"; return 0; fi
  ip netns del "$probe" 2>/dev/null || true
  return 1
}

netns_get() { local v="NETNS_${1}_$2"; printf '%s' "${!v:-}"; }
netns_set() { printf -v "NETNS_${1}_$2" '%s' "$3"; }

# Namespaces fila-<pid>-* of processes that are gone (a run killed before its cleanup).
netns_sweep() {
  local name pid
  while read -r name _; do
    case $name in fila-[0-9]*-*) ;; *) continue ;; esac
    pid=${name#fila-}
    pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null || ip netns del "$name" 2>/dev/null || true
  done < <(ip netns list 2>/dev/null)
}

netns_create() {
  local h=$1 forwarder=$2 id host inner prefix base lock_fd used _
  shift 2
  netns_sweep
  id=$(printf '%06x' $(((RANDOM << 9 ^ RANDOM) & 0xffffff)))
  netns_set "$h" NAME "fila-$$-$id"
  netns_set "$h" HOSTIF "fh$id"
  netns_set "$h" INNERIF "fn$id"
  local ns=fila-$$-$id
  exec {lock_fd}>"$NETNS_LOCK"
  flock "$lock_fd"
  used=$(ip -4 -o addr show)
  for _ in $(seq 1 1000); do
    prefix=10.213.$((RANDOM % 256))
    base=$(((RANDOM % 64) * 4))
    host=$prefix.$((base + 1))
    case $used in *" $host/"*) host= ;; *) break ;; esac
  done
  [ -n "$host" ] || { exec {lock_fd}>&-; fila_warn "no free /30 in 10.213.0.0/16"; return 1; }
  inner=$prefix.$((base + 2))
  netns_set "$h" HOST "$host"
  netns_set "$h" INNER "$inner"
  if ! { ip netns add "$ns" &&
    ip link add "fh$id" type veth peer name "fn$id" netns "$ns" &&
    ip addr add "$host/30" dev "fh$id"; }; then
    exec {lock_fd}>&-
    netns_destroy "$h"
    return 1
  fi
  exec {lock_fd}>&-
  if ! { ip link set "fh$id" up &&
    ip -n "$ns" addr add "$inner/30" dev "fn$id" &&
    ip -n "$ns" link set "fn$id" up &&
    ip -n "$ns" link set lo up; }; then
    netns_destroy "$h"
    return 1
  fi
  local log
  log=$(mktemp "${TMPDIR:-/tmp}/fila-forward.XXXXXX")
  "$forwarder" "$host" 127.0.0.1 "$@" >"$log" 2>&1 </dev/null &
  netns_set "$h" FWPID $!
  netns_set "$h" FWLOG "$log"
  for _ in $(seq 1 50); do
    grep -q '^ready' "$log" && return 0
    kill -0 "$(netns_get "$h" FWPID)" 2>/dev/null || break
    sleep 0.1
  done
  fila_warn "fila-tcp-forward did not start: $(cat "$log")"
  netns_destroy "$h"
  return 1
}

netns_exec() {
  local ns
  ns=$(netns_get "$1" NAME)
  shift
  exec ip netns exec "$ns" "$@"
}

netns_rewrite() { printf '%s\n' "$2" | sed -E "s/(127\.0\.0\.1|localhost):/$(netns_get "$1" HOST):/g"; }
netns_inner() { netns_get "$1" INNER; }
netns_cut() { ip -n "$(netns_get "$1" NAME)" link set "$(netns_get "$1" INNERIF)" down; }
netns_heal() { ip -n "$(netns_get "$1" NAME)" link set "$(netns_get "$1" INNERIF)" up; }

netns_delay() {
  local h=$1 ms=$2 ns dev out
  ns=$(netns_get "$h" NAME)
  for dev in host inner; do
    local args=()
    if [ "$dev" = inner ]; then args=(-n "$ns"); dev=$(netns_get "$h" INNERIF); else dev=$(netns_get "$h" HOSTIF); fi
    if [ "$ms" -le 0 ]; then
      tc "${args[@]}" qdisc del dev "$dev" root 2>/dev/null || true
    elif ! out=$(tc "${args[@]}" qdisc replace dev "$dev" root netem delay "${ms}ms" 2>&1); then
      case $out in *"kind is unknown"*) return 1 ;; esac
      fila_warn "tc netem on $dev failed: $out"
      return 1
    fi
  done
}

netns_destroy() {
  local h=$1 pid
  pid=$(netns_get "$h" FWPID)
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -f "$(netns_get "$h" FWLOG)"
  ip link del "$(netns_get "$h" HOSTIF)" 2>/dev/null || true
  ip netns del "$(netns_get "$h" NAME)" 2>/dev/null || true
  netns_set "$h" FWPID ''
}
