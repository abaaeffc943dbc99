package gateway

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrNoRoute is matched (errors.Is) by the error Lookup returns when no route
// matches; that error's gRPC code is Unimplemented.
var ErrNoRoute = status.Error(codes.Unimplemented, "gateway: no route")

// maxPathInError bounds how much of the request path a no-route error repeats.
const maxPathInError = 256

// TableOption configures NewTable.
type TableOption interface {
	applyTable(*tableOptions)
}

type tableOptions struct {
	intN func(n int) int
}

type tableOptionFunc func(*tableOptions)

func (f tableOptionFunc) applyTable(o *tableOptions) { f(o) }

// WithRandom sets the random source of weighted groups: intN(n) returns an int
// in [0, n). It is called once per weighted group a lookup reaches, possibly
// from many goroutines at once. The default is math/rand/v2's IntN.
func WithRandom(intN func(n int) int) TableOption {
	return tableOptionFunc(func(o *tableOptions) {
		if intN != nil {
			o.intN = intN
		}
	})
}

// Table is a compiled, immutable route table. The zero Table, and a nil
// *Table, have no routes.
type Table struct {
	routes []*Route
	groups []weightGroup
	intN   func(n int) int
}

// weightGroup is the members of one weighted group, in route order.
type weightGroup struct {
	name    string
	members []int // route indexes
	cumul   []int // cumulative weights, parallel to members
	total   int
}

// NewTable compiles routes into a Table. It copies each Route, wraps its
// Handler in its Filters and groups its weighted predicates. Each problem
// found is a *RouteError; all of them are returned, joined.
func NewTable(routes []Route, opts ...TableOption) (*Table, error) {
	o := tableOptions{intN: rand.IntN}
	for _, opt := range opts {
		opt.applyTable(&o)
	}
	t := &Table{routes: make([]*Route, 0, len(routes)), intN: o.intN}
	var errs []error
	fail := func(i int, id string, format string, args ...any) {
		errs = append(errs, &RouteError{Index: i, ID: id, Err: fmt.Errorf(format, args...)})
	}
	seen := make(map[string]int, len(routes))
	groupIndex := map[string]int{}
	for i := range routes {
		r := routes[i] // a copy
		r.Predicates = slices.Clone(r.Predicates)
		r.Filters = slices.Clone(r.Filters)
		r.weighted, r.group, r.capturers = -1, -1, nil
		switch first, dup := seen[r.ID]; {
		case r.ID == "":
			fail(i, r.ID, "empty route id")
		case dup:
			fail(i, r.ID, "duplicate route id (first at index %d)", first)
		default:
			seen[r.ID] = i
		}
		if r.Handler == nil {
			fail(i, r.ID, "no handler")
		}
		for j, p := range r.Predicates {
			if p == nil {
				fail(i, r.ID, "predicate %d is nil", j)
				continue
			}
			if c, ok := p.(Capturer); ok {
				r.capturers = append(r.capturers, c)
			}
			w, ok := p.(Weighted)
			if !ok {
				continue
			}
			if r.weighted >= 0 {
				fail(i, r.ID, "more than one Weight predicate")
				continue
			}
			name, weight := w.WeightGroup()
			if weight < 0 {
				fail(i, r.ID, "negative weight %d", weight)
				continue
			}
			g, ok := groupIndex[name]
			if !ok {
				g = len(t.groups)
				groupIndex[name] = g
				t.groups = append(t.groups, weightGroup{name: name})
			}
			grp := &t.groups[g]
			grp.total += weight
			grp.members = append(grp.members, i)
			grp.cumul = append(grp.cumul, grp.total)
			r.weighted, r.group = j, g
		}
		nilFilter := false
		for j, f := range r.Filters {
			if f == nil {
				fail(i, r.ID, "filter %d is nil", j)
				nilFilter = true
			}
		}
		if r.Handler != nil && !nilFilter {
			r.handler = Chain(r.Filters...)(r.Handler)
		}
		t.routes = append(t.routes, &r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// Routes returns the table's routes in order. The slice is the caller's; the
// Routes belong to the Table.
func (t *Table) Routes() []*Route {
	if t == nil {
		return nil
	}
	return slices.Clone(t.routes)
}

// Lookup returns the first route whose predicates all match req. When none
// does it returns an error matching ErrNoRoute, with code Unimplemented. A
// predicate's error ends the lookup and is returned as is.
func (t *Table) Lookup(ctx context.Context, req *Request) (*Route, error) {
	if t != nil {
		// drawn[g] is 0 before group g is drawn, then 1+the drawn route's
		// index, or -1 when the group has no weight at all.
		var buf [8]int
		drawn := buf[:0]
		if len(t.groups) <= len(buf) {
			drawn = buf[:len(t.groups)]
		} else {
			drawn = make([]int, len(t.groups))
		}
		for i, r := range t.routes {
			ok, err := t.match(ctx, i, r, req, drawn)
			if err != nil {
				return nil, err
			}
			if ok {
				return r, nil
			}
		}
	}
	return nil, noRoute(req)
}

func (t *Table) match(ctx context.Context, i int, r *Route, req *Request, drawn []int) (bool, error) {
	for j, p := range r.Predicates {
		if j == r.weighted {
			if drawn[r.group] == 0 {
				drawn[r.group] = t.draw(r.group)
			}
			if drawn[r.group] != i+1 {
				return false, nil
			}
			continue
		}
		ok, err := p.Match(ctx, req)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// draw picks a member of group g in proportion to the weights: 1+its route
// index, or -1 when the group's total weight is 0.
func (t *Table) draw(g int) int {
	grp := &t.groups[g]
	if grp.total <= 0 {
		return -1
	}
	x := t.intN(grp.total)
	k, _ := slices.BinarySearch(grp.cumul, x+1)
	return grp.members[min(k, len(grp.members)-1)] + 1
}

// Serve looks up req's route and serves the call on it: a Table is a Handler.
func (t *Table) Serve(req *Request, s Stream) error {
	r, err := t.Lookup(s.Context(), req)
	if err != nil {
		return err
	}
	req.RouteID = r.ID
	return r.Serve(req, s)
}

// noRouteError is Lookup's error: Unimplemented, matching ErrNoRoute.
type noRouteError struct {
	protocol, method, path string
}

func noRoute(req *Request) error {
	p := req.Path
	if len(p) > maxPathInError {
		p = p[:maxPathInError] + "..."
	}
	return &noRouteError{protocol: req.Protocol, method: req.Method, path: p}
}

func (e *noRouteError) Error() string {
	return fmt.Sprintf("gateway: no route for %s %s %q", e.protocol, e.method, e.path)
}

// GRPCStatus makes the error a gRPC status error with code Unimplemented.
func (e *noRouteError) GRPCStatus() *status.Status {
	return status.New(codes.Unimplemented, e.Error())
}

// Is reports whether target is ErrNoRoute.
func (e *noRouteError) Is(target error) bool { return target == ErrNoRoute }
