package predicate_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/predicate"
	"google.golang.org/grpc/metadata"
)

func TestHeader(t *testing.T) {
	tests := []struct {
		name   string
		args   gateway.Args
		header metadata.MD
		want   bool
	}{
		{"present", gateway.ShorthandArgs("x-canary"), metadata.Pairs("x-canary", ""), true},
		{"absent", gateway.ShorthandArgs("x-canary"), metadata.Pairs("x-other", "1"), false},
		{"nil header", gateway.ShorthandArgs("x-canary"), nil, false},
		{"name case-insensitive", gateway.ShorthandArgs("X-Canary, true"), metadata.Pairs("x-canary", "true"), true},
		{"full match", gateway.ShorthandArgs("x-canary, true"), metadata.Pairs("x-canary", "true"), true},
		{"not a substring", gateway.ShorthandArgs("x-canary, true"), metadata.Pairs("x-canary", "untrue"), false},
		{"regexp", gateway.ShorthandArgs("x-canary, tr.*"), metadata.Pairs("x-canary", "truthy"), true},
		{"any value", gateway.ShorthandArgs("x-v, b"), metadata.Pairs("x-v", "a", "x-v", "b"), true},
		{"regexp with commas", gateway.ShorthandArgs("x-v, a{1,2}"), metadata.Pairs("x-v", "aa"), true},
		{"alternation anchored", gateway.ShorthandArgs("x-v, a|b"), metadata.Pairs("x-v", "ab"), false},
		{"named", gateway.NamedArgs(map[string][]string{"header": {"x-canary"}, "regexp": {"tr.*"}}), metadata.Pairs("x-canary", "true"), true},
		{"named presence", gateway.NamedArgs(map[string][]string{"header": {"x-canary"}}), metadata.Pairs("x-canary", "no"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := predicate.HeaderFromArgs(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Match(context.Background(), &gateway.Request{Header: tt.header})
			if err != nil || got != tt.want {
				t.Fatalf("Match() = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestHeaderErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    gateway.Args
		wantErr string
	}{
		{"no name", gateway.ShorthandArgs(""), `missing argument "header"`},
		{"bad name", gateway.ShorthandArgs("x canary"), `bad header name "x canary"`},
		{"bad regexp", gateway.ShorthandArgs("x, tr("), `bad regexp "tr("`},
		{"unknown named", gateway.NamedArgs(map[string][]string{"header": {"x"}, "regex": {"a"}}), `unknown argument "regex" (known: header, regexp)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := predicate.HeaderFromArgs(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("HeaderFromArgs() error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
