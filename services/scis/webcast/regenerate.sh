#!/usr/bin/env sh
# Regenerate webcast_pb2.py and webcast_pb2.pyi from webcast.proto (needs grpcio-tools, the test extra).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
python -m grpc_tools.protoc -I "$here" --python_out="$here" --pyi_out="$here" "$here/webcast.proto"
