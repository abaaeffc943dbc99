package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mcpbridge/mcpbridge/gateway"
	"gopkg.in/yaml.v3"
)

// decoder walks the YAML node tree into a Config, reporting every problem of
// form: syntax, unknown and duplicate keys, wrong kinds, bad scalars. It
// records where each key path is (for Validate's messages) and which paths
// were broken (so Validate does not report a consequence twice).
type decoder struct {
	file   string
	errs   Errors
	pos    map[string]position
	broken map[string]bool
}

type pair struct{ key, val *yaml.Node }

// maxAliasDepth bounds alias and merge-key chains.
const maxAliasDepth = 32

func decode(file string, data []byte) (*Config, *decoder) {
	d := &decoder{file: file, pos: map[string]position{}, broken: map[string]bool{}}
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return c, d
	case err != nil:
		d.syntax(err)
		return nil, d
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(&extra, "", "more than one YAML document: a configuration is one")
		return nil, d
	} else if !errors.Is(err, io.EOF) {
		d.syntax(err)
		return nil, d
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	if root = resolve(root); isNull(root) {
		return c, d
	}
	d.pos[""] = position{root.Line, root.Column}
	d.fields(root, "", map[string]func(*yaml.Node, string){
		"server": func(n *yaml.Node, p string) { d.server(n, p, &c.Server) },
		"listeners": func(n *yaml.Node, p string) {
			c.Listeners = Listeners{}
			d.listeners(n, p, &c.Listeners)
		},
		"pubsub":    func(n *yaml.Node, p string) { d.pubsub(n, p, &c.PubSub) },
		"upstreams": func(n *yaml.Node, p string) { c.Upstreams = d.upstreams(n, p) },
		"routes":    func(n *yaml.Node, p string) { c.Routes = d.routes(n, p) },
		// Extension keys hold YAML anchors for use elsewhere; ignored.
		"x-*": func(*yaml.Node, string) {},
	})
	return c, d
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntax turns a yaml.v3 parse error into Errors, with its line if it says one.
func (d *decoder) syntax(err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, m := range te.Errors {
			d.syntax(errors.New(m))
		}
		return
	}
	e := &Error{File: d.file, Msg: err.Error(), Err: err}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		// yaml.v3 reports the line where the enclosing block starts, or
		// where the problem is: the problem is at or after it.
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "YAML syntax error at or after this line: " + m[2]
	}
	d.errs = append(d.errs, e)
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
	d.broken[path] = true
}

func (d *decoder) mark(n *yaml.Node, path string) {
	d.pos[path] = position{n.Line, n.Column}
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasDepth; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func describe(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.AliasNode:
		return "an alias"
	default:
		return strconv.Quote(n.Value)
	}
}

// pairs returns a mapping's entries, merge keys (<<) expanded: explicit keys
// win over merged ones.
func (d *decoder) pairs(n *yaml.Node, path string) ([]pair, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", describe(n))
		return nil, false
	}
	return d.mappingPairs(n, path, 0), true
}

func (d *decoder) mappingPairs(n *yaml.Node, path string, depth int) []pair {
	var out, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.merge(v, path, depth+1)...)
			continue
		}
		out = append(out, pair{k, v})
	}
	for _, m := range merged {
		if !slices.ContainsFunc(out, func(p pair) bool { return p.key.Value == m.key.Value }) {
			out = append(out, m)
		}
	}
	return out
}

func (d *decoder) merge(v *yaml.Node, path string, depth int) []pair {
	if depth > maxAliasDepth {
		d.errorf(v, path, "merge keys nested too deep")
		return nil
	}
	switch r := resolve(v); {
	case r != nil && r.Kind == yaml.MappingNode:
		return d.mappingPairs(r, path, depth)
	case r != nil && r.Kind == yaml.SequenceNode:
		var out []pair
		for _, item := range r.Content {
			for _, p := range d.merge(item, path, depth+1) {
				if !slices.ContainsFunc(out, func(q pair) bool { return q.key.Value == p.key.Value }) {
					out = append(out, p)
				}
			}
		}
		return out
	default:
		d.errorf(v, path, "a merge key (<<) takes a mapping or a list of mappings, got %s", describe(r))
		return nil
	}
}

