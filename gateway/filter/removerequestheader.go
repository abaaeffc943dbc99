package filter

import (
	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/internal/header"
)

var removeRequestHeaderParams = []gateway.Param{{Name: "name"}}

// RemoveRequestHeader removes every value of the request header name
// (case-insensitive): RemoveRequestHeader=x-internal-token.
func RemoveRequestHeader(name string) (gateway.Middleware, error) {
	n, err := header.Name(name)
	if err != nil {
		return nil, err
	}
	return func(next gateway.Handler) gateway.Handler {
		return gateway.HandlerFunc(func(req *gateway.Request, s gateway.Stream) error {
			if _, ok := req.Header[n]; !ok {
				return next.Serve(req, s)
			}
			r := *req
			r.Header = req.Header.Copy()
			delete(r.Header, n)
			return next.Serve(&r, s)
		})
	}, nil
}

// RemoveRequestHeaderFromArgs builds RemoveRequestHeader from configuration:
// RemoveRequestHeader=name or {name: x-internal-token}.
func RemoveRequestHeaderFromArgs(a gateway.Args) (gateway.Middleware, error) {
	v, err := a.Bind(removeRequestHeaderParams...)
	if err != nil {
		return nil, err
	}
	return RemoveRequestHeader(v.Get("name"))
}
