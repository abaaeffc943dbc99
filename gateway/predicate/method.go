package predicate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mcpbridge/mcpbridge/gateway"
)

// Method matches the request method against a list: Method=GET, HEAD. Methods
// are compared upper-case; gRPC and MCP calls are "POST".
type Method struct {
	methods []string
}

var _ gateway.Predicate = (*Method)(nil)

var methodParams = []gateway.Param{{Name: "methods", List: true}}

// NewMethod returns a Method predicate matching any of methods.
func NewMethod(methods ...string) (*Method, error) {
	if len(methods) == 0 {
		return nil, errors.New("no method")
	}
	m := &Method{}
	for _, s := range methods {
		u := strings.ToUpper(s)
		if u == "" || strings.IndexFunc(u, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
			return nil, fmt.Errorf("bad method %q", s)
		}
		if !slices.Contains(m.methods, u) {
			m.methods = append(m.methods, u)
		}
	}
	return m, nil
}

// MethodFromArgs builds Method from configuration: Method=GET, POST or
// {methods: [GET, POST]}.
func MethodFromArgs(a gateway.Args) (gateway.Predicate, error) {
	v, err := a.Bind(methodParams...)
	if err != nil {
		return nil, err
	}
	return NewMethod(v.List("methods")...)
}

// Match reports whether req.Method is one of the methods.
func (m *Method) Match(_ context.Context, req *gateway.Request) (bool, error) {
	return slices.Contains(m.methods, req.Method), nil
}
