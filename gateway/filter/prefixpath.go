package filter

import (
	"fmt"
	"strings"

	"github.com/mcpbridge/mcpbridge/gateway"
)

var prefixPathParams = []gateway.Param{{Name: "prefix"}}

// PrefixPath puts prefix before the request path: with "/v2", "/users"
// becomes "/v2/users". The prefix starts with '/'; a trailing '/' is dropped.
func PrefixPath(prefix string) (gateway.Middleware, error) {
	if !strings.HasPrefix(prefix, "/") {
		return nil, fmt.Errorf("prefix %q must start with '/'", prefix)
	}
	prefix = strings.TrimRight(prefix, "/")
	return func(next gateway.Handler) gateway.Handler {
		return gateway.HandlerFunc(func(req *gateway.Request, s gateway.Stream) error {
			r := *req
			switch {
			case req.Path == "":
				r.Path = prefix
			case strings.HasPrefix(req.Path, "/"):
				r.Path = prefix + req.Path
			default:
				r.Path = prefix + "/" + req.Path
			}
			if r.Path == "" {
				r.Path = "/"
			}
			return next.Serve(&r, s)
		})
	}, nil
}

// PrefixPathFromArgs builds PrefixPath from configuration: PrefixPath=/v2 or
// {prefix: /v2}.
func PrefixPathFromArgs(a gateway.Args) (gateway.Middleware, error) {
	v, err := a.Bind(prefixPathParams...)
	if err != nil {
		return nil, err
	}
	return PrefixPath(v.Get("prefix"))
}
