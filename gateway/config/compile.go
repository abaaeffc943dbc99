package config

import (
	"errors"

	"github.com/mcpbridge/mcpbridge/gateway"
)

// Compile builds the route table of cfg: for each route, in order, its
// predicates and filters from reg's factories and its upstream's handler
// from handlerFor (called once per upstream), which the filters wrap (the
// first filter outermost). It
// validates cfg first and returns Errors, with positions when cfg came from
// Parse, for every problem; handlerFor returning nil is one. opts go to
// gateway.NewTable (gateway.WithRandom for the weighted split).
func Compile(cfg *Config, reg *Registry, handlerFor func(upstream string) gateway.Handler, opts ...gateway.TableOption) (*gateway.Table, error) {
	switch {
	case cfg == nil:
		return nil, errors.New("config: Compile: nil Config")
	case reg == nil:
		return nil, errors.New("config: Compile: nil Registry")
	case handlerFor == nil:
		return nil, errors.New("config: Compile: nil handlerFor")
	}
	built, errs := cfg.check(reg, nil)
	if len(errs) > 0 {
		return nil, errs.err()
	}
	v := &validator{c: cfg}
	routes := make([]gateway.Route, len(cfg.Routes))
	handlers := map[string]gateway.Handler{}
	for i, r := range cfg.Routes {
		up := r.Upstream()
		h, ok := handlers[up]
		if !ok {
			h = handlerFor(up)
			handlers[up] = h
		}
		if h == nil {
			v.errorf(index("routes", i)+".uri", nil, "no handler for upstream %q", up)
		}
		routes[i] = gateway.Route{
			ID:         r.ID,
			Upstream:   up,
			Predicates: built[i].preds,
			Filters:    built[i].filters,
			Handler:    h,
		}
	}
	if len(v.errs) > 0 {
		return nil, v.errs.err()
	}
	t, err := gateway.NewTable(routes, opts...)
	if err != nil {
		// Validate checks what NewTable does; map whatever remains.
		for _, e := range unjoin(err) {
			var re *gateway.RouteError
			if errors.As(e, &re) {
				v.errorf(index("routes", re.Index), re.Err, "%v", re.Err)
			} else {
				v.errorf("routes", e, "%v", e)
			}
		}
		return nil, v.errs.err()
	}
	return t, nil
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
