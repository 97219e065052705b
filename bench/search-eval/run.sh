#!/usr/bin/env bash
# The search evaluation (bench/search-eval/README.md): recall@5 of fila
# search's vector, text and hybrid modes on the labelled queries of
# queries.json, split dev/test.
#
#   bench/search-eval/run.sh                 the table
#   bench/search-eval/run.sh --details       and the rank of the first relevant chunk per query
#   bench/search-eval/run.sh --split dev --rrf-k 60 --depth 50   (tuning: the dev half only)
#
# Builds (FILA_BENCH_NO_BUILD=1 uses build/ as it is), starts the local stack
# unless it is up (scripts/stack; stopped at the end only if this run
# started it), creates a fresh database, migrates it, ingests the demo
# documents and runs build/bin/fila-search-eval with the arguments given;
# the database is dropped at the end. The table is the only thing on stdout.
set -euo pipefail
case ${FILA_STACK_DIR:-/} in /*) ;; *) export FILA_STACK_DIR=$PWD/$FILA_STACK_DIR ;; esac
cd "$(dirname "$0")/../.."
FILA_PROG=search-eval
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

started_stack=0
db=
admin_url=
# shellcheck disable=SC2317 # called from the EXIT trap
finish() {
  local rc=$?
  trap - EXIT
  if [ -n "$db" ]; then
    psql -X -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ "$started_stack" = 1 ]; then scripts/stack down >&2 || true; fi
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "${FILA_BENCH_NO_BUILD:-0}" != 1 ]; then
  scripts/install-deps >&2
  fila_build >&2
fi
[ -x build/bin/fila-search-eval ] || fila_die "build/bin/fila-search-eval missing: build first"

if ! scripts/stack status >/dev/null 2>&1; then started_stack=1; fi
scripts/stack up >&2
eval "$(scripts/stack env)"
admin_url=$FILA_DATABASE_URL
db=fila_search_eval_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
psql -X -q "$admin_url" -c "CREATE DATABASE $db" >/dev/null
export FILA_DATABASE_URL=${admin_url%/*}/$db
build/bin/fila migrate up >/dev/null
build/bin/fila-search-eval --database-url "$FILA_DATABASE_URL" "$@"
