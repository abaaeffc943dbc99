package gateway

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Args are the arguments of one predicate or filter, as configuration wrote
// them. They come in one of three forms:
//
//   - the shorthand, "Header=x-canary, tr.*": Raw is the text after '=' and
//     Positional is Raw split at every comma, each item trimmed;
//   - a positional list, {Path: [/a/**, /b/*]}: Positional holds the items
//     as written, Raw is empty;
//   - named arguments, {name: Header, args: {header: x-canary}}: Named maps
//     each name to its values (a scalar is one value, a list several).
//
// Factories usually call Bind, which maps any form onto declared parameters
// and handles commas inside a last "verbatim" parameter (a regexp, a header
// value). A factory that needs the text as written reads Raw.
type Args struct {
	// Raw is the shorthand's text after '=', trimmed; empty in the other forms.
	Raw string
	// Positional is Raw split at every comma and trimmed, or the items of a
	// positional list.
	Positional []string
	// Named holds named arguments; non-nil exactly for the named form.
	Named map[string][]string
}

// ShorthandArgs returns the Args of the shorthand "Name=raw".
func ShorthandArgs(raw string) Args {
	a := Args{Raw: strings.TrimSpace(raw)}
	if a.Raw != "" {
		for item := range strings.SplitSeq(a.Raw, ",") {
			a.Positional = append(a.Positional, strings.TrimSpace(item))
		}
	}
	return a
}

// PositionalArgs returns the Args of a positional list.
func PositionalArgs(items ...string) Args {
	return Args{Positional: slices.Clone(items)}
}

// NamedArgs returns the Args of named arguments.
func NamedArgs(named map[string][]string) Args {
	a := Args{Named: make(map[string][]string, len(named))}
	for k, v := range named {
		a.Named[k] = slices.Clone(v)
	}
	return a
}

// String renders a for messages: the shorthand text, or name=value pairs.
func (a Args) String() string {
	switch {
	case a.Named != nil:
		var b strings.Builder
		for i, k := range slices.Sorted(maps.Keys(a.Named)) {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s=%s", k, strings.Join(a.Named[k], "|"))
		}
		return b.String()
	case a.Raw != "":
		return a.Raw
	default:
		return strings.Join(a.Positional, ", ")
	}
}

// Param declares one parameter of a predicate or filter factory, for Bind.
// Parameters are listed in shorthand order; optional ones come last.
type Param struct {
	// Name is the parameter's key in the named form, lower-case by convention.
	Name string
	// Optional parameters may be left out.
	Optional bool
	// List makes the last parameter take every remaining shorthand item (one
	// per comma) or every item of a list; at least one unless Optional.
	List bool
	// Verbatim makes the last parameter take the rest of the shorthand as
	// written, commas included: a regexp, a header value, a template.
	Verbatim bool
}

// Values are bound arguments, by parameter name.
type Values map[string][]string

// Get returns the first value of name, or "".
func (v Values) Get(name string) string {
	if s := v[name]; len(s) > 0 {
		return s[0]
	}
	return ""
}

// List returns every value of name.
func (v Values) List(name string) []string { return v[name] }

// Has reports whether name was given.
func (v Values) Has(name string) bool {
	_, ok := v[name]
	return ok
}

// usage renders params as a shorthand synopsis: "header[, regexp]",
// "patterns...".
func usage(params ...Param) string {
	var b strings.Builder
	for i, p := range params {
		sep := ""
		if i > 0 {
			sep = ", "
		}
		name := p.Name
		if p.List {
			name += "..."
		}
		if p.Optional {
			fmt.Fprintf(&b, "[%s%s]", sep, name)
		} else {
			b.WriteString(sep + name)
		}
	}
	return b.String()
}

// Bind maps a onto params. Every required parameter must be given, no
// argument may be empty, and nothing unknown or surplus may be left over;
// each violation is an error naming the parameter and the usage.
func (a Args) Bind(params ...Param) (Values, error) {
	if err := checkParams(params); err != nil {
		return nil, err
	}
	if a.Named != nil {
		return a.bindNamed(params)
	}
	items := a.Positional
	if n := len(params); a.Raw != "" && n > 0 && params[n-1].Verbatim {
		items = strings.SplitN(a.Raw, ",", n)
		for i := range items {
			items[i] = strings.TrimSpace(items[i])
		}
	}
	v := Values{}
	for i, p := range params {
		if p.List {
			rest := items[min(i, len(items)):]
			if len(rest) == 0 {
				if !p.Optional {
					return nil, missing(p, params)
				}
				return v, nil
			}
			for _, s := range rest {
				if s == "" {
					return nil, fmt.Errorf("empty item in %q (want %s)", p.Name, usage(params...))
				}
			}
			v[p.Name] = slices.Clone(rest)
			return v, nil
		}
		if i >= len(items) || (items[i] == "" && i == len(items)-1 && p.Optional) {
			if !p.Optional {
				return nil, missing(p, params)
			}
			continue
		}
		if items[i] == "" {
			return nil, fmt.Errorf("empty argument %q (want %s)", p.Name, usage(params...))
		}
		v[p.Name] = []string{items[i]}
	}
	if len(items) > len(params) {
		return nil, fmt.Errorf("too many arguments: %d, want %s", len(items), usage(params...))
	}
	return v, nil
}

func (a Args) bindNamed(params []Param) (Values, error) {
	known := make([]string, len(params))
	for i, p := range params {
		known[i] = p.Name
	}
	for _, k := range slices.Sorted(maps.Keys(a.Named)) {
		if !slices.Contains(known, k) {
			if len(known) == 0 {
				return nil, fmt.Errorf("unknown argument %q: takes no arguments", k)
			}
			return nil, fmt.Errorf("unknown argument %q (known: %s)", k, strings.Join(known, ", "))
		}
	}
	v := Values{}
	for _, p := range params {
		vals, ok := a.Named[p.Name]
		switch {
		case !ok || len(vals) == 0:
			if !p.Optional {
				return nil, missing(p, params)
			}
			continue
		case len(vals) > 1 && !p.List:
			return nil, fmt.Errorf("argument %q takes one value, got %d", p.Name, len(vals))
		}
		for _, s := range vals {
			if s == "" {
				return nil, fmt.Errorf("empty argument %q", p.Name)
			}
		}
		v[p.Name] = slices.Clone(vals)
	}
	return v, nil
}

func missing(p Param, params []Param) error {
	return fmt.Errorf("missing argument %q (want %s)", p.Name, usage(params...))
}

func checkParams(params []Param) error {
	for i, p := range params {
		last := i == len(params)-1
		switch {
		case p.Name == "":
			return errors.New("gateway: parameter without a name")
		case (p.List || p.Verbatim) && !last:
			return fmt.Errorf("gateway: parameter %q: only the last may be List or Verbatim", p.Name)
		case p.List && p.Verbatim:
			return fmt.Errorf("gateway: parameter %q: List and Verbatim exclude each other", p.Name)
		case i > 0 && params[i-1].Optional && !p.Optional:
			return fmt.Errorf("gateway: parameter %q: a required parameter follows an optional one", p.Name)
		}
	}
	return nil
}
