#!/usr/bin/env bash
# examples/cpp-worker as a user builds it: installs fila from the build into
# a temporary prefix (cmake --install), checks that the installed headers
# and package config name no third-party library, configures and builds the
# example out of the source tree against that prefix alone, then runs it
# against the real stack (cpp_worker_test.cpp).
#   tests/examples/cpp_worker.sh REPO BUILD_DIR TEST_BINARY
# Uses FILA_DATABASE_URL/FILA_AMQP_URL, or starts scripts/stack when unset.
set -euo pipefail
repo=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
test_binary=$3

say() { echo "cpp_worker.sh: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }

[ -x "$test_binary" ] || die "$test_binary not built"
[ -e "$build/sdk/libfila_worker.so" ] || die "libfila_worker.so not built (cmake --build $build --target fila_worker)"

work=$(mktemp -d "${TMPDIR:-/tmp}/fila-cpp-example.XXXXXX")
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null

# The SDK's promise: nothing third-party in what a user compiles against.
if grep -rEn '#include <(spdlog|CLI|pqxx|amqp|rabbitmq-c|curl|prometheus|cpprest|google/protobuf|nlohmann)' \
    "$prefix/include"; then
  die "an installed header includes a third-party library"
fi
if grep -Ein 'spdlog|CLI11|pqxx|rabbitmq|CURL|prometheus|cpprest|protobuf' "$prefix"/lib*/cmake/fila/*.cmake; then
  die "the installed package config names a third-party library"
fi

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$repo/examples/cpp-worker" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" "${launcher[@]}" >/dev/null
cmake --build "$work/build" >/dev/null
[ -x "$work/build/acme-worker" ] || die "the example did not build"

if [ -z "${FILA_DATABASE_URL:-}" ] || [ -z "${FILA_AMQP_URL:-}" ]; then
  "$repo/scripts/stack" up >&2
  eval "$("$repo/scripts/stack" env)"
fi
FILA_EXAMPLE_CPP_WORKER=$work/build/acme-worker "$test_binary"
