package predicate

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/internal/header"
)

// Header matches a request header (metadata key). Without a regexp it
// matches when the header is present; with one, when any of the header's
// values matches the regexp in full (it is anchored at both ends, as in Spring
// Cloud Gateway): Header=x-canary, true matches "true" and not "untrue". The
// name is case-insensitive.
type Header struct {
	name string
	re   *regexp.Regexp
}

var _ gateway.Predicate = (*Header)(nil)

var headerParams = []gateway.Param{{Name: "header"}, {Name: "regexp", Optional: true, Verbatim: true}}

// NewHeader returns a Header predicate for name; expr "" means "present".
func NewHeader(name, expr string) (*Header, error) {
	n, err := header.Name(name)
	if err != nil {
		return nil, err
	}
	h := &Header{name: n}
	if expr != "" {
		re, err := regexp.Compile(`^(?:` + expr + `)$`)
		if err != nil {
			// Report the problem, not the anchored expression it was found in.
			var se *syntax.Error
			if errors.As(err, &se) {
				return nil, fmt.Errorf("bad regexp %q: %s", expr, se.Code)
			}
			return nil, fmt.Errorf("bad regexp %q: %w", expr, err)
		}
		h.re = re
	}
	return h, nil
}

// HeaderFromArgs builds Header from configuration: Header=name[, regexp] (the
// regexp may contain commas) or {header: name, regexp: re}.
func HeaderFromArgs(a gateway.Args) (gateway.Predicate, error) {
	v, err := a.Bind(headerParams...)
	if err != nil {
		return nil, err
	}
	return NewHeader(v.Get("header"), v.Get("regexp"))
}

// Match reports whether the header is present (and, with a regexp, whether
// one of its values matches).
func (h *Header) Match(_ context.Context, req *gateway.Request) (bool, error) {
	vals := req.Header[h.name]
	if h.re == nil {
		return len(vals) > 0, nil
	}
	for _, v := range vals {
		if h.re.MatchString(v) {
			return true, nil
		}
	}
	return false, nil
}
