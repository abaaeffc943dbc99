package upstream

import (
	"reflect"
	"testing"

	"google.golang.org/grpc/metadata"
)

func TestOutgoingMD(t *testing.T) {
	tests := []struct {
		name    string
		in      metadata.MD
		toGRPC  bool
		want    metadata.MD
		sameMap bool // no copy: the library drops the rest by itself
	}{
		{
			name:   "application metadata passes as is",
			in:     metadata.Pairs("x-a", "1", "authorization", "Bearer t", "grpc-trace-bin", "\x01"),
			toGRPC: true, sameMap: true,
			want: metadata.Pairs("x-a", "1", "authorization", "Bearer t", "grpc-trace-bin", "\x01"),
		},
		{
			name:   "gRPC front door's transport keys towards gRPC: grpc-go drops them, no copy",
			in:     metadata.Pairs(":authority", "gw", "content-type", "application/grpc", "user-agent", "c/1", "te", "trailers", "x-a", "1"),
			toGRPC: true, sameMap: true,
			want: metadata.Pairs(":authority", "gw", "content-type", "application/grpc", "user-agent", "c/1", "te", "trailers", "x-a", "1"),
		},
		{
			name:   "hop-by-hop and grpc-accept-encoding towards gRPC are copied out",
			in:     metadata.Pairs(":authority", "gw", "grpc-accept-encoding", "gzip", "connection", "close", "host", "h", "x-a", "1"),
			toGRPC: true,
			want:   metadata.Pairs("x-a", "1"),
		},
		{
			name:    "towards MCP: content-type application/grpc is dropped by mcp, no copy",
			in:      metadata.Pairs(":authority", "gw", "content-type", "application/grpc", "x-a", "1"),
			sameMap: true,
			want:    metadata.Pairs(":authority", "gw", "content-type", "application/grpc", "x-a", "1"),
		},
		{
			name: "towards MCP: the client's user-agent stays, te and grpc keys go",
			in:   metadata.Pairs("user-agent", "c/1", "te", "trailers", "grpc-accept-encoding", "gzip", "content-type", "application/grpc+proto", "x-a", "1"),
			want: metadata.Pairs("user-agent", "c/1", "x-a", "1"),
		},
		{
			name:    "nil",
			sameMap: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := outgoingMD(tt.in, tt.toGRPC)
			if !reflect.DeepEqual(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			same := tt.in != nil && got != nil && reflect.ValueOf(got).UnsafePointer() == reflect.ValueOf(tt.in).UnsafePointer()
			if tt.in != nil && same != tt.sameMap {
				t.Errorf("copied = %v, want %v", !same, !tt.sameMap)
			}
		})
	}
}

func TestMCPContentType(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "",
		"application/grpc":         "",
		"application/grpc+proto":   "",
		"application/grpc;charset": "",
		"application/grpc+json":    "application/json",
		"application/json":         "application/json",
		"application/proto":        "application/proto",
		"application/grpcx":        "application/grpcx",
	} {
		if got := mcpContentType(in); got != want {
			t.Errorf("mcpContentType(%q) = %q, want %q", in, got, want)
		}
	}
}
