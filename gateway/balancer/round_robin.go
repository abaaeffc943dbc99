package balancer

import (
	"context"
	"sync/atomic"
)

// roundRobin picks each endpoint in turn.
type roundRobin[E Endpoint] struct {
	next atomic.Uint64
}

// NewRoundRobin returns a picker that takes the endpoints in turn: over n×k
// consecutive picks on one snapshot of n endpoints, each is picked k times.
// Lock-free (one atomic add per pick).
func NewRoundRobin[E Endpoint]() Picker[E] { return &roundRobin[E]{} }

func (p *roundRobin[E]) Pick(_ context.Context, eps []E) (E, error) {
	n := uint64(len(eps))
	if n == 0 {
		var zero E
		return zero, ErrNoEndpoint
	}
	return eps[(p.next.Add(1)-1)%n], nil
}
