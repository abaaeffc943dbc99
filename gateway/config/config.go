package config

import (
	"github.com/mcpbridge/mcpbridge/gateway/cors"
	"strings"
	"time"
)

// Defaults of the configuration; each field's doc repeats its own.
const (
	DefaultShutdownGrace        = 30 * time.Second
	DefaultWatchInterval        = 2 * time.Second
	DefaultReadiness            = "upstreams"
	DefaultLogFormat            = "text"
	DefaultLogLevel             = "info"
	DefaultMaxMessageSize       = 4 << 20
	DefaultMaxMetadataSize      = 16 << 10
	DefaultMaxConcurrentStreams = 1024
	DefaultMaxConnections       = 10_000
	DefaultMCPAddr              = "127.0.0.1:7070"
	DefaultGRPCAddr             = "127.0.0.1:9090"
	DefaultAdminAddr            = "127.0.0.1:9901"
	DefaultProtocol             = "grpc"
	DefaultBalancer             = "round_robin"
	DefaultEndpointWeight       = 1
	DefaultDNSRefresh           = 30 * time.Second
	DefaultHealthInterval       = 5 * time.Second
	DefaultHealthTimeout        = 1 * time.Second
	DefaultUnhealthyThreshold   = 3
	DefaultHealthyThreshold     = 1
	DefaultConsecutiveFailures  = 5
	DefaultEjectionTime         = 30 * time.Second
	DefaultMaxSubscriptions     = 100_000
	DefaultSubscriberQueue      = 1024
	DefaultSlowConsumer         = "drop"
	DefaultNATSSubjectPrefix    = "mcpbridge"
	DefaultHTTPMaxBodySize      = 4 << 20
	DefaultUnknownFields        = "reject"
)

// DefaultForwardHeaders is the default of server.http.forward_headers.
var DefaultForwardHeaders = []string{"authorization", "x-*", "traceparent", "tracestate"}

// protocols an upstream may speak, and balancers it may use.
var (
	protocols = []string{"grpc", "mcp"}
	balancers = []string{"round_robin", "weighted_round_robin", "least_request", "random"}
)

// Config is the gateway's whole configuration. Server and Listeners are
// static: the gateway reads them at start and a change needs a restart.
// Upstreams and Routes are dynamic: a reload compiles them into a new route
// table and swaps it in.
type Config struct {
	// Server holds process-wide settings. Static.
	Server Server `json:"server"`
	// Listeners are the front doors and the admin endpoint. Static.
	Listeners Listeners `json:"listeners"`
	// PubSub configures the publish/subscribe bus every front door shares.
	// Static.
	PubSub PubSub `json:"pubsub"`
	// Upstreams are the named backends routes send calls to, in file order.
	// Dynamic.
	Upstreams []Upstream `json:"upstreams"`
	// Routes are tried in order; the first whose predicates all match serves
	// the call. Dynamic.
	Routes []Route `json:"routes"`

	file   string              // the name given to Parse
	digest string              // sha256 of the parsed bytes, hex
	pos    map[string]position // key path → where it is in the file
}

// Server holds the process-wide settings. Static.
type Server struct {
	// ShutdownGrace is how long a shutdown waits for calls in flight before
	// closing connections. Default 30s.
	ShutdownGrace Duration `json:"shutdown_grace"`
	// WatchInterval is how often the config file is polled for changes; 0s
	// turns watching off (a reload signal still reloads). Default 2s.
	WatchInterval Duration `json:"watch_interval"`
	// Readiness is when /readyz says ready: "upstreams" once the listeners
	// are up and every upstream has a healthy endpoint; "listening" once
	// the listeners are up. Default "upstreams".
	Readiness string `json:"readiness"`
	// Log configures the daemon's log.
	Log Log `json:"log"`
	// Limits bound what one peer can make the gateway hold.
	Limits Limits `json:"limits"`
	// HTTP configures the HTTP/JSON front door (listeners.http).
	HTTP HTTP `json:"http"`
	// JSON configures JSON transcoding, on the HTTP front door and for MCP
	// and gRPC calls whose content type is application/json.
	JSON JSON `json:"json"`
}

