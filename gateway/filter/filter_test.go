package filter_test

import (
	"context"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
)

// serve runs req through mw and returns the request the next handler saw.
func serve(t *testing.T, mw gateway.Middleware, req *gateway.Request) (*gateway.Request, error) {
	t.Helper()
	var got *gateway.Request
	h := mw(gateway.HandlerFunc(func(r *gateway.Request, _ gateway.Stream) error {
		got = r
		return nil
	}))
	err := h.Serve(req, nopStream{})
	return got, err
}

type nopStream struct{ gateway.Stream }

func (nopStream) Context() context.Context { return context.Background() }
