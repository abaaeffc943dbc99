package config_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/builtin"
	"github.com/mcpbridge/mcpbridge/gateway/config"
)

func TestRegistry(t *testing.T) {
	reg := config.NewRegistry()
	always := func(gateway.Args) (gateway.Predicate, error) {
		return gateway.PredicateFunc(func(context.Context, *gateway.Request) (bool, error) { return true, nil }), nil
	}
	identity := func(gateway.Args) (gateway.Middleware, error) { return gateway.Chain(), nil }
	tests := []struct {
		name    string
		add     func() error
		wantErr string
	}{
		{"predicate", func() error { return reg.AddPredicate("Always", always) }, ""},
		{"filter", func() error { return reg.AddFilter("Identity", identity) }, ""},
		{"same name, other kind", func() error { return reg.AddFilter("Always", identity) }, ""},
		{"duplicate", func() error { return reg.AddPredicate("Always", always) }, `predicate "Always" already registered`},
		{"duplicate in another case", func() error { return reg.AddPredicate("ALWAYS", always) }, `already registered (as "Always")`},
		{"bad name", func() error { return reg.AddPredicate("no-dash", always) }, `bad predicate name "no-dash"`},
		{"empty name", func() error { return reg.AddFilter("", identity) }, `bad filter name ""`},
		{"nil factory", func() error { return reg.AddFilter("Nil", nil) }, "nil factory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.add()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if name, f, ok := reg.Predicate("always"); !ok || f == nil || name != "Always" {
		t.Fatalf("Predicate(always) = %q, %v", name, ok)
	}
	if _, _, ok := reg.Filter("nil"); ok {
		t.Fatal("a refused factory was registered")
	}
	if got := reg.Filters(); !slices.Equal(got, []string{"Always", "Identity"}) {
		t.Fatalf("Filters() = %v", got)
	}
}

func TestBuiltinRegisterTwice(t *testing.T) {
	reg := builtin.NewRegistry()
	if got := reg.Predicates(); !slices.Equal(got, []string{"Dst", "Header", "Method", "Path", "Weight"}) {
		t.Fatalf("Predicates() = %v", got)
	}
	if got := reg.Filters(); !slices.Equal(got, []string{"AddRequestHeader", "PrefixPath", "RemoveRequestHeader", "SetPath", "StripPrefix"}) {
		t.Fatalf("Filters() = %v", got)
	}
	if err := builtin.Register(reg); err == nil {
		t.Fatal("registering the built-ins twice succeeded")
	}
}

// TestRegistryExtends: a later feature adds a predicate without touching
// the core, and configurations can use it.
func TestRegistryExtends(t *testing.T) {
	reg := builtin.NewRegistry()
	err := reg.AddPredicate("Protocol", func(a gateway.Args) (gateway.Predicate, error) {
		v, err := a.Bind(gateway.Param{Name: "protocols", List: true})
		if err != nil {
			return nil, err
		}
		want := v.List("protocols")
		return gateway.PredicateFunc(func(_ context.Context, r *gateway.Request) (bool, error) {
			return slices.Contains(want, r.Protocol), nil
		}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("ext.yaml", []byte(`
upstreams: {users: {endpoints: ["127.0.0.1:1"]}}
routes: [{id: mcp-only, uri: lb://users, predicates: ["Protocol=mcp"]}]
`), config.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	table, err := config.Compile(cfg, reg, stubHandlers)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := table.Lookup(context.Background(), &gateway.Request{Protocol: "mcp"}); err != nil {
		t.Fatal(err)
	}
	if _, err := table.Lookup(context.Background(), &gateway.Request{Protocol: "grpc"}); err == nil {
		t.Fatal("grpc call matched an mcp-only route")
	}
}
