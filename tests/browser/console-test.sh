#!/usr/bin/env bash
# The web console (docs/console.md) end to end in headless Chromium, against
# a real stack: a fresh database, fila-scheduler serving /ui, one fila-worker,
# a producer and an operator token; console.test.mjs drives Debian's
# chromium with playwright-core (npm, installed into the build tree).
#   tests/browser/console-test.sh REPO BIN_DIR OUT_DIR core|api
# core: sign-in, roles, live progress, queue pause, refusals, security
#   headers, accessibility, phone layout, screenshots of every view.
# api: the routes of the console API (payload filter, bulk retry of 10,000
#   dead tasks, audit log); skipped (77) while the server lacks them.
# Exits 77 (ctest: skipped) with the reason when node, chromium or the npm
# package is missing. Screenshots: OUT_DIR/screenshots.
set -euo pipefail
repo=$(cd "$1" && pwd)
bin=$2
out=$3
suite=$4
example_name="console browser test ($suite)"
skip() { echo "SKIPPED: $*" >&2; exit 77; }

command -v node >/dev/null || skip "node is missing (Node.js 20 or later)"
command -v npm >/dev/null || skip "npm is missing (it comes with Node.js)"
chromium=${FILA_CHROMIUM:-$(command -v chromium || true)}
[ -n "$chromium" ] && [ -x "$chromium" ] || skip "chromium is missing (scripts/install-deps installs it)"

# playwright-core from the lock file, into the build tree (npm ci only when
# the lock file changed).
mkdir -p "$out/node" "$out/screenshots"
rm -f "$out/screenshots/FAILED-$suite-"*.png
if ! cmp -s "$repo/tests/browser/package-lock.json" "$out/node/package-lock.json" ||
   [ ! -d "$out/node/node_modules/playwright-core" ]; then
  cp "$repo/tests/browser/package.json" "$repo/tests/browser/package-lock.json" "$out/node/"
  (cd "$out/node" && npm ci --no-audit --no-fund --loglevel=error >&2) ||
    { rm -f "$out/node/package-lock.json"; skip "npm ci of playwright-core failed (no registry?)"; }
fi

# shellcheck source=tests/examples/example_lib.sh
. "$repo/tests/examples/example_lib.sh"
export FILA_ENABLE_TEST_TYPES=1
example_setup
suffix=${db#fila_example_}
q_live=console-live-$suffix
q_pause=console-pause-$suffix
q_bulk=console-bulk-$suffix
q_idle=console-idle-$suffix  # no worker consumes it
for q in "$q_live" "$q_pause" "$q_bulk" "$q_idle"; do
  "$bin/fila" tenants bind example queue "$q" >/dev/null || die "fila tenants bind $q failed"
done
operator=$("$bin/fila" tokens create --tenant ops --role operator | head -n 1)
[ -n "$operator" ] || die "no operator token"
start_scheduler
"$bin/fila-worker" --queues "$q_live,$q_pause,$q_bulk" --concurrency 16 >"$work/worker.log" 2>&1 &
pids+=($!)

# The console off: /ui answers 404, the API still works.
if [ "$suite" = core ]; then
  off_port=$(free_port)
  FILA_CONSOLE=off "$bin/fila-scheduler" --api-listen "127.0.0.1:$off_port" >"$work/scheduler-off.log" 2>&1 &
  off_pid=$!
  pids+=("$off_pid")
  for _ in $(seq 1 100); do
    curl -s -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$off_port/v1/queues" && break
    sleep 0.2
  done
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$off_port/ui/")
  [ "$code" = 404 ] || die "with FILA_CONSOLE=off, /ui/ answered $code, not 404"
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$off_port/v1/queues")
  [ "$code" = 200 ] || die "with FILA_CONSOLE=off, /v1/queues answered $code"
  kill -TERM "$off_pid"
  say "ok: --console off: /ui is 404, the API answers"
fi

rc=0
FILA_CONSOLE_API=$api FILA_PRODUCER_TOKEN=$token FILA_OPERATOR_TOKEN=$operator FILA_CHROMIUM=$chromium \
FILA_NODE_DIR=$out/node FILA_SCREENSHOTS=$out/screenshots FILA_LOG_DIR=$work \
FILA_Q_LIVE=$q_live FILA_Q_PAUSE=$q_pause FILA_Q_BULK=$q_bulk FILA_Q_IDLE=$q_idle FILA_BIN=$bin \
  node "$repo/tests/browser/console.test.mjs" "$suite" || rc=$?
# Tokens reach no log (they travel only in Authorization headers).
for log in "$work"/*.log; do
  if grep -qF -e "$token" -e "$operator" "$log"; then die "a token appears in $(basename "$log")"; fi
done
exit "$rc"
