package gateway

import (
	"context"
	"sync/atomic"
)

// Router holds the current route Table and serves calls on it. Swap replaces
// the Table atomically: each call loads the Table once and finishes on it, so
// calls in flight during a reload keep the Table they started with. The zero
// Router has no Table and answers every call with a no-route error. A Router
// is safe for concurrent use.
type Router struct {
	table atomic.Pointer[Table]
}

// NewRouter returns a Router serving t.
func NewRouter(t *Table) *Router {
	r := &Router{}
	r.table.Store(t)
	return r
}

// Load returns the current Table; nil before the first Swap of a zero Router.
func (r *Router) Load() *Table { return r.table.Load() }

// Swap makes t the current Table and returns the previous one.
func (r *Router) Swap(t *Table) *Table { return r.table.Swap(t) }

// Lookup looks req up in the current Table.
func (r *Router) Lookup(ctx context.Context, req *Request) (*Route, error) {
	return r.table.Load().Lookup(ctx, req)
}

// Serve serves the call on the current Table: a Router is a Handler.
func (r *Router) Serve(req *Request, s Stream) error {
	return r.table.Load().Serve(req, s)
}