// HTTP configures the HTTP/JSON front door. Static.
type HTTP struct {
	// MaxBodySize bounds a request body, and each line of an NDJSON
	// (client-streaming) body; more answers 413. Default 4MiB.
	MaxBodySize Size `json:"max_body_size"`
	// ForwardHeaders lists the request headers forwarded upstream as
	// metadata: names (case-insensitive) or prefixes ending in "*".
	// Default [authorization, "x-*", traceparent, tracestate]; [] forwards
	// none. Headers a route's filters add are always forwarded.
	ForwardHeaders []string `json:"forward_headers"`
	// CORS lets browser pages on other origins call the HTTP front door.
	// Nil, the default: no CORS headers, and preflights are routed like any
	// request.
	CORS *CORS `json:"cors,omitempty"`
}

// CORS is cross-origin resource sharing for the HTTP front door.
type CORS struct {
	// AllowedOrigins: exact origins ("https://app.example.com"), one
	// leading wildcard label ("https://*.example.com"), or "*". Required.
	AllowedOrigins []string `json:"allowed_origins"`
	// AllowedMethods a preflight may ask for. Default GET, HEAD, POST, PUT,
	// PATCH, DELETE.
	AllowedMethods []string `json:"allowed_methods,omitempty"`
	// AllowedHeaders a preflight may ask for. Default: any it asks for.
	AllowedHeaders []string `json:"allowed_headers,omitempty"`
	// ExposedHeaders a page may read from an answer.
	ExposedHeaders []string `json:"exposed_headers,omitempty"`
	// AllowCredentials lets pages send cookies and HTTP authentication; not
	// with the origin "*". Default false.
	AllowCredentials bool `json:"allow_credentials"`
	// MaxAge is how long a browser may cache a preflight's answer. Default
	// 10m.
	MaxAge Duration `json:"max_age"`
}

// Policy is c as the HTTP front door takes it.
func (c *CORS) Policy() cors.Config {
	return cors.Config{
		AllowedOrigins:   c.AllowedOrigins,
		AllowedMethods:   c.AllowedMethods,
		AllowedHeaders:   c.AllowedHeaders,
		ExposedHeaders:   c.ExposedHeaders,
		AllowCredentials: c.AllowCredentials,
		MaxAge:           c.MaxAge.Std(),
	}
}

// DefaultCORSMaxAge is CORS.MaxAge's default.
const DefaultCORSMaxAge = 10 * time.Minute

// JSON configures JSON transcoding. Static.
type JSON struct {
	// UseProtoNames writes fields by their proto names (user_id) rather
	// than lowerCamel (userId). Input accepts both. Default false.
	UseProtoNames bool `json:"use_proto_names"`
	// EmitDefaults writes fields that hold their default value (0, "",
	// false, []). Default false.
	EmitDefaults bool `json:"emit_defaults"`
	// UnknownFields is what an unknown JSON field or query parameter does:
	// "reject" (INVALID_ARGUMENT, HTTP 400) or "discard". Default "reject".
	UnknownFields string `json:"unknown_fields"`
}

// Log configures the daemon's log.
type Log struct {
	// Format is "text" or "json". Default "text".
	Format string `json:"format"`
	// Level is "debug", "info", "warn" or "error". Default "info".
	Level string `json:"level"`
}

// Limits bound what one peer can make the gateway hold. Each is positive.
type Limits struct {
	// MaxMessageSize bounds one message (request or response) carried
	// through the gateway. Default 4MiB.
	MaxMessageSize Size `json:"max_message_size"`
	// MaxMetadataSize bounds the metadata (headers) of one call. Default 16KiB.
	MaxMetadataSize Size `json:"max_metadata_size"`
	// MaxConcurrentStreams bounds the calls in flight on one client
	// connection. Default 1024.
	MaxConcurrentStreams int `json:"max_concurrent_streams"`
	// MaxConnections bounds the client connections one listener holds.
	// Default 10000.
	MaxConnections int `json:"max_connections"`
}

