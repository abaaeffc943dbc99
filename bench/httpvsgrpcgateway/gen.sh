#!/usr/bin/env bash
# gen.sh regenerates this benchmark's grpc-gateway reverse proxy for
# proto/user/v1/user.proto:
#
#	bench/httpvsgrpcgateway/proto/user/v1/user.pb.gw.go
#
# Usage (from anywhere inside the repository):
#
#	bench/httpvsgrpcgateway/gen.sh
#
# grpc-gateway is a benchmark peer here, not a dependency of mcpbridge: its
# generated code lives only in this nested module (its own go.mod), never in
# the main module. The proxy is generated with standalone=true, so it imports
# the message types and the gRPC client from the main module's package
# github.com/mcpbridge/mcpbridge/proto/user/v1 (as extUserv1) instead of
# adding to it; paths=source_relative mirrors the .proto's path under this
# directory.
#
# Like scripts/genproto.sh it installs a pinned protoc-gen-grpc-gateway into
# a temporary GOBIN, so whatever is on PATH does not leak into the output.
#
# Requires: go, and protoc (apt-get install -y protobuf-compiler).
set -euo pipefail

# Keep this in step with github.com/grpc-ecosystem/grpc-gateway/v2 in
# bench/httpvsgrpcgateway/go.mod.
PROTOC_GEN_GRPC_GATEWAY_VERSION="v2.34.0"

die() {
	echo "gen.sh: $*" >&2
	exit 1
}

command -v protoc >/dev/null 2>&1 ||
	die "protoc not found on PATH; install it with: apt-get install -y protobuf-compiler"
command -v go >/dev/null 2>&1 ||
	die "go not found on PATH; install Go from https://go.dev/dl/"

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$bench_dir/../.." && pwd)"
cd "$repo_root"

gobin="$(mktemp -d "${TMPDIR:-/tmp}/gengw.XXXXXX")"
trap 'rm -rf "$gobin"' EXIT

echo "gen.sh: installing protoc-gen-grpc-gateway ${PROTOC_GEN_GRPC_GATEWAY_VERSION}" >&2
GOBIN="$gobin" go install "github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@${PROTOC_GEN_GRPC_GATEWAY_VERSION}"
export PATH="$gobin:$PATH"

echo "gen.sh: $(protoc --version): proto/user/v1/user.proto" >&2
protoc \
	--proto_path=. \
	--proto_path=proto/third_party \
	--grpc-gateway_out=bench/httpvsgrpcgateway \
	--grpc-gateway_opt=paths=source_relative,standalone=true \
	proto/user/v1/user.proto
