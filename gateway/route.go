package gateway

import (
	"fmt"
	"maps"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Route is one entry of a route Table: when all its Predicates match, the
// call is served by Handler wrapped in Filters.
//
// A Route given to NewTable is copied; the *Route a Table hands out belongs to
// the Table and must not be modified.
type Route struct {
	// ID names the route, unique within a Table.
	ID string
	// Upstream names the upstream the route's Handler serves; informational.
	Upstream string
	// Predicates must all match, in order, for the route to serve a call.
	Predicates []Predicate
	// Filters wrap Handler, the first outermost: it sees the request first.
	Filters []Middleware
	// Handler serves the call once the filters have run: the upstream's
	// handler.
	Handler Handler

	handler   Handler    // Filters around Handler; set by NewTable
	weighted  int        // index of the Weighted predicate, or -1
	group     int        // index of the weighted group in the Table
	capturers []Capturer // predicates that capture Vars
}

// Serve serves req on the route: it sets req's Vars from the route's
// capturing predicates (on a copy of req) and runs the filters around the
// route's Handler. A Route not compiled by NewTable builds its chain per call.
func (r *Route) Serve(req *Request, s Stream) error {
	h := r.handler
	if h == nil {
		if r.Handler == nil {
			return status.Error(codes.Internal, "gateway: route has no handler")
		}
		h = Chain(r.Filters...)(r.Handler)
	}
	caps := r.capturers
	if r.handler == nil {
		caps = capturersOf(r.Predicates)
	}
	if len(caps) > 0 {
		var vars map[string]string
		for _, c := range caps {
			got := c.Capture(req)
			if len(got) == 0 {
				continue
			}
			if vars == nil {
				vars = maps.Clone(req.Vars)
				if vars == nil {
					vars = make(map[string]string, len(got))
				}
			}
			maps.Copy(vars, got)
		}
		if vars != nil {
			c := *req
			c.Vars = vars
			req = &c
		}
	}
	return h.Serve(req, s)
}

func capturersOf(ps []Predicate) []Capturer {
	var caps []Capturer
	for _, p := range ps {
		if c, ok := p.(Capturer); ok {
			caps = append(caps, c)
		}
	}
	return caps
}

// RouteError is an error NewTable found in one route.
type RouteError struct {
	Index int    // the route's index in the slice given to NewTable
	ID    string // the route's ID
	Err   error
}

func (e *RouteError) Error() string {
	return fmt.Sprintf("gateway: route %d (%q): %v", e.Index, e.ID, e.Err)
}

func (e *RouteError) Unwrap() error { return e.Err }
