# shellcheck shell=bash
# Shared helpers for the scripts in this folder. Sourced, never run.
# The caller has already done `cd "$(dirname "$0")/.."` (repo root) and
# `set -euo pipefail`, and sets FILA_PROG to its own name for messages.

FILA_PROG=${FILA_PROG:-$(basename "$0")}

fila_say() { printf '%s: %s\n' "$FILA_PROG" "$*"; }
fila_warn() { printf '%s: %s\n' "$FILA_PROG" "$*" >&2; }
fila_die() {
  printf '%s: error: %s\n' "$FILA_PROG" "$*" >&2
  exit 1
}

# Milliseconds since the epoch (bash 5: EPOCHREALTIME, no fork).
fila_now_ms() {
  local t=${EPOCHREALTIME/[.,]/}
  printf '%s\n' "${t:0:${#t}-3}"
}

# "1.23 s" between a fila_now_ms value and now.
fila_elapsed() {
  local ms=$(($(fila_now_ms) - $1))
  printf '%d.%02d s\n' $((ms / 1000)) $((ms % 1000 / 10))
}

# Configure (once) and build the project into build/.
fila_build() {
  command -v cmake >/dev/null 2>&1 || fila_die "cmake not found: run scripts/install-deps"
  command -v ninja >/dev/null 2>&1 || fila_die "ninja not found: run scripts/install-deps"
  if [ ! -f build/build.ninja ]; then
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build build -j2
}
