package predicate_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/predicate"
)

func TestWeight(t *testing.T) {
	tests := []struct {
		name    string
		args    gateway.Args
		group   string
		weight  int
		wantErr string
	}{
		{"shorthand", gateway.ShorthandArgs("canary, 10"), "canary", 10, ""},
		{"zero", gateway.ShorthandArgs("canary,0"), "canary", 0, ""},
		{"named", gateway.NamedArgs(map[string][]string{"group": {"g"}, "weight": {"90"}}), "g", 90, ""},
		{"negative", gateway.ShorthandArgs("canary, -1"), "", 0, "weight -1 out of range"},
		{"too big", gateway.ShorthandArgs("canary, 1000001"), "", 0, "out of range"},
		{"not a number", gateway.ShorthandArgs("canary, ten"), "", 0, `bad weight "ten"`},
		{"missing weight", gateway.ShorthandArgs("canary"), "", 0, `missing argument "weight"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := predicate.WeightFromArgs(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("WeightFromArgs() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w, ok := p.(gateway.Weighted)
			if !ok {
				t.Fatalf("%T is not gateway.Weighted", p)
			}
			if g, n := w.WeightGroup(); g != tt.group || n != tt.weight {
				t.Fatalf("WeightGroup() = %q, %d; want %q, %d", g, n, tt.group, tt.weight)
			}
			if ok, err := p.Match(context.Background(), &gateway.Request{}); !ok || err != nil {
				t.Fatalf("Match() outside a table = %v, %v; want true", ok, err)
			}
		})
	}
}
