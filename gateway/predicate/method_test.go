package predicate_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/predicate"
)

func TestMethod(t *testing.T) {
	tests := []struct {
		name   string
		args   gateway.Args
		method string
		want   bool
	}{
		{"one", gateway.ShorthandArgs("GET"), "GET", true},
		{"list", gateway.ShorthandArgs("GET, HEAD"), "HEAD", true},
		{"lower-case config", gateway.ShorthandArgs("post"), "POST", true},
		{"other", gateway.ShorthandArgs("GET, HEAD"), "POST", false},
		{"gRPC calls are POST", gateway.ShorthandArgs("POST"), "POST", true},
		{"named list", gateway.NamedArgs(map[string][]string{"methods": {"PUT", "PATCH"}}), "PATCH", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := predicate.MethodFromArgs(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Match(context.Background(), &gateway.Request{Method: tt.method})
			if err != nil || got != tt.want {
				t.Fatalf("Match(%s) = %v, %v; want %v", tt.method, got, err, tt.want)
			}
		})
	}
}

func TestMethodErrors(t *testing.T) {
	for _, tt := range []struct {
		args    gateway.Args
		wantErr string
	}{
		{gateway.ShorthandArgs(""), `missing argument "methods"`},
		{gateway.ShorthandArgs("GET, P0ST"), `bad method "P0ST"`},
	} {
		if _, err := predicate.MethodFromArgs(tt.args); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("MethodFromArgs(%v) error = %v, want %q", tt.args, err, tt.wantErr)
		}
	}
}
