package balancer

import (
	"context"
	"fmt"
	"math/rand/v2"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Names of the pickers, as the configuration spells them.
const (
	RoundRobin         = "round_robin"
	WeightedRoundRobin = "weighted_round_robin"
	LeastRequest       = "least_request"
	Random             = "random"
)

// ErrNoEndpoint is what Pick returns for an empty endpoint set. It carries
// codes.Unavailable.
var ErrNoEndpoint = status.Error(codes.Unavailable, "balancer: no endpoint to pick")

// Endpoint is what a Picker needs to know about one endpoint.
type Endpoint interface {
	// Weight is the endpoint's share for weighted_round_robin; a value
	// below 1 counts as 1.
	Weight() int
	// InFlight is the number of calls the endpoint is serving now.
	InFlight() int64
}

// Picker chooses one endpoint of a snapshot per call.
type Picker[E Endpoint] interface {
	// Pick returns one of eps, or ErrNoEndpoint when eps is empty. eps is
	// not retained beyond what the package doc says.
	Pick(ctx context.Context, eps []E) (E, error)
}

// Option configures a Picker.
type Option interface{ apply(*options) }

type options struct {
	intN func(n int) int
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithRandom sets the random source of least_request and random: intN(n)
// returns an int in [0, n). It may be called from many goroutines at once.
// The default is math/rand/v2's IntN. Round-robin pickers ignore it.
func WithRandom(intN func(n int) int) Option {
	return optionFunc(func(o *options) {
		if intN != nil {
			o.intN = intN
		}
	})
}

func buildOptions(opts []Option) options {
	o := options{intN: rand.IntN}
	for _, opt := range opts {
		opt.apply(&o)
	}
	return o
}

// New returns the Picker called name (RoundRobin, WeightedRoundRobin,
// LeastRequest or Random).
func New[E Endpoint](name string, opts ...Option) (Picker[E], error) {
	switch name {
	case RoundRobin:
		return NewRoundRobin[E](), nil
	case WeightedRoundRobin:
		return NewWeightedRoundRobin[E](), nil
	case LeastRequest:
		return NewLeastRequest[E](opts...), nil
	case Random:
		return NewRandom[E](opts...), nil
	}
	return nil, fmt.Errorf("balancer: unknown balancer %q (want %s, %s, %s or %s)", name, RoundRobin, WeightedRoundRobin, LeastRequest, Random)
}
