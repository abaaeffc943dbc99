package predicate

import (
	"context"
	"errors"
	"strings"

	"github.com/mcpbridge/mcpbridge/gateway"
)

// Path matches the request path against glob patterns; any one matching is
// enough. Patterns are "/"-separated segments where "*" matches any run of
// characters within one segment (including none), "?" one character, "**"
// (a whole segment) any number of segments including none, and "{name}" (a
// whole segment) any one segment, captured as the variable name for the
// route's filters (see filter.SetPath). Everything else is literal and case
// matters. "/user.v1.UserService/**" matches every method of that gRPC
// service; "/api/*/items" matches "/api/v1/items".
type Path struct {
	globs []glob
	vars  bool
}

var (
	_ gateway.Predicate = (*Path)(nil)
	_ gateway.Capturer  = (*Path)(nil)
)

var pathParams = []gateway.Param{{Name: "patterns", List: true}}

// NewPath returns a Path predicate matching any of patterns.
func NewPath(patterns ...string) (*Path, error) {
	if len(patterns) == 0 {
		return nil, errors.New("no pattern")
	}
	p := &Path{}
	for _, s := range patterns {
		g, err := compileGlob(s)
		if err != nil {
			return nil, err
		}
		p.globs = append(p.globs, g)
		p.vars = p.vars || g.vars > 0
	}
	return p, nil
}

// PathFromArgs builds Path from configuration: Path=/a/**, /b/* or
// {patterns: [/a/**, /b/*]}.
func PathFromArgs(a gateway.Args) (gateway.Predicate, error) {
	v, err := a.Bind(pathParams...)
	if err != nil {
		return nil, err
	}
	return NewPath(v.List("patterns")...)
}

// Match reports whether req.Path matches one of the patterns.
func (p *Path) Match(_ context.Context, req *gateway.Request) (bool, error) {
	for i := range p.globs {
		if p.globs[i].match(req.Path, nil) {
			return true, nil
		}
	}
	return false, nil
}

// Capture returns the {name} variables of the first pattern matching
// req.Path, or nil.
func (p *Path) Capture(req *gateway.Request) map[string]string {
	if !p.vars {
		return nil
	}
	for i := range p.globs {
		g := &p.globs[i]
		if g.vars == 0 {
			if g.match(req.Path, nil) {
				return nil
			}
			continue
		}
		vars := make(map[string]string, g.vars)
		if g.match(req.Path, vars) {
			return vars
		}
	}
	return nil
}

// String returns the patterns, comma-separated.
func (p *Path) String() string {
	s := make([]string, len(p.globs))
	for i, g := range p.globs {
		s[i] = g.text
	}
	return strings.Join(s, ", ")
}
