// Package builtin registers the gateway's built-in predicates (Path,
// Header, Method, Dst, Weight) and filters (StripPrefix, PrefixPath,
// SetPath, AddRequestHeader, RemoveRequestHeader) in a config.Registry, so
// that cmd/ and tests share one list. Later features register theirs next to
// these, through the same Registry.
package builtin

import (
	"errors"

	"github.com/mcpbridge/mcpbridge/gateway/config"
	"github.com/mcpbridge/mcpbridge/gateway/filter"
	"github.com/mcpbridge/mcpbridge/gateway/predicate"
)

// Register adds the built-in predicates and filters to reg. It fails if one
// of their names is already taken.
func Register(reg *config.Registry) error {
	var errs []error
	for _, p := range []struct {
		name string
		f    config.PredicateFactory
	}{
		{"Path", predicate.PathFromArgs},
		{"Header", predicate.HeaderFromArgs},
		{"Method", predicate.MethodFromArgs},
		{"Dst", predicate.DstFromArgs},
		{"Weight", predicate.WeightFromArgs},
	} {
		errs = append(errs, reg.AddPredicate(p.name, p.f))
	}
	for _, f := range []struct {
		name string
		f    config.FilterFactory
	}{
		{"StripPrefix", filter.StripPrefixFromArgs},
		{"PrefixPath", filter.PrefixPathFromArgs},
		{"SetPath", filter.SetPathFromArgs},
		{"AddRequestHeader", filter.AddRequestHeaderFromArgs},
		{"RemoveRequestHeader", filter.RemoveRequestHeaderFromArgs},
	} {
		errs = append(errs, reg.AddFilter(f.name, f.f))
	}
	return errors.Join(errs...)
}

// NewRegistry returns a Registry holding the built-ins and nothing else.
func NewRegistry() *config.Registry {
	reg := config.NewRegistry()
	// An empty registry takes every built-in name.
	_ = Register(reg)
	return reg
}