// fields walks a mapping with a fixed set of keys: an unknown or repeated
// key is an error at the key; each known key's value goes to its function
// with its key path. A known key "x-*" stands for every key starting "x-".
func (d *decoder) fields(n *yaml.Node, path string, known map[string]func(*yaml.Node, string)) {
	ps, ok := d.pairs(n, path)
	if !ok {
		return
	}
	seen := map[string]*yaml.Node{}
	for _, pr := range ps {
		k := resolve(pr.key)
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, child(path, "?"), "want a key, got %s", describe(k))
			continue
		}
		p := child(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, p, "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		fn, ok := lookupField(known, k.Value)
		if !ok {
			d.errorf(k, p, "unknown key %q (known: %s)", k.Value, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
			continue
		}
		d.mark(resolve(pr.val), p)
		fn(pr.val, p)
	}
}

func lookupField(known map[string]func(*yaml.Node, string), key string) (func(*yaml.Node, string), bool) {
	if fn, ok := known[key]; ok {
		return fn, true
	}
	if strings.HasPrefix(key, "x-") {
		fn, ok := known["x-*"]
		return fn, ok
	}
	return nil, false
}

// scalar returns a non-null scalar, or reports what it got instead.
func (d *decoder) scalar(n *yaml.Node, path, want string) (*yaml.Node, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, path, "want %s, got %s", want, describe(n))
		return nil, false
	}
	return n, true
}

func (d *decoder) str(n *yaml.Node, path string, dst *string) {
	if s, ok := d.scalar(n, path, "a string"); ok {
		*dst = s.Value
	}
}

func (d *decoder) integer(n *yaml.Node, path string, dst *int) {
	s, ok := d.scalar(n, path, "an integer")
	if !ok {
		return
	}
	var v int
	if s.ShortTag() != "!!int" || s.Decode(&v) != nil {
		d.errorf(s, path, "want an integer, got %s", describe(s))
		return
	}
	*dst = v
}

func (d *decoder) duration(n *yaml.Node, path string, dst *Duration) {
	s, ok := d.scalar(n, path, "a duration")
	if !ok {
		return
	}
	v, err := parseDuration(s.Value)
	if err != nil {
		d.errorf(s, path, "%v", err)
		return
	}
	*dst = v
}

func (d *decoder) size(n *yaml.Node, path string, dst *Size) {
	s, ok := d.scalar(n, path, "a size")
	if !ok {
		return
	}
	v, err := parseSize(s.Value)
	if err != nil {
		d.errorf(s, path, "%v", err)
		return
	}
	*dst = v
}

// list returns a sequence's items.
func (d *decoder) list(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "want a list, got %s", describe(n))
		return nil, false
	}
	return n.Content, true
}