// Listeners are the gateway's listening addresses; a nil Listener is off.
// When the configuration has no listeners section, MCP, gRPC and admin
// listen on their defaults (127.0.0.1:7070, :9090 and :9901); when it has
// one, exactly the listeners it names are on. Static.
type Listeners struct {
	MCP   *Listener `json:"mcp,omitempty"`
	GRPC  *Listener `json:"grpc,omitempty"`
	HTTP  *Listener `json:"http,omitempty"`
	Admin *Listener `json:"admin,omitempty"`
}

// Listener is one listening address.
type Listener struct {
	// Addr is "host:port"; an empty host listens on every interface, port 0
	// picks a free port. Required.
	Addr string `json:"addr"`
	// TLS serves the listener over TLS. Nil, the default: plaintext.
	TLS *ServerTLS `json:"tls,omitempty"`
}

// ServerTLS is a listener's TLS: its certificate, and the CAs whose client
// certificates it requires, if any. File names are relative to the working
// directory. The certificate and key are read again when either file
// changes (checked at most once a second, on a handshake), so a rotated
// certificate needs no restart.
type ServerTLS struct {
	// CertFile and KeyFile are the PEM certificate chain and private key.
	// Both required.
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	// ClientCAFile, when set, makes the listener require a client
	// certificate signed by one of these PEM CAs (mutual TLS).
	ClientCAFile string `json:"client_ca_file,omitempty"`
}

// ClientTLS is how the gateway connects to an upstream's endpoints over
// TLS. File names are relative to the working directory; a client
// certificate is read again when its files change, the CAs when the
// upstream is created (at start, or by a reload that changes it).
type ClientTLS struct {
	// CAFile is the PEM CAs that verify the endpoints' certificates; ""
	// uses the system's roots.
	CAFile string `json:"ca_file,omitempty"`
	// CertFile and KeyFile are a client certificate for mutual TLS: both or
	// neither.
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
	// ServerName is the name the endpoints' certificates must carry; ""
	// uses each endpoint's host (a DNS name or an IP address).
	ServerName string `json:"server_name,omitempty"`
	// InsecureSkipVerify accepts any certificate: for tests only.
	InsecureSkipVerify bool `json:"insecure_skip_verify"`
}

// PubSub configures the gateway's publish/subscribe bus: MCP SUBSCRIBE and
// PUBLISH frames and the pubsub.v1.PubSub service (on the MCP and gRPC front
// doors) all use it. Static.
type PubSub struct {
	// NATS puts the bus on a NATS server, so that several gateways (and any
	// other nats.go client) share it. Nil, the default, keeps the bus in
	// the gateway's process.
	NATS *NATS `json:"nats,omitempty"`
	// MaxSubscriptions bounds the subscriptions the bus holds at once, over
	// all clients. Default 100000.
	MaxSubscriptions int `json:"max_subscriptions"`
	// SubscriberQueue is how many messages wait for one slow subscriber
	// before SlowConsumer applies. Default 1024.
	SubscriberQueue int `json:"subscriber_queue"`
	// SlowConsumer is what a full subscriber queue does: "drop" (the message
	// is dropped for that subscriber and counted) or "disconnect" (the
	// subscription ends with RESOURCE_EXHAUSTED). Default "drop".
	SlowConsumer string `json:"slow_consumer"`
}

// NATS is the NATS server the bus runs on.
type NATS struct {
	// URL is the server's address, "nats://host:port" (a comma-separated
	// list for a cluster). Required.
	URL string `json:"url"`
	// SubjectPrefix puts every topic's subject under this prefix, keeping the
	// bus apart from other traffic on the account; gateways that share a
	// bus use the same one. Default "mcpbridge".
	SubjectPrefix string `json:"subject_prefix"`
}

