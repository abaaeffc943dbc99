package balancer

import (
	"context"
	"sync"
)

// weightedRoundRobin is nginx's smooth weighted round robin: every pick adds
// each endpoint's weight to its current weight, picks the largest (the
// first on ties) and takes the total weight off the pick.
type weightedRoundRobin[E Endpoint] struct {
	mu   sync.Mutex
	cur  []int64 // current weights, parallel to the snapshot
	last *E      // the snapshot cur belongs to (its first element)
	n    int
}

// NewWeightedRoundRobin returns a smooth weighted round-robin picker: over
// each run of sum(weights) consecutive picks on one snapshot, every endpoint
// is picked exactly its weight times, spread out (weights 3 and 1 give
// a a b a ...), and the sequence is deterministic. A pick is O(n) under a
// short mutex. State is kept per snapshot: a different slice restarts the
// sequence; it reuses its buffer, so picks allocate only when a snapshot
// grows past the largest seen.
func NewWeightedRoundRobin[E Endpoint]() Picker[E] { return &weightedRoundRobin[E]{} }

func (p *weightedRoundRobin[E]) Pick(_ context.Context, eps []E) (E, error) {
	n := len(eps)
	if n == 0 {
		var zero E
		return zero, ErrNoEndpoint
	}
	if n == 1 {
		return eps[0], nil
	}
	p.mu.Lock()
	if p.last != &eps[0] || p.n != n {
		if cap(p.cur) < n {
			p.cur = make([]int64, n)
		} else {
			p.cur = p.cur[:n]
			clear(p.cur)
		}
		p.last, p.n = &eps[0], n
	}
	var total int64
	best := 0
	for i, e := range eps {
		w := int64(e.Weight())
		if w < 1 {
			w = 1
		}
		p.cur[i] += w
		total += w
		if p.cur[i] > p.cur[best] {
			best = i
		}
	}
	p.cur[best] -= total
	p.mu.Unlock()
	return eps[best], nil
}
