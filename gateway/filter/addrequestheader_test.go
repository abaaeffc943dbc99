package filter_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/filter"
	"google.golang.org/grpc/metadata"
)

func TestAddRequestHeader(t *testing.T) {
	tests := []struct {
		name   string
		args   gateway.Args
		header metadata.MD
		want   metadata.MD
	}{
		{"new", gateway.ShorthandArgs("x-gateway, mcpbridge"), metadata.Pairs("a", "1"), metadata.Pairs("a", "1", "x-gateway", "mcpbridge")},
		{"appends", gateway.ShorthandArgs("x-v, 2"), metadata.Pairs("x-v", "1"), metadata.Pairs("x-v", "1", "x-v", "2")},
		{"nil header", gateway.ShorthandArgs("x-v, 1"), nil, metadata.Pairs("x-v", "1")},
		{"name lower-cased", gateway.ShorthandArgs("X-Gateway, 1"), nil, metadata.Pairs("x-gateway", "1")},
		{"value with commas", gateway.ShorthandArgs("accept, a, b"), nil, metadata.Pairs("accept", "a, b")},
		{"named", gateway.NamedArgs(map[string][]string{"name": {"x-v"}, "value": {"1"}}), nil, metadata.Pairs("x-v", "1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := filter.AddRequestHeaderFromArgs(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			before := tt.header.Copy()
			if tt.header == nil {
				before = nil
			}
			req := &gateway.Request{Header: tt.header}
			got, err := serve(t, mw, req)
			if err != nil || !reflect.DeepEqual(got.Header, tt.want) {
				t.Fatalf("header = %v, %v; want %v", got.Header, err, tt.want)
			}
			if !reflect.DeepEqual(req.Header, before) {
				t.Fatalf("the caller's header changed: %v, was %v", req.Header, before)
			}
		})
	}
}

func TestAddRequestHeaderErrors(t *testing.T) {
	for _, tt := range []struct{ args, wantErr string }{
		{"", `missing argument "name"`},
		{"x-v", `missing argument "value"`},
		{"x v, 1", `bad header name "x v"`},
		{":authority, x", `bad header name ":authority"`},
		{"x-v, caf\u00e9", "only printable ASCII"},
	} {
		if _, err := filter.AddRequestHeaderFromArgs(gateway.ShorthandArgs(tt.args)); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("AddRequestHeader=%s error = %v, want %q", tt.args, err, tt.wantErr)
		}
	}
	if _, err := filter.AddRequestHeader("x-trace-bin", "\x00\x01"); err != nil {
		t.Errorf("binary header: %v", err)
	}
}