// Upstream is a named group of backend endpoints. Dynamic.
type Upstream struct {
	// Name is the upstream's key under upstreams: letters, digits, '.', '_'
	// and '-'. Routes name it in their uri (lb://name).
	Name string `json:"name"`
	// Endpoints are static backend addresses. Exactly one of Endpoints and
	// DNS is set.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// DNS resolves the endpoints from a name, periodically.
	DNS *DNS `json:"dns,omitempty"`
	// Protocol is what the backends speak: "grpc" or "mcp". Default "grpc".
	Protocol string `json:"protocol"`
	// Balancer picks an endpoint per call: "round_robin",
	// "weighted_round_robin", "least_request" (power of two choices) or
	// "random". Default "round_robin".
	Balancer string `json:"balancer"`
	// HealthCheck turns active health checks on (grpc.health.v1 for gRPC
	// backends, PING for MCP ones). Nil, the default, means off: an endpoint
	// is healthy until passive ejection says otherwise.
	HealthCheck *HealthCheck `json:"health_check,omitempty"`
	// Passive ejects endpoints whose calls keep failing. On by default.
	Passive Passive `json:"passive"`
	// Descriptors says where the upstream's protobuf descriptors come from,
	// for JSON transcoding (HTTP front door, JSON over MCP). Nil, the
	// default, means server reflection for a gRPC upstream (loaded when
	// first needed) and none for an MCP one.
	Descriptors *Descriptors `json:"descriptors,omitempty"`
	// TLS connects to the endpoints over TLS. Nil, the default: plaintext.
	TLS *ClientTLS `json:"tls,omitempty"`
}

// Descriptors says where an upstream's descriptors come from. At least one
// of Reflection and File is set.
type Descriptors struct {
	// Reflection loads them by gRPC server reflection (grpc.reflection.v1,
	// falling back to v1alpha) through the upstream's own connections.
	// Default true.
	Reflection bool `json:"reflection"`
	// File is a FileDescriptorSet (protoc --include_imports
	// --descriptor_set_out, or buf build -o), read at each load; with
	// Reflection as well, the file's descriptors take precedence.
	File string `json:"file,omitempty"`
	// Refresh reloads them at this interval; 0s, the default, reloads only
	// on a configuration reload (and, at most every 5s, when a call names a
	// method they lack).
	Refresh Duration `json:"refresh"`
}

// DescriptorSource returns where u's descriptors come from, with the
// defaults applied; ok is false when u has none.
func (u *Upstream) DescriptorSource() (d Descriptors, ok bool) {
	if u.Descriptors != nil {
		return *u.Descriptors, u.Descriptors.Reflection || u.Descriptors.File != ""
	}
	if u.Protocol == "grpc" || u.Protocol == "" {
		return Descriptors{Reflection: true}, true
	}
	return Descriptors{}, false
}

// Endpoint is one backend address.
type Endpoint struct {
	// Addr is "host:port", both required. Endpoints may also be written as
	// a plain string: - "127.0.0.1:50051".
	Addr string `json:"addr"`
	// Weight is the endpoint's share for weighted_round_robin, positive.
	// Default 1.
	Weight int `json:"weight"`
}

// DNS finds an upstream's endpoints by resolving a name.
type DNS struct {
	// Name is "host:port": every address host resolves to, on port. Required.
	Name string `json:"name"`
	// Refresh is how often the name is resolved again. Default 30s.
	Refresh Duration `json:"refresh"`
}

// HealthCheck configures active health checks; every field has a default.
type HealthCheck struct {
	// Interval between checks of one endpoint. Default 5s.
	Interval Duration `json:"interval"`
	// Timeout of one check, at most Interval. Default 1s.
	Timeout Duration `json:"timeout"`
	// UnhealthyThreshold is how many failed checks in a row make an endpoint
	// unhealthy. Default 3.
	UnhealthyThreshold int `json:"unhealthy_threshold"`
	// HealthyThreshold is how many passed checks in a row make it healthy
	// again. Default 1.
	HealthyThreshold int `json:"healthy_threshold"`
}

