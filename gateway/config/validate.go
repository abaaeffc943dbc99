package config

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/cors"
	"github.com/mcpbridge/mcpbridge/pubsub"
)

// Validate reports every semantic problem of c as Errors: bad addresses,
// names and values, endpoints and dns both or neither, duplicate ids,
// routes pointing at missing upstreams, and, when reg is not nil, unknown
// predicates and filters and the problems their factories find in their
// arguments. Parse runs it; call it on a Config built in code.
func (c *Config) Validate(reg *Registry) error {
	_, errs := c.check(reg, nil)
	return errs.err()
}

// builtRoute is what the factories made of one route.
type builtRoute struct {
	preds       []gateway.Predicate
	predNames   []string
	filters     []gateway.Middleware
	filterNames []string
}

type validator struct {
	c      *Config
	broken map[string]bool // paths the decoder already reported
	errs   Errors
}

// check validates c. broken, from the decoder, silences problems that only
// follow from one already reported. With a registry it also returns what
// the factories built, route by route.
func (c *Config) check(reg *Registry, broken map[string]bool) ([]builtRoute, Errors) {
	v := &validator{c: c, broken: broken}
	v.server()
	v.listeners()
	v.pubsub()
	v.upstreams()
	built := v.routes(reg)
	return built, v.errs
}

func (v *validator) errorf(path string, cause error, format string, args ...any) {
	for p, ok := path, true; ok; p, ok = parent(p) {
		if v.broken[p] {
			return
		}
	}
	e := &Error{File: v.c.file, Path: path, Msg: fmt.Sprintf(format, args...), Err: cause}
	e.Line, e.Col = v.c.position(path)
	v.errs = append(v.errs, e)
}

// position returns where path, or the nearest of its parents, is in the file.
func (c *Config) position(path string) (line, col int) {
	for p, ok := path, true; ok; p, ok = parent(p) {
		if pos, found := c.pos[p]; found {
			return pos.line, pos.col
		}
	}
	return 0, 0
}

// firstAt describes where an earlier occurrence is: "line 5" or "routes[0]".
func (c *Config) firstAt(path string) string {
	if pos, ok := c.pos[path]; ok {
		return "first at line " + strconv.Itoa(pos.line)
	}
	return "first at " + path
}

func (v *validator) server() {
	s := v.c.Server
	if s.ShutdownGrace < 0 {
		v.errorf("server.shutdown_grace", nil, "must not be negative, got %s", s.ShutdownGrace)
	}
	if s.WatchInterval < 0 {
		v.errorf("server.watch_interval", nil, "must not be negative, got %s", s.WatchInterval)
	}
	v.oneOf("server.readiness", "readiness", s.Readiness, []string{"upstreams", "listening"})
	v.oneOf("server.log.format", "log format", s.Log.Format, []string{"text", "json"})
	v.oneOf("server.log.level", "log level", s.Log.Level, []string{"debug", "info", "warn", "error"})
	if s.HTTP.MaxBodySize <= 0 {
		v.errorf("server.http.max_body_size", nil, "must be positive, got %d", s.HTTP.MaxBodySize)
	}
	for i, h := range s.HTTP.ForwardHeaders {
		name := strings.TrimSuffix(h, "*")
		if h == "" || strings.Contains(name, "*") || strings.ContainsFunc(name, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '.' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
		}) {
			v.errorf(index("server.http.forward_headers", i), nil, "bad header name %q: letters, digits, '-', '_', '.', and an optional final '*'", h)
		}
	}
	if c := s.HTTP.CORS; c != nil {
		if c.MaxAge < 0 {
			v.errorf("server.http.cors.max_age", nil, "must not be negative, got %s", c.MaxAge)
		}
		bad := false
		for i, o := range c.AllowedOrigins {
			if err := cors.CheckOrigin(o); err != nil {
				v.errorf(index("server.http.cors.allowed_origins", i), err, "%v", err)
				bad = true
			}
		}
		if _, err := cors.New(c.Policy()); err != nil && !bad {
			v.errorf("server.http.cors", err, "%v", err)
		}
	}
	v.oneOf("server.json.unknown_fields", "unknown_fields policy", s.JSON.UnknownFields, []string{"reject", "discard"})
	l := s.Limits
	for _, lim := range []struct {
		key string
		n   int64
	}{
		{"max_message_size", int64(l.MaxMessageSize)},
		{"max_metadata_size", int64(l.MaxMetadataSize)},
		{"max_concurrent_streams", int64(l.MaxConcurrentStreams)},
		{"max_connections", int64(l.MaxConnections)},
	} {
		if lim.n <= 0 {
			v.errorf("server.limits."+lim.key, nil, "must be positive, got %d", lim.n)
		}
	}
}

func (v *validator) oneOf(path, what, got string, known []string) {
	if !slices.Contains(known, got) {
		v.errorf(path, nil, "unknown %s %q (known: %s)", what, got, strings.Join(known, ", "))
	}
}