func (d *decoder) server(n *yaml.Node, path string, s *Server) {
	d.fields(n, path, map[string]func(*yaml.Node, string){
		"shutdown_grace": func(n *yaml.Node, p string) { d.duration(n, p, &s.ShutdownGrace) },
		"watch_interval": func(n *yaml.Node, p string) { d.duration(n, p, &s.WatchInterval) },
		"readiness":      func(n *yaml.Node, p string) { d.str(n, p, &s.Readiness) },
		"log": func(n *yaml.Node, p string) {
			d.fields(n, p, map[string]func(*yaml.Node, string){
				"format": func(n *yaml.Node, p string) { d.str(n, p, &s.Log.Format) },
				"level":  func(n *yaml.Node, p string) { d.str(n, p, &s.Log.Level) },
			})
		},
		"limits": func(n *yaml.Node, p string) {
			l := &s.Limits
			d.fields(n, p, map[string]func(*yaml.Node, string){
				"max_message_size":       func(n *yaml.Node, p string) { d.size(n, p, &l.MaxMessageSize) },
				"max_metadata_size":      func(n *yaml.Node, p string) { d.size(n, p, &l.MaxMetadataSize) },
				"max_concurrent_streams": func(n *yaml.Node, p string) { d.integer(n, p, &l.MaxConcurrentStreams) },
				"max_connections":        func(n *yaml.Node, p string) { d.integer(n, p, &l.MaxConnections) },
			})
		},
		"http": func(n *yaml.Node, p string) {
			h := &s.HTTP
			d.fields(n, p, map[string]func(*yaml.Node, string){
				"max_body_size":   func(n *yaml.Node, p string) { d.size(n, p, &h.MaxBodySize) },
				"forward_headers": func(n *yaml.Node, p string) { h.ForwardHeaders = d.stringList(n, p) },
				"cors": func(n *yaml.Node, p string) {
					c := &CORS{MaxAge: Duration(DefaultCORSMaxAge)}
					d.fields(n, p, map[string]func(*yaml.Node, string){
						"allowed_origins":   func(n *yaml.Node, p string) { c.AllowedOrigins = d.stringList(n, p) },
						"allowed_methods":   func(n *yaml.Node, p string) { c.AllowedMethods = d.stringList(n, p) },
						"allowed_headers":   func(n *yaml.Node, p string) { c.AllowedHeaders = d.stringList(n, p) },
						"exposed_headers":   func(n *yaml.Node, p string) { c.ExposedHeaders = d.stringList(n, p) },
						"allow_credentials": func(n *yaml.Node, p string) { d.boolean(n, p, &c.AllowCredentials) },
						"max_age":           func(n *yaml.Node, p string) { d.duration(n, p, &c.MaxAge) },
					})
					h.CORS = c
				},
			})
		},
		"json": func(n *yaml.Node, p string) {
			j := &s.JSON
			d.fields(n, p, map[string]func(*yaml.Node, string){
				"use_proto_names": func(n *yaml.Node, p string) { d.boolean(n, p, &j.UseProtoNames) },
				"emit_defaults":   func(n *yaml.Node, p string) { d.boolean(n, p, &j.EmitDefaults) },
				"unknown_fields":  func(n *yaml.Node, p string) { d.str(n, p, &j.UnknownFields) },
			})
		},
	})
}

func (d *decoder) boolean(n *yaml.Node, path string, dst *bool) {
	s, ok := d.scalar(n, path, "true or false")
	if !ok {
		return
	}
	var v bool
	if s.ShortTag() != "!!bool" || s.Decode(&v) != nil {
		d.errorf(s, path, "want true or false, got %s", describe(s))
		return
	}
	*dst = v
}

// stringList decodes a list of strings.
func (d *decoder) stringList(n *yaml.Node, path string) []string {
	items, ok := d.list(n, path)
	if !ok {
		return nil
	}
	out := []string{}
	for i, item := range items {
		ip := index(path, i)
		d.mark(resolve(item), ip)
		var s string
		d.str(item, ip, &s)
		out = append(out, s)
	}
	return out
}

func (d *decoder) listeners(n *yaml.Node, path string, ls *Listeners) {
	one := func(dst **Listener) func(*yaml.Node, string) {
		return func(n *yaml.Node, p string) {
			l := &Listener{}
			if r := resolve(n); r != nil && r.Kind == yaml.ScalarNode && !isNull(r) {
				l.Addr = r.Value // shorthand: mcp: "127.0.0.1:7070"
			} else {
				d.fields(n, p, map[string]func(*yaml.Node, string){
					"addr": func(n *yaml.Node, p string) { d.str(n, p, &l.Addr) },
					"tls": func(n *yaml.Node, p string) {
						t := &ServerTLS{}
						d.fields(n, p, map[string]func(*yaml.Node, string){
							"cert_file":      func(n *yaml.Node, p string) { d.str(n, p, &t.CertFile) },
							"key_file":       func(n *yaml.Node, p string) { d.str(n, p, &t.KeyFile) },
							"client_ca_file": func(n *yaml.Node, p string) { d.str(n, p, &t.ClientCAFile) },
						})
						l.TLS = t
					},
				})
			}
			*dst = l
		}
	}
	d.fields(n, path, map[string]func(*yaml.Node, string){
		"mcp":   one(&ls.MCP),
		"grpc":  one(&ls.GRPC),
		"http":  one(&ls.HTTP),
		"admin": one(&ls.Admin),
	})
}