// Passive configures passive ejection: an endpoint whose calls fail
// ConsecutiveFailures times in a row is taken out of the balancer for
// EjectionTime, then tried again.
type Passive struct {
	// ConsecutiveFailures that eject an endpoint; 0 turns ejection off.
	// Default 5.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// EjectionTime is how long an ejected endpoint stays out. Default 30s.
	EjectionTime Duration `json:"ejection_time"`
}

// Route is one entry of the route table. Dynamic.
type Route struct {
	// ID names the route, unique. Required.
	ID string `json:"id"`
	// URI is where matching calls go: "lb://" and an upstream's name.
	// Required.
	URI string `json:"uri"`
	// Predicates must all match for the route to serve a call; none matches
	// every call.
	Predicates []Spec `json:"predicates"`
	// Filters rewrite the call on its way to the upstream, in order.
	Filters []Spec `json:"filters"`
}

// Upstream returns the upstream name of r's URI, or "" if the URI is not
// "lb://name".
func (r *Route) Upstream() string {
	name, ok := strings.CutPrefix(r.URI, "lb://")
	if !ok {
		return ""
	}
	return name
}

// Default returns the configuration of an empty file: default server
// settings, MCP, gRPC and admin listeners on their default addresses, no
// upstreams and no routes.
func Default() *Config {
	return &Config{
		Server:    defaultServer(),
		Listeners: defaultListeners(),
		PubSub:    PubSub{MaxSubscriptions: DefaultMaxSubscriptions, SubscriberQueue: DefaultSubscriberQueue, SlowConsumer: DefaultSlowConsumer},
		Upstreams: []Upstream{},
		Routes:    []Route{},
	}
}

// File returns the name the configuration was parsed under, or "".
func (c *Config) File() string { return c.file }

// Digest returns the SHA-256 of the bytes the configuration was parsed
// from, in hex, or "" for a Config built in code.
func (c *Config) Digest() string { return c.digest }

// Upstream returns the upstream called name.
func (c *Config) Upstream(name string) (*Upstream, bool) {
	for i := range c.Upstreams {
		if c.Upstreams[i].Name == name {
			return &c.Upstreams[i], true
		}
	}
	return nil, false
}

func defaultServer() Server {
	return Server{
		ShutdownGrace: Duration(DefaultShutdownGrace),
		WatchInterval: Duration(DefaultWatchInterval),
		Readiness:     DefaultReadiness,
		Log:           Log{Format: DefaultLogFormat, Level: DefaultLogLevel},
		Limits: Limits{
			MaxMessageSize:       DefaultMaxMessageSize,
			MaxMetadataSize:      DefaultMaxMetadataSize,
			MaxConcurrentStreams: DefaultMaxConcurrentStreams,
			MaxConnections:       DefaultMaxConnections,
		},
		HTTP: HTTP{MaxBodySize: DefaultHTTPMaxBodySize, ForwardHeaders: append([]string(nil), DefaultForwardHeaders...)},
		JSON: JSON{UnknownFields: DefaultUnknownFields},
	}
}

func defaultListeners() Listeners {
	return Listeners{
		MCP:   &Listener{Addr: DefaultMCPAddr},
		GRPC:  &Listener{Addr: DefaultGRPCAddr},
		Admin: &Listener{Addr: DefaultAdminAddr},
	}
}

func defaultUpstream(name string) Upstream {
	return Upstream{
		Name:     name,
		Protocol: DefaultProtocol,
		Balancer: DefaultBalancer,
		Passive:  defaultPassive(),
	}
}

func defaultHealthCheck() HealthCheck {
	return HealthCheck{
		Interval:           Duration(DefaultHealthInterval),
		Timeout:            Duration(DefaultHealthTimeout),
		UnhealthyThreshold: DefaultUnhealthyThreshold,
		HealthyThreshold:   DefaultHealthyThreshold,
	}
}

func defaultPassive() Passive {
	return Passive{ConsecutiveFailures: DefaultConsecutiveFailures, EjectionTime: Duration(DefaultEjectionTime)}
}
