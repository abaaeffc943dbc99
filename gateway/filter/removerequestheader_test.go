package filter_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/filter"
	"google.golang.org/grpc/metadata"
)

func TestRemoveRequestHeader(t *testing.T) {
	tests := []struct {
		name   string
		args   string
		header metadata.MD
		want   metadata.MD
	}{
		{"removes every value", "x-token", metadata.Pairs("x-token", "a", "x-token", "b", "k", "v"), metadata.Pairs("k", "v")},
		{"case-insensitive", "X-Token", metadata.Pairs("x-token", "a"), metadata.MD{}},
		{"absent", "x-token", metadata.Pairs("k", "v"), metadata.Pairs("k", "v")},
		{"nil header", "x-token", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := filter.RemoveRequestHeaderFromArgs(gateway.ShorthandArgs(tt.args))
			if err != nil {
				t.Fatal(err)
			}
			var before metadata.MD
			if tt.header != nil {
				before = tt.header.Copy()
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
	if _, err := filter.RemoveRequestHeaderFromArgs(gateway.ShorthandArgs("a, b")); err == nil || !strings.Contains(err.Error(), "too many arguments") {
		t.Fatalf("RemoveRequestHeader=a, b error = %v", err)
	}
}
