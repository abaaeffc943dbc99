package filter_test

import (
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/filter"
)

func TestPrefixPath(t *testing.T) {
	tests := []struct {
		name, args, path, want string
	}{
		{"plain", "/v2", "/users", "/v2/users"},
		{"trailing slash dropped", "/v2/", "/users", "/v2/users"},
		{"gRPC", "/tenant-a", "/pkg.S/M", "/tenant-a/pkg.S/M"},
		{"root path", "/v2", "/", "/v2/"},
		{"empty path", "/v2", "", "/v2"},
		{"slash prefix", "/", "/users", "/users"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := filter.PrefixPathFromArgs(gateway.ShorthandArgs(tt.args))
			if err != nil {
				t.Fatal(err)
			}
			req := &gateway.Request{Path: tt.path}
			got, err := serve(t, mw, req)
			if err != nil || got.Path != tt.want {
				t.Fatalf("PrefixPath=%s on %q = %q, %v; want %q", tt.args, tt.path, got.Path, err, tt.want)
			}
			if req.Path != tt.path {
				t.Fatalf("the caller's request changed: %q", req.Path)
			}
		})
	}
	if _, err := filter.PrefixPathFromArgs(gateway.ShorthandArgs("v2")); err == nil || !strings.Contains(err.Error(), "must start with '/'") {
		t.Fatalf("PrefixPath=v2 error = %v", err)
	}
}
