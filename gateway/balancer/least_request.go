package balancer

import "context"

// leastRequest is the power of two choices on calls in flight.
type leastRequest[E Endpoint] struct {
	intN func(int) int
}

// NewLeastRequest returns a power-of-two-choices picker: it draws two
// distinct endpoints at random and picks the one with fewer calls in flight
// (the first drawn on a tie). With one endpoint it picks it. Lock-free; the
// random source is WithRandom's.
func NewLeastRequest[E Endpoint](opts ...Option) Picker[E] {
	return &leastRequest[E]{intN: buildOptions(opts).intN}
}

func (p *leastRequest[E]) Pick(_ context.Context, eps []E) (E, error) {
	n := len(eps)
	switch n {
	case 0:
		var zero E
		return zero, ErrNoEndpoint
	case 1:
		return eps[0], nil
	}
	i := p.intN(n)
	j := p.intN(n - 1)
	if uint(i) >= uint(n) || uint(j) >= uint(n-1) {
		i, j = 0, 0 // a source out of contract: stay in range
	}
	if j >= i {
		j++
	}
	a, b := eps[i], eps[j]
	if b.InFlight() < a.InFlight() {
		return b, nil
	}
	return a, nil
}
