// Package proto holds mcpbridge's protocol buffer contracts: the .proto
// files, one directory per package and version (for example user/v1 holds
// package user.v1), with their generated Go code committed alongside.
//
// After editing a .proto file, regenerate the Go code from the repository
// root with either of
//
//	scripts/genproto.sh
//	go generate ./proto/...
//
// The script needs protoc on PATH (apt-get install -y protobuf-compiler) and
// installs pinned versions of protoc-gen-go and protoc-gen-go-grpc itself.
package proto

//go:generate bash ../scripts/genproto.sh