func (d *decoder) pubsub(n *yaml.Node, path string, ps *PubSub) {
	d.fields(n, path, map[string]func(*yaml.Node, string){
		"nats": func(n *yaml.Node, p string) {
			nc := &NATS{SubjectPrefix: DefaultNATSSubjectPrefix}
			if r := resolve(n); r != nil && r.Kind == yaml.ScalarNode && !isNull(r) {
				nc.URL = r.Value // shorthand: nats: "nats://127.0.0.1:4222"
			} else {
				d.fields(n, p, map[string]func(*yaml.Node, string){
					"url":            func(n *yaml.Node, p string) { d.str(n, p, &nc.URL) },
					"subject_prefix": func(n *yaml.Node, p string) { d.str(n, p, &nc.SubjectPrefix) },
				})
			}
			ps.NATS = nc
		},
		"max_subscriptions": func(n *yaml.Node, p string) { d.integer(n, p, &ps.MaxSubscriptions) },
		"subscriber_queue":  func(n *yaml.Node, p string) { d.integer(n, p, &ps.SubscriberQueue) },
		"slow_consumer":     func(n *yaml.Node, p string) { d.str(n, p, &ps.SlowConsumer) },
	})
}

func (d *decoder) upstreams(n *yaml.Node, path string) []Upstream {
	ups := []Upstream{}
	ps, ok := d.pairs(n, path)
	if !ok {
		return ups
	}
	seen := map[string]*yaml.Node{}
	for _, pr := range ps {
		k := resolve(pr.key)
		if k.Kind != yaml.ScalarNode || isNull(k) || k.Value == "" {
			d.errorf(k, named(path, ""), "empty upstream name")
			continue
		}
		name := k.Value
		p := named(path, name)
		if first, dup := seen[name]; dup {
			d.errorf(k, p, "duplicate upstream name %q (first at line %d)", name, first.Line)
			continue
		}
		seen[name] = k
		d.mark(k, p)
		ups = append(ups, d.upstream(pr.val, p, name))
	}
	return ups
}

