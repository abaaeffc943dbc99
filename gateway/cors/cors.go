// Package cors is cross-origin resource sharing for the HTTP front door: a
// Policy, compiled once from a Config, answers preflight requests and adds
// the Access-Control-* headers to the answers of allowed origins.
package cors

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Config says which browser pages on other origins may call.
type Config struct {
	// AllowedOrigins are the origins allowed: exact ("https://app.example.com"),
	// one leading wildcard label ("https://*.example.com", any subdomain,
	// not the domain itself), or "*" for any. Required.
	AllowedOrigins []string
	// AllowedMethods are the methods a preflight may ask for. Nil:
	// DefaultMethods.
	AllowedMethods []string
	// AllowedHeaders are the request headers a preflight may ask for,
	// case-insensitive. Nil: whatever the preflight asks for.
	AllowedHeaders []string
	// ExposedHeaders are the response headers a page may read beyond the
	// CORS-safelisted ones (Access-Control-Expose-Headers).
	ExposedHeaders []string
	// AllowCredentials lets pages send cookies and HTTP authentication
	// (Access-Control-Allow-Credentials). It cannot go with "*".
	AllowCredentials bool
	// MaxAge is how long a browser may cache a preflight's answer; 0 sends
	// no Access-Control-Max-Age (browsers then cache it for 5 s).
	MaxAge time.Duration
}

// DefaultMethods are the methods a preflight may ask for by default.
var DefaultMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

// Policy is a Config compiled for the requests. It is safe for concurrent
// use.
type Policy struct {
	anyOrigin bool
	exact     map[string]bool
	wild      []wildOrigin
	methods   map[string]bool
	allowMeth string
	headers   map[string]bool // nil: any
	exposed   string
	creds     bool
	maxAge    string
}

// wildOrigin is "scheme://*.suffix[:port]": scheme "https://", suffix
// ".example.com", port ":8443" or "".
type wildOrigin struct{ scheme, suffix, port string }

// CheckOrigin says what is wrong with an AllowedOrigins entry, if
// anything.
func CheckOrigin(o string) error {
	_, _, err := parseOrigin(o)
	return err
}

// parseOrigin checks an AllowedOrigins entry; wild is set for a wildcard.
func parseOrigin(o string) (exact string, wild *wildOrigin, err error) {
	if o == "*" {
		return o, nil, nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", nil, fmt.Errorf("bad origin %q: want scheme://host[:port], as browsers send it, or \"*\"", o)
	}
	host := u.Hostname()
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		if rest == "" || strings.Contains(rest, "*") {
			return "", nil, fmt.Errorf("bad origin %q: a wildcard stands for one leading label, as in https://*.example.com", o)
		}
		port := ""
		if p := u.Port(); p != "" {
			port = ":" + p
		}
		return "", &wildOrigin{scheme: u.Scheme + "://", suffix: "." + strings.ToLower(rest), port: port}, nil
	}
	if strings.Contains(host, "*") {
		return "", nil, fmt.Errorf("bad origin %q: a wildcard stands for one leading label, as in https://*.example.com", o)
	}
	return strings.ToLower(o), nil, nil
}

// New compiles c; its error says what is wrong with it.
func New(c Config) (*Policy, error) {
	if len(c.AllowedOrigins) == 0 {
		return nil, errors.New("no allowed origins")
	}
	p := &Policy{exact: map[string]bool{}, methods: map[string]bool{}, creds: c.AllowCredentials}
	for _, o := range c.AllowedOrigins {
		exact, wild, err := parseOrigin(o)
		switch {
		case err != nil:
			return nil, err
		case exact == "*":
			p.anyOrigin = true
		case wild != nil:
			p.wild = append(p.wild, *wild)
		default:
			p.exact[exact] = true
		}
	}
	if p.anyOrigin && p.creds {
		return nil, errors.New(`allow_credentials cannot go with the origin "*" (browsers refuse it): list the origins`)
	}
	methods := c.AllowedMethods
	if methods == nil {
		methods = DefaultMethods
	}
	var ms []string
	for _, m := range methods {
		m = strings.ToUpper(m)
		if !p.methods[m] {
			p.methods[m] = true
			ms = append(ms, m)
		}
	}
	p.allowMeth = strings.Join(ms, ", ")
	if c.AllowedHeaders != nil {
		p.headers = map[string]bool{}
		for _, h := range c.AllowedHeaders {
			p.headers[strings.ToLower(h)] = true
		}
	}
	p.exposed = strings.Join(c.ExposedHeaders, ", ")
	if c.MaxAge > 0 {
		p.maxAge = strconv.FormatInt(int64(c.MaxAge/time.Second), 10)
	}
	return p, nil
}

