package balancer

import "context"

// random picks uniformly.
type random[E Endpoint] struct {
	intN func(int) int
}

// NewRandom returns a picker that picks uniformly at random (weights are
// ignored). Lock-free; the random source is WithRandom's.
func NewRandom[E Endpoint](opts ...Option) Picker[E] {
	return &random[E]{intN: buildOptions(opts).intN}
}

func (p *random[E]) Pick(_ context.Context, eps []E) (E, error) {
	n := len(eps)
	if n == 0 {
		var zero E
		return zero, ErrNoEndpoint
	}
	i := p.intN(n)
	if uint(i) >= uint(n) {
		i = 0 // a source out of contract: stay in range
	}
	return eps[i], nil
}
