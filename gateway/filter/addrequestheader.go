package filter

import (
	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/internal/header"
	"google.golang.org/grpc/metadata"
)

var addRequestHeaderParams = []gateway.Param{{Name: "name"}, {Name: "value", Verbatim: true}}

// AddRequestHeader appends value to the request header name (lower-cased),
// keeping values already there: AddRequestHeader=x-gateway, mcpbridge. The
// value is taken as written, commas included.
func AddRequestHeader(name, value string) (gateway.Middleware, error) {
	n, err := header.Name(name)
	if err != nil {
		return nil, err
	}
	if err := header.Value(n, value); err != nil {
		return nil, err
	}
	return func(next gateway.Handler) gateway.Handler {
		return gateway.HandlerFunc(func(req *gateway.Request, s gateway.Stream) error {
			r := *req
			if req.Header == nil {
				r.Header = metadata.MD{n: {value}}
			} else {
				r.Header = req.Header.Copy()
				r.Header[n] = append(r.Header[n], value)
			}
			return next.Serve(&r, s)
		})
	}, nil
}

// AddRequestHeaderFromArgs builds AddRequestHeader from configuration:
// AddRequestHeader=name, value or {name: x-gateway, value: mcpbridge}.
func AddRequestHeaderFromArgs(a gateway.Args) (gateway.Middleware, error) {
	v, err := a.Bind(addRequestHeaderParams...)
	if err != nil {
		return nil, err
	}
	return AddRequestHeader(v.Get("name"), v.Get("value"))
}