func (v *validator) pubsub() {
	ps := v.c.PubSub
	if ps.MaxSubscriptions <= 0 {
		v.errorf("pubsub.max_subscriptions", nil, "must be positive, got %d", ps.MaxSubscriptions)
	}
	if ps.SubscriberQueue <= 0 || ps.SubscriberQueue > pubsub.MaxQueueSize {
		v.errorf("pubsub.subscriber_queue", nil, "must be in 1..%d, got %d", pubsub.MaxQueueSize, ps.SubscriberQueue)
	}
	v.oneOf("pubsub.slow_consumer", "slow consumer policy", ps.SlowConsumer, []string{"drop", "disconnect"})
	if n := ps.NATS; n != nil {
		if n.URL == "" {
			v.errorf("pubsub.nats.url", nil, "is required")
		}
		if strings.ContainsAny(n.SubjectPrefix, "*> \t") || strings.HasPrefix(n.SubjectPrefix, ".") || strings.HasSuffix(n.SubjectPrefix, ".") || strings.Contains(n.SubjectPrefix, "..") {
			v.errorf("pubsub.nats.subject_prefix", nil, "%q is not a NATS subject without wildcards", n.SubjectPrefix)
		}
	}
}

func (v *validator) listeners() {
	ls := v.c.Listeners
	seen := map[string]string{}
	for _, l := range []struct {
		key string
		l   *Listener
	}{{"mcp", ls.MCP}, {"grpc", ls.GRPC}, {"http", ls.HTTP}, {"admin", ls.Admin}} {
		if l.l == nil {
			continue
		}
		p := "listeners." + l.key + ".addr"
		if l.l.Addr == "" {
			v.errorf(p, nil, "missing addr")
			continue
		}
		port, err := hostPort(l.l.Addr, false)
		if err != nil {
			v.errorf(p, nil, "%v", err)
			continue
		}
		if other, dup := seen[l.l.Addr]; dup && port != 0 {
			v.errorf(p, nil, "address %q already used by %s", l.l.Addr, other)
		}
		seen[l.l.Addr] = "listeners." + l.key
		if t := l.l.TLS; t != nil {
			tp := "listeners." + l.key + ".tls"
			if _, err := t.TLSConfig(); err != nil {
				v.errorf(tp, err, "%v", err)
			}
		}
	}
	if ls.MCP == nil && ls.GRPC == nil && ls.HTTP == nil {
		v.errorf("listeners", nil, "no front door: configure at least one of mcp, grpc, http")
	}
}

// hostPort checks "host:port" and returns the port.
func hostPort(addr string, needHost bool) (int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("bad address %q: want host:port", addr)
	}
	if needHost && host == "" {
		return 0, fmt.Errorf("bad address %q: missing host", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("bad address %q: port must be a number 0-65535", addr)
	}
	if needHost && n == 0 {
		return 0, fmt.Errorf("bad address %q: port must be 1-65535", addr)
	}
	return n, nil
}

// upstreamName is what an upstream's name looks like.
var upstreamName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// maxEndpointWeight bounds an endpoint's weight.
const maxEndpointWeight = 1_000_000

