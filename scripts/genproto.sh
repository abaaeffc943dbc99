#!/usr/bin/env bash
# genproto.sh regenerates the Go code for every .proto file under proto/.
#
# Usage (from anywhere inside the repository):
#
#	scripts/genproto.sh
#	go generate ./proto/...
#
# It installs pinned versions of protoc-gen-go and protoc-gen-go-grpc into a
# temporary GOBIN (so whatever happens to be on PATH does not leak into the
# generated headers), then runs protoc from the repository root with
# paths=source_relative, so foo.proto's output lands next to it as foo.pb.go
# and foo_grpc.pb.go. Generated files are committed. proto/third_party holds
# the googleapis files (google/api/annotations.proto) that protoc needs to
# compile google.api.http options; no Go is generated for them (Go code uses
# google.golang.org/genproto/googleapis/api/annotations).
#
# Requires: go, and protoc (apt-get install -y protobuf-compiler).
set -euo pipefail

# Keep these in step with google.golang.org/protobuf and google.golang.org/grpc
# in go.mod.
PROTOC_GEN_GO_VERSION="v1.36.12"
PROTOC_GEN_GO_GRPC_VERSION="v1.6.2"

die() {
	echo "genproto: $*" >&2
	exit 1
}

command -v protoc >/dev/null 2>&1 ||
	die "protoc not found on PATH; install it with: apt-get install -y protobuf-compiler"
command -v go >/dev/null 2>&1 ||
	die "go not found on PATH; install Go from https://go.dev/dl/"

# Work from the repository root whatever the caller's directory (go generate
# runs in the package directory).
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

gobin="$(mktemp -d "${TMPDIR:-/tmp}/genproto.XXXXXX")"
trap 'rm -rf "$gobin"' EXIT

echo "genproto: installing protoc-gen-go ${PROTOC_GEN_GO_VERSION}, protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC_VERSION}" >&2
GOBIN="$gobin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@${PROTOC_GEN_GO_VERSION}"
GOBIN="$gobin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@${PROTOC_GEN_GO_GRPC_VERSION}"
export PATH="$gobin:$PATH"

protos=()
while IFS= read -r -d '' f; do
	protos+=("$f")
done < <(find proto -path proto/third_party -prune -o -type f -name '*.proto' -print0 | sort -z)
[ "${#protos[@]}" -gt 0 ] || die "no .proto files found under $repo_root/proto"

echo "genproto: $(protoc --version): ${protos[*]}" >&2
protoc \
	--proto_path=. \
	--proto_path=proto/third_party \
	--go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	"${protos[@]}"