func (p *Policy) allowed(origin string) bool {
	if p.anyOrigin {
		return true
	}
	o := strings.ToLower(origin)
	if p.exact[o] {
		return true
	}
	for _, w := range p.wild {
		rest, ok := strings.CutPrefix(o, w.scheme)
		if !ok {
			continue
		}
		if w.port != "" {
			if rest, ok = strings.CutSuffix(rest, w.port); !ok {
				continue
			}
		} else if strings.Contains(rest, ":") {
			continue
		}
		if len(rest) > len(w.suffix) && strings.HasSuffix(rest, w.suffix) && !strings.ContainsAny(rest[:len(rest)-len(w.suffix)], "/@") {
			return true
		}
	}
	return false
}

// Handle applies the policy to a request. It reports whether it answered
// the request: an allowed preflight (204), or, with a PERMISSION_DENIED
// err for the caller to write, a preflight from an origin, or asking for a
// method or header, that is not allowed. Otherwise the request goes on,
// with the CORS headers set when it has an allowed Origin.
func (p *Policy) Handle(w http.ResponseWriter, r *http.Request) (answered bool, err error) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false, nil
	}
	hd := w.Header()
	hd.Add("Vary", "Origin")
	reqMethod := r.Header.Get("Access-Control-Request-Method")
	preflight := r.Method == http.MethodOptions && reqMethod != ""
	if preflight {
		hd.Add("Vary", "Access-Control-Request-Method")
		hd.Add("Vary", "Access-Control-Request-Headers")
	}
	if !p.allowed(origin) {
		if preflight {
			return true, status.Errorf(codes.PermissionDenied, "CORS: origin %q is not allowed", truncate(origin))
		}
		return false, nil // answered without CORS headers: the browser keeps it from the page
	}
	allow := origin
	if p.anyOrigin && !p.creds {
		allow = "*"
	}
	hd.Set("Access-Control-Allow-Origin", allow)
	if p.creds {
		hd.Set("Access-Control-Allow-Credentials", "true")
	}
	if !preflight {
		if p.exposed != "" {
			hd.Set("Access-Control-Expose-Headers", p.exposed)
		}
		return false, nil
	}
	if !p.methods[reqMethod] {
		return true, status.Errorf(codes.PermissionDenied, "CORS: method %q is not allowed", truncate(reqMethod))
	}
	var asked []string
	for _, part := range r.Header.Values("Access-Control-Request-Headers") {
		for h := range strings.SplitSeq(part, ",") {
			if h = strings.ToLower(strings.TrimSpace(h)); h != "" && !slices.Contains(asked, h) {
				asked = append(asked, h)
			}
		}
	}
	for _, h := range asked {
		if p.headers != nil && !p.headers[h] {
			return true, status.Errorf(codes.PermissionDenied, "CORS: request header %q is not allowed", truncate(h))
		}
	}
	hd.Set("Access-Control-Allow-Methods", p.allowMeth)
	if len(asked) > 0 {
		hd.Set("Access-Control-Allow-Headers", strings.Join(asked, ", "))
	}
	if p.maxAge != "" {
		hd.Set("Access-Control-Max-Age", p.maxAge)
	}
	w.WriteHeader(http.StatusNoContent)
	return true, nil
}

func truncate(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}
