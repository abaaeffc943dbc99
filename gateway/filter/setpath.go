package filter

import (
	"fmt"
	"strings"

	"github.com/mcpbridge/mcpbridge/gateway"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var setPathParams = []gateway.Param{{Name: "template", Verbatim: true}}

// SetPath replaces the request path with a template: literal text and
// {name} variables, filled from the Vars the route's predicates captured
// (the {name} segments of a Path pattern). With Path=/api/{service}/{method}
// and SetPath=/pkg.{service}/{method}, "/api/Users/Get" becomes
// "/pkg.Users/Get". A variable the predicates did not capture fails the call
// with codes.Internal: check templates against their route's patterns.
func SetPath(template string) (gateway.Middleware, error) {
	parts, err := parseTemplate(template)
	if err != nil {
		return nil, err
	}
	if len(parts) == 1 && !parts[0].isVar {
		path := parts[0].text
		return func(next gateway.Handler) gateway.Handler {
			return gateway.HandlerFunc(func(req *gateway.Request, s gateway.Stream) error {
				r := *req
				r.Path = path
				return next.Serve(&r, s)
			})
		}, nil
	}
	return func(next gateway.Handler) gateway.Handler {
		return gateway.HandlerFunc(func(req *gateway.Request, s gateway.Stream) error {
			var b strings.Builder
			for _, p := range parts {
				if !p.isVar {
					b.WriteString(p.text)
					continue
				}
				v, ok := req.Vars[p.text]
				if !ok {
					return status.Error(codes.Internal, "gateway: path template variable not captured by the route")
				}
				b.WriteString(v)
			}
			r := *req
			r.Path = b.String()
			return next.Serve(&r, s)
		})
	}, nil
}

type templatePart struct {
	text  string // literal text, or the variable's name
	isVar bool
}

func parseTemplate(t string) ([]templatePart, error) {
	if !strings.HasPrefix(t, "/") {
		return nil, fmt.Errorf("template %q must start with '/'", t)
	}
	var parts []templatePart
	rest := t
	for rest != "" {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			parts = append(parts, templatePart{text: rest})
			break
		}
		if rest[i] == '}' {
			return nil, fmt.Errorf("template %q: '}' without '{'", t)
		}
		if i > 0 {
			parts = append(parts, templatePart{text: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("template %q: '{' without '}'", t)
		}
		name := rest[i+1 : i+j]
		if !isIdent(name) {
			return nil, fmt.Errorf("template %q: bad variable name %q", t, name)
		}
		parts = append(parts, templatePart{text: name, isVar: true})
		rest = rest[i+j+1:]
	}
	return parts, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// SetPathFromArgs builds SetPath from configuration: SetPath=/template or
// {template: /template}.
func SetPathFromArgs(a gateway.Args) (gateway.Middleware, error) {
	v, err := a.Bind(setPathParams...)
	if err != nil {
		return nil, err
	}
	return SetPath(v.Get("template"))
}
