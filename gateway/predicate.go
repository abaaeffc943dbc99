package gateway

import "context"

// Predicate decides whether a Route serves a Request. Match must not modify
// req. An error ends the route lookup and is returned to the caller as is, so
// it should be a gRPC status error.
type Predicate interface {
	Match(ctx context.Context, req *Request) (bool, error)
}

// PredicateFunc adapts a function to a Predicate.
type PredicateFunc func(ctx context.Context, req *Request) (bool, error)

// Match calls f(ctx, req).
func (f PredicateFunc) Match(ctx context.Context, req *Request) (bool, error) { return f(ctx, req) }

// Weighted is implemented by predicates that put their Route in a weighted
// group. The Table never calls Match on them: per lookup it draws one member
// of each group, at random in proportion to the weights, the first time the
// lookup reaches a member; a member's weight predicate matches only if it was
// drawn. A Route has at most one Weighted predicate. A weight of 0 is never
// drawn.
type Weighted interface {
	Predicate
	WeightGroup() (group string, weight int)
}

// Capturer is implemented by predicates that name parts of what they match,
// such as the {name} segments of a Path pattern. Route.Serve calls Capture on
// the matched Route's capturers and hands the merged result to the Route's
// filters as Request.Vars. Capture returns nil when it captures nothing.
type Capturer interface {
	Predicate
	Capture(req *Request) map[string]string
}