func (d *decoder) upstream(n *yaml.Node, path, name string) Upstream {
	u := defaultUpstream(name)
	d.fields(n, path, map[string]func(*yaml.Node, string){
		"endpoints": func(n *yaml.Node, p string) {
			items, ok := d.list(n, p)
			if !ok {
				return
			}
			u.Endpoints = []Endpoint{}
			for i, item := range items {
				ip := index(p, i)
				d.mark(resolve(item), ip)
				e := Endpoint{Weight: DefaultEndpointWeight}
				if r := resolve(item); r != nil && r.Kind == yaml.ScalarNode && !isNull(r) {
					e.Addr = r.Value // shorthand: - "127.0.0.1:50051"
				} else {
					d.fields(item, ip, map[string]func(*yaml.Node, string){
						"addr":   func(n *yaml.Node, p string) { d.str(n, p, &e.Addr) },
						"weight": func(n *yaml.Node, p string) { d.integer(n, p, &e.Weight) },
					})
				}
				u.Endpoints = append(u.Endpoints, e)
			}
		},
		"dns": func(n *yaml.Node, p string) {
			dns := &DNS{Refresh: Duration(DefaultDNSRefresh)}
			if r := resolve(n); r != nil && r.Kind == yaml.ScalarNode && !isNull(r) {
				dns.Name = r.Value // shorthand: dns: "users.internal:50051"
			} else {
				d.fields(n, p, map[string]func(*yaml.Node, string){
					"name":    func(n *yaml.Node, p string) { d.str(n, p, &dns.Name) },
					"refresh": func(n *yaml.Node, p string) { d.duration(n, p, &dns.Refresh) },
				})
			}
			u.DNS = dns
		},
		"protocol": func(n *yaml.Node, p string) { d.str(n, p, &u.Protocol) },
		"balancer": func(n *yaml.Node, p string) { d.str(n, p, &u.Balancer) },
		"health_check": func(n *yaml.Node, p string) {
			hc := defaultHealthCheck()
			d.fields(n, p, map[string]func(*yaml.Node, string){
				"interval":            func(n *yaml.Node, p string) { d.duration(n, p, &hc.Interval) },
				"timeout":             func(n *yaml.Node, p string) { d.duration(n, p, &hc.Timeout) },
				"unhealthy_threshold": func(n *yaml.Node, p string) { d.integer(n, p, &hc.UnhealthyThreshold) },
				"healthy_threshold":   func(n *yaml.Node, p string) { d.integer(n, p, &hc.HealthyThreshold) },
			})
			u.HealthCheck = &hc
		},
		"passive": func(n *yaml.Node, p string) {
			d.fields(n, p, map[string]func(*yaml.Node, string){
				"consecutive_failures": func(n *yaml.Node, p string) { d.integer(n, p, &u.Passive.ConsecutiveFailures) },
				"ejection_time":        func(n *yaml.Node, p string) { d.duration(n, p, &u.Passive.EjectionTime) },
			})
		},
		"descriptors": func(n *yaml.Node, p string) {
			ds := &Descriptors{Reflection: true}
			d.fields(n, p, map[string]func(*yaml.Node, string){
				"reflection": func(n *yaml.Node, p string) { d.boolean(n, p, &ds.Reflection) },
				"file":       func(n *yaml.Node, p string) { d.str(n, p, &ds.File) },
				"refresh":    func(n *yaml.Node, p string) { d.duration(n, p, &ds.Refresh) },
			})
			u.Descriptors = ds
		},
		"tls": func(n *yaml.Node, p string) {
			t := &ClientTLS{}
			d.fields(n, p, map[string]func(*yaml.Node, string){
				"ca_file":              func(n *yaml.Node, p string) { d.str(n, p, &t.CAFile) },
				"cert_file":            func(n *yaml.Node, p string) { d.str(n, p, &t.CertFile) },
				"key_file":             func(n *yaml.Node, p string) { d.str(n, p, &t.KeyFile) },
				"server_name":          func(n *yaml.Node, p string) { d.str(n, p, &t.ServerName) },
				"insecure_skip_verify": func(n *yaml.Node, p string) { d.boolean(n, p, &t.InsecureSkipVerify) },
			})
			u.TLS = t
		},
	})
	return u
}

func (d *decoder) routes(n *yaml.Node, path string) []Route {
	rs := []Route{}
	items, ok := d.list(n, path)
	if !ok {
		return rs
	}
	for i, item := range items {
		p := index(path, i)
		d.mark(resolve(item), p)
		r := Route{Predicates: []Spec{}, Filters: []Spec{}}
		d.fields(item, p, map[string]func(*yaml.Node, string){
			"id":         func(n *yaml.Node, p string) { d.str(n, p, &r.ID) },
			"uri":        func(n *yaml.Node, p string) { d.str(n, p, &r.URI) },
			"predicates": func(n *yaml.Node, p string) { r.Predicates = d.specs(n, p, "predicate") },
			"filters":    func(n *yaml.Node, p string) { r.Filters = d.specs(n, p, "filter") },
		})
		rs = append(rs, r)
	}
	return rs
}

// specName is what a predicate or filter name looks like.
var specName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

func (d *decoder) specs(n *yaml.Node, path, kind string) []Spec {
	out := []Spec{}
	items, ok := d.list(n, path)
	if !ok {
		return out
	}
	for i, item := range items {
		p := index(path, i)
		item = resolve(item)
		d.mark(item, p)
		if s, ok := d.spec(item, p, kind); ok {
			out = append(out, s)
		}
	}
	return out
}

