package filter_test

import (
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/filter"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestSetPath(t *testing.T) {
	tests := []struct {
		name, args string
		vars       map[string]string
		want       string
	}{
		{"literal", "/user.v1.UserService/GetUser", nil, "/user.v1.UserService/GetUser"},
		{"variables", "/pkg.{service}/{method}", map[string]string{"service": "Users", "method": "Get"}, "/pkg.Users/Get"},
		{"variable twice", "/{a}/{a}", map[string]string{"a": "x"}, "/x/x"},
		{"commas kept", "/a,b", nil, "/a,b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := filter.SetPathFromArgs(gateway.ShorthandArgs(tt.args))
			if err != nil {
				t.Fatal(err)
			}
			req := &gateway.Request{Path: "/original", Vars: tt.vars}
			got, err := serve(t, mw, req)
			if err != nil || got.Path != tt.want {
				t.Fatalf("SetPath=%s = %q, %v; want %q", tt.args, got.Path, err, tt.want)
			}
			if req.Path != "/original" {
				t.Fatalf("the caller's request changed: %q", req.Path)
			}
		})
	}
}

func TestSetPathMissingVar(t *testing.T) {
	mw, err := filter.SetPath("/{missing}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serve(t, mw, &gateway.Request{Path: "/x"}); status.Code(err) != codes.Internal {
		t.Fatalf("error = %v, want codes.Internal", err)
	}
}

func TestSetPathErrors(t *testing.T) {
	for _, tt := range []struct{ args, wantErr string }{
		{"", `missing argument "template"`},
		{"x", "must start with '/'"},
		{"/{a", "'{' without '}'"},
		{"/a}", "'}' without '{'"},
		{"/{}", `bad variable name ""`},
		{"/{a-b}", `bad variable name "a-b"`},
	} {
		if _, err := filter.SetPathFromArgs(gateway.ShorthandArgs(tt.args)); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("SetPath=%s error = %v, want %q", tt.args, err, tt.wantErr)
		}
	}
}