func (v *validator) upstreams() {
	seen := map[string]string{}
	for i := range v.c.Upstreams {
		u := &v.c.Upstreams[i]
		p := named("upstreams", u.Name)
		switch first, dup := seen[u.Name]; {
		case u.Name == "":
			v.errorf(index("upstreams", i), nil, "empty upstream name")
			continue
		case dup:
			v.errorf(p, nil, "duplicate upstream name %q (%s)", u.Name, v.c.firstAt(first))
			continue
		case !upstreamName.MatchString(u.Name):
			v.errorf(p, nil, "bad upstream name %q: only letters, digits, '.', '_' and '-'", u.Name)
		}
		seen[u.Name] = p
		v.oneOf(child(p, "protocol"), "protocol", u.Protocol, protocols)
		v.oneOf(child(p, "balancer"), "balancer", u.Balancer, balancers)
		switch {
		case len(u.Endpoints) > 0 && u.DNS != nil:
			v.errorf(child(p, "dns"), nil, "set endpoints or dns, not both")
		case len(u.Endpoints) == 0 && u.DNS == nil:
			if !v.broken[child(p, "endpoints")] && !v.broken[child(p, "dns")] {
				v.errorf(p, nil, "no endpoints: set endpoints or dns")
			}
		}
		addrs := map[string]string{}
		for j, e := range u.Endpoints {
			ep := index(child(p, "endpoints"), j)
			if e.Addr == "" {
				v.errorf(child(ep, "addr"), nil, "missing addr")
			} else if _, err := hostPort(e.Addr, true); err != nil {
				v.errorf(child(ep, "addr"), nil, "%v", err)
			} else if first, dup := addrs[e.Addr]; dup {
				v.errorf(child(ep, "addr"), nil, "endpoint %q twice (%s)", e.Addr, v.c.firstAt(first))
			} else {
				addrs[e.Addr] = child(ep, "addr")
			}
			if e.Weight <= 0 || e.Weight > maxEndpointWeight {
				v.errorf(child(ep, "weight"), nil, "must be 1-%d, got %d", maxEndpointWeight, e.Weight)
			}
		}
		if d := u.DNS; d != nil {
			dp := child(p, "dns")
			if d.Name == "" {
				v.errorf(child(dp, "name"), nil, "missing name")
			} else if _, err := hostPort(d.Name, true); err != nil {
				v.errorf(child(dp, "name"), nil, "%v", err)
			}
			if d.Refresh <= 0 {
				v.errorf(child(dp, "refresh"), nil, "must be positive, got %s", d.Refresh)
			}
		}
		if hc := u.HealthCheck; hc != nil {
			hp := child(p, "health_check")
			if hc.Interval <= 0 {
				v.errorf(child(hp, "interval"), nil, "must be positive, got %s", hc.Interval)
			}
			if hc.Timeout <= 0 {
				v.errorf(child(hp, "timeout"), nil, "must be positive, got %s", hc.Timeout)
			} else if hc.Interval > 0 && hc.Timeout > hc.Interval {
				v.errorf(child(hp, "timeout"), nil, "%s is longer than the interval %s", hc.Timeout, hc.Interval)
			}
			if hc.UnhealthyThreshold < 1 {
				v.errorf(child(hp, "unhealthy_threshold"), nil, "must be at least 1, got %d", hc.UnhealthyThreshold)
			}
			if hc.HealthyThreshold < 1 {
				v.errorf(child(hp, "healthy_threshold"), nil, "must be at least 1, got %d", hc.HealthyThreshold)
			}
		}
		pp := child(p, "passive")
		if u.Passive.ConsecutiveFailures < 0 {
			v.errorf(child(pp, "consecutive_failures"), nil, "must not be negative (0 turns ejection off), got %d", u.Passive.ConsecutiveFailures)
		}
		if u.Passive.ConsecutiveFailures > 0 && u.Passive.EjectionTime <= 0 {
			v.errorf(child(pp, "ejection_time"), nil, "must be positive, got %s", u.Passive.EjectionTime)
		}
		if t := u.TLS; t != nil {
			if _, err := t.TLSConfig(); err != nil {
				v.errorf(child(p, "tls"), err, "%v", err)
			}
		}
		if ds := u.Descriptors; ds != nil {
			dp := child(p, "descriptors")
			if !ds.Reflection && ds.File == "" {
				v.errorf(dp, nil, "no source: set reflection: true or a file")
			}
			if ds.Refresh < 0 {
				v.errorf(child(dp, "refresh"), nil, "must not be negative (0s refreshes on reload only), got %s", ds.Refresh)
			}
		}
	}
}

func (v *validator) routes(reg *Registry) []builtRoute {
	var built []builtRoute
	if reg != nil {
		built = make([]builtRoute, len(v.c.Routes))
	}
	ids := map[string]string{}
	var upstreams []string
	for _, u := range v.c.Upstreams {
		upstreams = append(upstreams, u.Name)
	}
	for i := range v.c.Routes {
		r := &v.c.Routes[i]
		p := index("routes", i)
		switch first, dup := ids[r.ID]; {
		case r.ID == "":
			v.errorf(child(p, "id"), nil, "missing id")
		case dup:
			v.errorf(child(p, "id"), nil, "duplicate route id %q (%s)", r.ID, v.c.firstAt(first))
		default:
			ids[r.ID] = child(p, "id")
		}
		switch name := r.Upstream(); {
		case r.URI == "":
			v.errorf(child(p, "uri"), nil, "missing uri")
		case name == "":
			v.errorf(child(p, "uri"), nil, "unsupported uri %q: want lb://<upstream>", r.URI)
		case !slices.Contains(upstreams, name):
			known := "none"
			if len(upstreams) > 0 {
				known = strings.Join(upstreams, ", ")
			}
			v.errorf(child(p, "uri"), nil, "unknown upstream %q (known: %s)", name, known)
		}
		if reg == nil {
			continue
		}
		b := &built[i]
		weighted := false
		for j, s := range r.Predicates {
			sp := index(child(p, "predicates"), j)
			pred, name, err := reg.predicate(s)
			b.preds = append(b.preds, pred)
			b.predNames = append(b.predNames, name)
			if err != nil {
				v.errorf(sp, err, "%v", err)
				continue
			}
			if _, ok := pred.(gateway.Weighted); ok {
				if weighted {
					v.errorf(sp, nil, "%s: a route takes one weight predicate", name)
				}
				weighted = true
			}
		}
		for j, s := range r.Filters {
			sp := index(child(p, "filters"), j)
			f, name, err := reg.filter(s)
			b.filters = append(b.filters, f)
			b.filterNames = append(b.filterNames, name)
			if err != nil {
				v.errorf(sp, err, "%v", err)
			}
		}
	}
	return built
}