func (d *decoder) spec(n *yaml.Node, path, kind string) (Spec, bool) {
	forms := "want Name=args, {name: Name, args: ...} or {Name: args}"
	switch {
	case n != nil && n.Kind == yaml.ScalarNode && !isNull(n):
		name, raw, _ := strings.Cut(n.Value, "=")
		name = strings.TrimSpace(name)
		if !specName.MatchString(name) {
			d.errorf(n, path, "bad %s %q: %s", kind, n.Value, forms)
			return Spec{}, false
		}
		return Spec{Name: name, Args: gateway.ShorthandArgs(raw)}, true
	case n != nil && n.Kind == yaml.MappingNode:
		ps := d.mappingPairs(n, path, 0)
		if slices.ContainsFunc(ps, func(p pair) bool { return resolve(p.key).Value == "name" }) {
			var s Spec
			nameOK, argsOK := true, true
			d.fields(n, path, map[string]func(*yaml.Node, string){
				"name": func(n *yaml.Node, p string) {
					d.str(n, p, &s.Name)
					if s.Name != "" && !specName.MatchString(s.Name) {
						d.errorf(resolve(n), p, "bad %s name %q", kind, s.Name)
						nameOK = false
					}
				},
				"args": func(n *yaml.Node, p string) { s.Args, argsOK = d.args(n, p) },
			})
			return s, nameOK && argsOK && s.Name != ""
		}
		if len(ps) != 1 {
			d.errorf(n, path, "%s with %d keys and no \"name\": %s", kind, len(ps), forms)
			return Spec{}, false
		}
		k := resolve(ps[0].key)
		if k.Kind != yaml.ScalarNode || !specName.MatchString(k.Value) {
			d.errorf(k, path, "bad %s name %s: %s", kind, describe(k), forms)
			return Spec{}, false
		}
		args, ok := d.args(ps[0].val, path)
		return Spec{Name: k.Value, Args: args}, ok
	default:
		d.errorf(n, path, "want a %s, got %s: %s", kind, describe(n), forms)
		return Spec{}, false
	}
}

// args reads a predicate's or filter's arguments: a string (the shorthand),
// a list (positional) or a mapping (named: each a string or a list).
func (d *decoder) args(n *yaml.Node, path string) (gateway.Args, bool) {
	n = resolve(n)
	switch {
	case isNull(n):
		return gateway.Args{}, true
	case n.Kind == yaml.ScalarNode:
		return gateway.ShorthandArgs(n.Value), true
	case n.Kind == yaml.SequenceNode:
		items, ok := d.strings(n, path)
		return gateway.PositionalArgs(items...), ok
	case n.Kind == yaml.MappingNode:
		named := map[string][]string{}
		ok := true
		seen := map[string]*yaml.Node{}
		for _, p := range d.mappingPairs(n, path, 0) {
			k := resolve(p.key)
			kp := child(path, k.Value)
			if first, dup := seen[k.Value]; dup {
				d.errorf(k, kp, "duplicate key %q (first at line %d)", k.Value, first.Line)
				ok = false
				continue
			}
			seen[k.Value] = k
			v := resolve(p.val)
			if v != nil && v.Kind == yaml.ScalarNode && !isNull(v) {
				named[k.Value] = []string{v.Value}
				continue
			}
			if v == nil || v.Kind != yaml.SequenceNode {
				d.errorf(v, kp, "want a string or a list of strings, got %s", describe(v))
				ok = false
				continue
			}
			items, iok := d.strings(v, kp)
			named[k.Value] = items
			ok = ok && iok
		}
		return gateway.NamedArgs(named), ok
	default:
		d.errorf(n, path, "want arguments, got %s", describe(n))
		return gateway.Args{}, false
	}
}

func (d *decoder) strings(n *yaml.Node, path string) ([]string, bool) {
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, item := range n.Content {
		s, sok := d.scalar(item, index(path, i), "a string")
		if !sok {
			ok = false
			continue
		}
		out = append(out, s.Value)
	}
	return out, ok
}
