package gateway_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
)

func TestBind(t *testing.T) {
	header := []gateway.Param{{Name: "header"}, {Name: "regexp", Optional: true, Verbatim: true}}
	list := []gateway.Param{{Name: "patterns", List: true}}
	pair := []gateway.Param{{Name: "group"}, {Name: "weight"}}
	tests := []struct {
		name    string
		args    gateway.Args
		params  []gateway.Param
		want    gateway.Values
		wantErr string
	}{
		{"verbatim keeps commas", gateway.ShorthandArgs("x-v, a{1,3}, b"), header,
			gateway.Values{"header": {"x-v"}, "regexp": {"a{1,3}, b"}}, ""},
		{"optional omitted", gateway.ShorthandArgs("x-canary"), header,
			gateway.Values{"header": {"x-canary"}}, ""},
		{"optional empty after comma", gateway.ShorthandArgs("x-canary, "), header,
			gateway.Values{"header": {"x-canary"}}, ""},
		{"required missing", gateway.ShorthandArgs(""), header, nil, `missing argument "header" (want header[, regexp])`},
		{"list", gateway.ShorthandArgs("/a/**, /b/*"), list,
			gateway.Values{"patterns": {"/a/**", "/b/*"}}, ""},
		{"list empty item", gateway.ShorthandArgs("/a,,/b"), list, nil, `empty item in "patterns"`},
		{"list missing", gateway.Args{}, list, nil, `missing argument "patterns" (want patterns...)`},
		{"pair", gateway.ShorthandArgs("canary,10"), pair, gateway.Values{"group": {"canary"}, "weight": {"10"}}, ""},
		{"too many", gateway.ShorthandArgs("canary, 10, 3"), pair, nil, "too many arguments: 3, want group, weight"},
		{"empty middle", gateway.ShorthandArgs(", 10"), pair, nil, `empty argument "group"`},
		{"positional list exact", gateway.PositionalArgs("x-v", "a,b"), header,
			gateway.Values{"header": {"x-v"}, "regexp": {"a,b"}}, ""},
		{"named", gateway.NamedArgs(map[string][]string{"header": {"x"}, "regexp": {"tr.*"}}), header,
			gateway.Values{"header": {"x"}, "regexp": {"tr.*"}}, ""},
		{"named list", gateway.NamedArgs(map[string][]string{"patterns": {"/a", "/b"}}), list,
			gateway.Values{"patterns": {"/a", "/b"}}, ""},
		{"named unknown", gateway.NamedArgs(map[string][]string{"hedaer": {"x"}}), header, nil,
			`unknown argument "hedaer" (known: header, regexp)`},
		{"named missing", gateway.NamedArgs(nil), header, nil, `missing argument "header"`},
		{"named one value", gateway.NamedArgs(map[string][]string{"header": {"a", "b"}}), header, nil,
			`argument "header" takes one value, got 2`},
		{"no params, no args", gateway.ShorthandArgs(""), nil, gateway.Values{}, ""},
		{"no params, args", gateway.ShorthandArgs("x"), nil, nil, "too many arguments"},
		{"bad declaration", gateway.Args{}, []gateway.Param{{Name: "a", Optional: true}, {Name: "b"}}, nil,
			"required parameter follows an optional one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.args.Bind(tt.params...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Bind() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Bind() error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Bind() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestShorthandArgs(t *testing.T) {
	a := gateway.ShorthandArgs("  x-canary ,  true ")
	if a.Raw != "x-canary ,  true" || !reflect.DeepEqual(a.Positional, []string{"x-canary", "true"}) || a.Named != nil {
		t.Fatalf("ShorthandArgs = %+v", a)
	}
	if got := gateway.ShorthandArgs(""); got.Positional != nil {
		t.Fatalf("ShorthandArgs(\"\").Positional = %q, want nil", got.Positional)
	}
}
