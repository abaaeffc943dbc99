package config

import (
	"encoding/json"

	"github.com/mcpbridge/mcpbridge/gateway"
)

// Spec names one predicate or filter of a route and its arguments. The file
// may write it in three forms:
//
//	predicates:
//	  - Header=x-canary, true                                     # shorthand
//	  - {name: Header, args: {header: x-canary, regexp: "tr.*"}}  # structured
//	  - {Header: {header: x-canary}}                              # keyed by name
//	  - {Path: [/a/**, /b/*]}                                     # keyed, positional
//
// In the structured and keyed forms args may be a string (read like the
// shorthand), a list (positional) or a mapping (named arguments, each a
// string or a list of strings).
type Spec struct {
	// Name is the predicate's or filter's registered name; names are
	// matched case-insensitively and Parse with a Registry rewrites them to
	// the registered spelling.
	Name string
	// Args are the arguments as written.
	Args gateway.Args
}

// String renders s in the shorthand form.
func (s Spec) String() string {
	if a := s.Args.String(); a != "" {
		return s.Name + "=" + a
	}
	return s.Name
}

// MarshalJSON encodes s as {"name": ..., "args": ...}, args being the
// shorthand string, a list or an object as written (a named argument with
// one value as a string); no args, no "args".
func (s Spec) MarshalJSON() ([]byte, error) {
	v := struct {
		Name string `json:"name"`
		Args any    `json:"args,omitempty"`
	}{Name: s.Name}
	switch {
	case s.Args.Named != nil:
		named := make(map[string]any, len(s.Args.Named))
		for k, vals := range s.Args.Named {
			if len(vals) == 1 {
				named[k] = vals[0]
			} else {
				named[k] = vals
			}
		}
		v.Args = named
	case s.Args.Raw != "":
		v.Args = s.Args.Raw
	case len(s.Args.Positional) > 0:
		v.Args = s.Args.Positional
	}
	return json.Marshal(v)
}
