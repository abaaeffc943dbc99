package predicate

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/mcpbridge/mcpbridge/gateway"
)

// MaxWeight bounds a Weight predicate's weight.
const MaxWeight = 1_000_000

// Weight puts its route in a weighted group: Weight=canary, 10 on one route
// and Weight=canary, 90 on another send about 10% and 90% of the calls that
// reach the group to each. Weights are relative within the group; a weight
// of 0 takes no traffic. The gateway.Table gives the predicate its meaning:
// per lookup it draws one member of the group, and only the drawn member's
// Weight matches (its other predicates must match too, or the call goes on
// to the routes after it). On its own, outside a Table, Weight matches every
// request.
type Weight struct {
	group  string
	weight int
}

var _ gateway.Weighted = (*Weight)(nil)

var weightParams = []gateway.Param{{Name: "group"}, {Name: "weight"}}

// NewWeight returns a Weight predicate: weight (0 to MaxWeight) in group.
func NewWeight(group string, weight int) (*Weight, error) {
	if group == "" {
		return nil, errors.New("empty group")
	}
	if weight < 0 || weight > MaxWeight {
		return nil, fmt.Errorf("weight %d out of range 0-%d", weight, MaxWeight)
	}
	return &Weight{group: group, weight: weight}, nil
}

// WeightFromArgs builds Weight from configuration: Weight=group, N or
// {group: canary, weight: 10}.
func WeightFromArgs(a gateway.Args) (gateway.Predicate, error) {
	v, err := a.Bind(weightParams...)
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(v.Get("weight"))
	if err != nil {
		return nil, fmt.Errorf("bad weight %q: want an integer", v.Get("weight"))
	}
	return NewWeight(v.Get("group"), n)
}

// WeightGroup returns the group and the weight.
func (w *Weight) WeightGroup() (string, int) { return w.group, w.weight }

// Match returns true: a Table decides weighted routes without calling it.
func (w *Weight) Match(context.Context, *gateway.Request) (bool, error) { return true, nil }
