package config_test

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway/config"
)

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  config.Error
		want string
	}{
		{config.Error{File: "gateway.yaml", Line: 12, Col: 7, Path: "routes[0].predicates[1]", Msg: `unknown predicate "Hedaer"`},
			`gateway.yaml:12:7: routes[0].predicates[1]: unknown predicate "Hedaer"`},
		{config.Error{File: "gateway.yaml", Line: 3, Msg: "YAML syntax error"}, "gateway.yaml:3: YAML syntax error"},
		{config.Error{File: "gateway.yaml", Msg: "too big"}, "gateway.yaml: too big"},
		{config.Error{Path: "routes[1].uri", Msg: "missing uri"}, "routes[1].uri: missing uri"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	cause := fs.ErrNotExist
	errs := config.Errors{{Msg: "a"}, {Msg: "b", Err: cause}}
	if errs.Error() != "a\nb" || !errors.Is(errs, cause) {
		t.Fatalf("Errors = %q, Is(cause) = %v", errs.Error(), errors.Is(errs, cause))
	}
}
