package upstream

import (
	"context"
	"net"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway/balancer"
	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc"
)

// Bounds and defaults of the package.
const (
	// MaxEndpoints bounds the endpoints of one upstream; a DNS answer is
	// cut to this many addresses (the first in sorted order).
	MaxEndpoints = 256
	// DNSResolveTimeout bounds one DNS resolution.
	DNSResolveTimeout = 5 * time.Second
	// DefaultMaxMessageSize bounds one message each way, as gRPC's and
	// MCP's own defaults do.
	DefaultMaxMessageSize = 4 << 20
	// DefaultReconnectBase and DefaultReconnectMax are the reconnect
	// backoff's first wait and ceiling (gRPC's defaults).
	DefaultReconnectBase = time.Second
	DefaultReconnectMax  = 120 * time.Second
)

// Option configures an Upstream (New) or every Upstream of a Set (NewSet).
// Options apply in order.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// Ticker is a source of periodic ticks; *time.Ticker fits through
// TimeTicker.
type Ticker interface {
	// C delivers the ticks.
	C() <-chan time.Time
	// Stop stops the ticks.
	Stop()
}

// TimeTicker is the default ticker factory: a time.Ticker.
func TimeTicker(d time.Duration) Ticker { return timeTicker{time.NewTicker(d)} }

type timeTicker struct{ t *time.Ticker }

func (t timeTicker) C() <-chan time.Time { return t.t.C }
func (t timeTicker) Stop()               { t.t.Stop() }

// Event is something that happened to an upstream's endpoints, reported to
// the observer (WithObserver).
type Event struct {
	Kind     EventKind
	Upstream string
	// Endpoint is the endpoint's address; "" for EventResolveFailed.
	Endpoint string
	// Until is when an ejection ends (EventEjected).
	Until time.Time
	// Err is the failure behind the event, if any: the call's error for
	// EventEjected, the check's for EventCheck and EventUnhealthy, the
	// resolver's for EventResolveFailed.
	Err error
}

// EventKind tells what an Event reports.
type EventKind int

// Event kinds.
const (
	// EventEjected: passive ejection took the endpoint out until Until.
	EventEjected EventKind = iota + 1
	// EventReturned: an ejection ended; the endpoint is back, half-open.
	EventReturned
	// EventCheck: one active health check ended; Err is nil when it passed.
	EventCheck
	// EventUnhealthy: active checks took the endpoint out of rotation.
	EventUnhealthy
	// EventHealthy: active checks put it back.
	EventHealthy
	// EventAdded and EventRemoved: DNS changed the endpoint set.
	EventAdded
	EventRemoved
	// EventResolveFailed: a DNS resolution failed or was empty; the last
	// good set stays.
	EventResolveFailed
)

var eventNames = [...]string{
	EventEjected: "ejected", EventReturned: "returned", EventCheck: "check",
	EventUnhealthy: "unhealthy", EventHealthy: "healthy", EventAdded: "added",
	EventRemoved: "removed", EventResolveFailed: "resolve_failed",
}

func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "unknown"
}

type options struct {
	now       func() time.Time
	newTicker func(time.Duration) Ticker
	resolve   func(ctx context.Context, host string) ([]string, error)
	observe   func(Event)
	intN      func(int) int
	grpcOpts  []grpc.DialOption
	mcpOpts   []mcp.DialOption
	maxMsg    int
	backBase  time.Duration
	backMax   time.Duration
}

func buildOptions(opts []Option) options {
	o := options{
		now:       time.Now,
		newTicker: TimeTicker,
		resolve:   net.DefaultResolver.LookupHost,
		maxMsg:    DefaultMaxMessageSize,
		backBase:  DefaultReconnectBase,
		backMax:   DefaultReconnectMax,
	}
	for _, opt := range opts {
		opt.apply(&o)
	}
	return o
}

// WithClock sets the clock of passive ejection (when an ejection ends).
// Default time.Now.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(o *options) {
		if now != nil {
			o.now = now
		}
	})
}

// WithTicker sets the factory of the tickers that pace health-check rounds
// (period HealthCheck.Interval) and DNS refreshes (period DNS.Refresh).
// Default TimeTicker.
func WithTicker(newTicker func(d time.Duration) Ticker) Option {
	return optionFunc(func(o *options) {
		if newTicker != nil {
			o.newTicker = newTicker
		}
	})
}

// WithResolver sets how DNS names are resolved: lookup returns the
// addresses of host. Default net.DefaultResolver.LookupHost.
func WithResolver(lookup func(ctx context.Context, host string) ([]string, error)) Option {
	return optionFunc(func(o *options) {
		if lookup != nil {
			o.resolve = lookup
		}
	})
}

// WithObserver sets a function told of every Event. It is called
// synchronously, from a call, a health check or a DNS refresh, possibly
// from several goroutines at once; it must return quickly and must not
// call the Upstream's Close. Default none.
func WithObserver(observe func(Event)) Option {
	return optionFunc(func(o *options) { o.observe = observe })
}

// WithRandom sets the random source of the least_request and random
// balancers (see balancer.WithRandom). Default math/rand/v2's IntN.
func WithRandom(intN func(n int) int) Option {
	return optionFunc(func(o *options) { o.intN = intN })
}

// WithGRPCDialOptions adds options to every gRPC endpoint's
// grpc.NewClient, after the package's own (insecure credentials, the
// reconnect backoff, message sizes), so they win.
func WithGRPCDialOptions(opts ...grpc.DialOption) Option {
	return optionFunc(func(o *options) { o.grpcOpts = append(o.grpcOpts, opts...) })
}

// WithMCPDialOptions adds options to every MCP endpoint's mcp.Dial, after
// the package's own (the reconnect backoff, message size), so they win.
func WithMCPDialOptions(opts ...mcp.DialOption) Option {
	return optionFunc(func(o *options) { o.mcpOpts = append(o.mcpOpts, opts...) })
}

// WithMaxMessageSize bounds one message forwarded each way (a larger one
// fails the call with RESOURCE_EXHAUSTED). Default DefaultMaxMessageSize.
func WithMaxMessageSize(n int) Option {
	return optionFunc(func(o *options) {
		if n > 0 {
			o.maxMsg = n
		}
	})
}

// WithReconnectBackoff sets how lost and failed backend connections are
// redialed: the first wait is base, growing ×1.6 (±20% jitter) up to max.
// Defaults DefaultReconnectBase and DefaultReconnectMax.
func WithReconnectBackoff(base, max time.Duration) Option {
	return optionFunc(func(o *options) {
		if base > 0 {
			o.backBase = base
		}
		if max > 0 {
			o.backMax = max
		}
	})
}

func (o *options) pickerOptions() []balancer.Option {
	if o.intN == nil {
		return nil
	}
	return []balancer.Option{balancer.WithRandom(o.intN)}
}
