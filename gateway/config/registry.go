package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/mcpbridge/mcpbridge/gateway"
)

// PredicateFactory builds a predicate from its configuration arguments, or
// says what is wrong with them.
type PredicateFactory func(gateway.Args) (gateway.Predicate, error)

// FilterFactory builds a filter from its configuration arguments, or says
// what is wrong with them.
type FilterFactory func(gateway.Args) (gateway.Middleware, error)

// Registry maps predicate and filter names to their factories. The caller
// builds it (see gateway/builtin.Register) and passes it to Parse, Load,
// Watch and Compile; there is no global registry. Names are matched
// case-insensitively. A Registry is safe for concurrent use.
type Registry struct {
	mu         sync.RWMutex
	predicates map[string]entry[PredicateFactory] // by lower-case name
	filters    map[string]entry[FilterFactory]
}

type entry[F any] struct {
	name string
	f    F
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{
		predicates: map[string]entry[PredicateFactory]{},
		filters:    map[string]entry[FilterFactory]{},
	}
}

// AddPredicate registers a predicate factory under name (a letter, then
// letters, digits or '_'). A name already taken, in any case, is an error.
func (r *Registry) AddPredicate(name string, f PredicateFactory) error {
	if f == nil {
		return fmt.Errorf("config: predicate %q: nil factory", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return add(r.predicates, "predicate", name, f)
}

// AddFilter registers a filter factory under name (a letter, then letters,
// digits or '_'). A name already taken, in any case, is an error.
func (r *Registry) AddFilter(name string, f FilterFactory) error {
	if f == nil {
		return fmt.Errorf("config: filter %q: nil factory", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return add(r.filters, "filter", name, f)
}

func add[F any](m map[string]entry[F], kind, name string, f F) error {
	if !specName.MatchString(name) {
		return fmt.Errorf("config: bad %s name %q", kind, name)
	}
	key := strings.ToLower(name)
	if old, dup := m[key]; dup {
		return fmt.Errorf("config: %s %q already registered (as %q)", kind, name, old.name)
	}
	m[key] = entry[F]{name: name, f: f}
	return nil
}

// Predicate returns the factory registered under name (any case) and its
// registered spelling.
func (r *Registry) Predicate(name string) (string, PredicateFactory, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.predicates[strings.ToLower(name)]
	return e.name, e.f, ok
}

// Filter returns the factory registered under name (any case) and its
// registered spelling.
func (r *Registry) Filter(name string) (string, FilterFactory, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.filters[strings.ToLower(name)]
	return e.name, e.f, ok
}

// Predicates returns the registered predicate names, sorted.
func (r *Registry) Predicates() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return names(r.predicates)
}

// Filters returns the registered filter names, sorted.
func (r *Registry) Filters() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return names(r.filters)
}

func names[F any](m map[string]entry[F]) []string {
	out := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k].name)
	}
	return out
}

// predicate runs the factory of s: the predicate, its registered name, and
// what is wrong (unknown name, or the factory's error).
func (r *Registry) predicate(s Spec) (gateway.Predicate, string, error) {
	name, f, ok := r.Predicate(s.Name)
	if !ok {
		return nil, "", fmt.Errorf("unknown predicate %q (known: %s)", s.Name, strings.Join(r.Predicates(), ", "))
	}
	p, err := f(s.Args)
	if err == nil && p == nil {
		err = errors.New("factory returned no predicate")
	}
	if err != nil {
		return nil, name, fmt.Errorf("%s: %w", name, err)
	}
	return p, name, nil
}

// filter runs the factory of s, like predicate.
func (r *Registry) filter(s Spec) (gateway.Middleware, string, error) {
	name, f, ok := r.Filter(s.Name)
	if !ok {
		return nil, "", fmt.Errorf("unknown filter %q (known: %s)", s.Name, strings.Join(r.Filters(), ", "))
	}
	m, err := f(s.Args)
	if err == nil && m == nil {
		err = errors.New("factory returned no filter")
	}
	if err != nil {
		return nil, name, fmt.Errorf("%s: %w", name, err)
	}
	return m, name, nil
}
