package filter_test

import (
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/filter"
)

func TestStripPrefix(t *testing.T) {
	tests := []struct {
		name, args, path, want string
	}{
		{"gRPC path", "2", "/a/b/pkg.S/M", "/pkg.S/M"},
		{"one", "1", "/api/users", "/users"},
		{"zero", "0", "/api/users", "/api/users"},
		{"all segments", "2", "/api/users", "/"},
		{"more than there are", "5", "/api/users", "/"},
		{"keeps a trailing slash", "1", "/api/users/", "/users/"},
		{"root", "1", "/", "/"},
		{"no leading slash", "1", "api/users", "/users"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := filter.StripPrefixFromArgs(gateway.ShorthandArgs(tt.args))
			if err != nil {
				t.Fatal(err)
			}
			req := &gateway.Request{Path: tt.path}
			got, err := serve(t, mw, req)
			if err != nil || got.Path != tt.want {
				t.Fatalf("StripPrefix=%s on %q = %q, %v; want %q", tt.args, tt.path, got.Path, err, tt.want)
			}
			if req.Path != tt.path {
				t.Fatalf("the caller's request changed: %q", req.Path)
			}
		})
	}
}

func TestStripPrefixErrors(t *testing.T) {
	for _, tt := range []struct{ args, wantErr string }{
		{"", `missing argument "parts"`},
		{"-1", "parts -1 out of range"},
		{"x", `bad parts "x"`},
		{"1, 2", "too many arguments"},
	} {
		if _, err := filter.StripPrefixFromArgs(gateway.ShorthandArgs(tt.args)); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("StripPrefix=%s error = %v, want %q", tt.args, err, tt.wantErr)
		}
	}
}
