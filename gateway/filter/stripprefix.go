package filter

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mcpbridge/mcpbridge/gateway"
)

// MaxStripParts bounds StripPrefix's count.
const MaxStripParts = 1024

var stripPrefixParams = []gateway.Param{{Name: "parts"}}

// StripPrefix drops the first n segments of the request path and keeps a
// leading '/': with n=2, "/a/b/pkg.Service/Method" becomes
// "/pkg.Service/Method". A path with n segments or fewer becomes "/".
func StripPrefix(n int) (gateway.Middleware, error) {
	if n < 0 || n > MaxStripParts {
		return nil, fmt.Errorf("parts %d out of range 0-%d", n, MaxStripParts)
	}
	return func(next gateway.Handler) gateway.Handler {
		return gateway.HandlerFunc(func(req *gateway.Request, s gateway.Stream) error {
			r := *req
			r.Path = stripSegments(req.Path, n)
			return next.Serve(&r, s)
		})
	}, nil
}

func stripSegments(p string, n int) string {
	rest := strings.TrimPrefix(p, "/")
	for range n {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return "/"
		}
		rest = rest[i+1:]
	}
	return "/" + rest
}

// StripPrefixFromArgs builds StripPrefix from configuration: StripPrefix=1 or
// {parts: 1}.
func StripPrefixFromArgs(a gateway.Args) (gateway.Middleware, error) {
	v, err := a.Bind(stripPrefixParams...)
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(v.Get("parts"))
	if err != nil {
		return nil, fmt.Errorf("bad parts %q: want an integer", v.Get("parts"))
	}
	return StripPrefix(n)
}
