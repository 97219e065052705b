#!/usr/bin/env bash
# Generates the Python protobuf modules of fila's API into $1 (default:
# <repo>/build/examples/python), importable as `fila.v1.task_pb2` etc. with
# PYTHONPATH=$1. Generated code is never committed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/build/examples/python}
mkdir -p "$out"
protoc --python_out="$out" -I "$repo/proto" "$repo"/proto/fila/v1/*.proto
echo "$out"
