package upstream

import (
	"context"
	"crypto/tls"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/balancer"
	"github.com/mcpbridge/mcpbridge/gateway/config"
	"github.com/mcpbridge/mcpbridge/gateway/rawcodec"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Upstream is one configured group of backend endpoints and the Handler
// that forwards calls to them. Create it with New; it is safe for
// concurrent use.
type Upstream struct {
	cfg    config.Upstream
	name   string
	grpc   bool
	opts   options
	picker balancer.Picker[*endpoint]

	errNoHealthy error
	errClosed    error

	tls *tls.Config // the endpoints' TLS (cfg.TLS), nil for plaintext

	// gRPC call settings, fixed at New.
	desc     grpc.StreamDesc
	callOpts []grpc.CallOption

	snap atomic.Pointer[snapshot]

	mu     sync.Mutex // guards eps and closed; held to rebuild snap
	eps    []*endpoint
	closed bool

	ctx    context.Context // ends at Close: stops health checks and DNS
	cancel context.CancelFunc
	wg     sync.WaitGroup // background goroutines
}

var _ gateway.Handler = (*Upstream)(nil)

// snapshot is what pickers see: the endpoints that take calls now.
type snapshot struct {
	healthy []*endpoint
	// next is the earliest end of an ejection (UnixNano), 0 if none: a
	// pick at or after it rebuilds the snapshot.
	next   int64
	closed bool
}

// closedError marks a call that found its upstream closed before it
// touched the stream: a Set's handler looks the name up again.
type closedError struct{ error }

// New returns the Upstream cfg describes, with its connections opening in
// the background. cfg is taken as validated (config.Validate): New
// reports what it cannot work with as an error, and never blocks longer
// than one DNS resolution (DNSResolveTimeout) when cfg.DNS is set.
func New(cfg config.Upstream, opts ...Option) (*Upstream, error) {
	cfg = cloneConfig(cfg)
	u := &Upstream{
		cfg:  cfg,
		name: cfg.Name,
		opts: buildOptions(opts),
	}
	switch cfg.Protocol {
	case "grpc", "":
		u.grpc = true
	case "mcp":
	default:
		return nil, fmt.Errorf("upstream %s: unknown protocol %q", cfg.Name, cfg.Protocol)
	}
	name := cfg.Balancer
	if name == "" {
		name = config.DefaultBalancer
	}
	p, err := balancer.New[*endpoint](name, u.opts.pickerOptions()...)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", cfg.Name, err)
	}
	u.picker = p
	if len(cfg.Endpoints) == 0 && cfg.DNS == nil {
		return nil, fmt.Errorf("upstream %s: no endpoints and no dns", cfg.Name)
	}
	if len(cfg.Endpoints) > MaxEndpoints {
		return nil, fmt.Errorf("upstream %s: %d endpoints, at most %d", cfg.Name, len(cfg.Endpoints), MaxEndpoints)
	}
	if hc := cfg.HealthCheck; hc != nil && (hc.Interval <= 0 || hc.Timeout <= 0) {
		return nil, fmt.Errorf("upstream %s: health_check needs a positive interval and timeout", cfg.Name)
	}
	if cfg.TLS != nil {
		if u.tls, err = cfg.TLS.TLSConfig(); err != nil {
			return nil, fmt.Errorf("upstream %s: tls: %w", cfg.Name, err)
		}
	}
	u.errNoHealthy = status.Errorf(codes.Unavailable, "upstream %s: no healthy endpoint", cfg.Name)
	u.errClosed = closedError{status.Errorf(codes.Unavailable, "upstream %s: closed", cfg.Name)}
	u.desc = grpc.StreamDesc{ClientStreams: true, ServerStreams: true}
	u.callOpts = []grpc.CallOption{grpc.ForceCodecV2(rawcodec.Codec{})}
	u.ctx, u.cancel = context.WithCancel(context.Background())
	u.snap.Store(&snapshot{})

	for _, ep := range cfg.Endpoints {
		w := ep.Weight
		if w <= 0 {
			w = config.DefaultEndpointWeight
		}
		e, err := newEndpoint(u, ep.Addr, w)
		if err != nil {
			u.Close()
			return nil, err
		}
		u.eps = append(u.eps, e)
	}
	if cfg.DNS != nil {
		if err := u.startDNS(); err != nil {
			u.Close()
			return nil, err
		}
	}
	u.rebuild()
	if cfg.HealthCheck != nil {
		u.wg.Add(1)
		go u.healthLoop()
	}
	return u, nil
}

// Name returns the upstream's name.
func (u *Upstream) Name() string { return u.name }

// grpcCreds are the transport credentials of the endpoints' gRPC
// connections.
func (u *Upstream) grpcCreds() credentials.TransportCredentials {
	if u.tls != nil {
		return credentials.NewTLS(u.tls)
	}
	return insecure.NewCredentials()
}

// cloneConfig copies what cfg shares (slices, pointers), so that the
// caller may reuse its values: a Set compares configurations later.
func cloneConfig(cfg config.Upstream) config.Upstream {
	cfg.Endpoints = slices.Clone(cfg.Endpoints)
	if cfg.DNS != nil {
		d := *cfg.DNS
		cfg.DNS = &d
	}
	if cfg.HealthCheck != nil {
		hc := *cfg.HealthCheck
		cfg.HealthCheck = &hc
	}
	return cfg
}

// Close stops the upstream: new calls answer UNAVAILABLE, health checks and
// DNS refreshes stop (Close waits for them), and each connection closes
// when its last call in flight ends, at once for idle ones. Calls in flight
// run to their end. Close is idempotent.
func (u *Upstream) Close() {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return
	}
	u.closed = true
	eps := u.eps
	u.eps = nil
	u.mu.Unlock()
	u.rebuild()
	if u.cancel != nil {
		u.cancel()
	}
	for _, e := range eps {
		e.retire()
	}
	u.wg.Wait()
}

// Ready reports whether at least one endpoint takes calls now.
func (u *Upstream) Ready() bool {
	return len(u.current().healthy) > 0
}

// current returns the snapshot in force, rebuilt if an ejection ended.
func (u *Upstream) current() *snapshot {
	sn := u.snap.Load()
	if sn.next != 0 && u.opts.now().UnixNano() >= sn.next {
		u.rebuild()
		sn = u.snap.Load()
	}
	return sn
}

// rebuild recomputes the snapshot from the endpoints' state, then reports
// the ejections that ended.
func (u *Upstream) rebuild() {
	u.mu.Lock()
	returned := u.rebuildLocked()
	u.mu.Unlock()
	for _, e := range returned {
		u.observe(Event{Kind: EventReturned, Endpoint: e.addr})
	}
}

// rebuildLocked recomputes the snapshot and returns the endpoints whose
// ejection ended; u.mu is held.
func (u *Upstream) rebuildLocked() (returned []*endpoint) {
	now := u.opts.now().UnixNano()
	healthy := make([]*endpoint, 0, len(u.eps))
	var next int64
	for _, e := range u.eps {
		if until := e.ejectedUntil.Load(); until != 0 {
			if now < until {
				if next == 0 || until < next {
					next = until
				}
				continue
			}
			if e.ejectedUntil.CompareAndSwap(until, 0) {
				returned = append(returned, e)
			}
		}
		if e.unhealthy.Load() {
			continue
		}
		healthy = append(healthy, e)
	}
	old := u.snap.Load()
	if old != nil && next == old.next && u.closed == old.closed && slices.Equal(old.healthy, healthy) {
		return returned // keep the slice: weighted round robin keeps its place
	}
	u.snap.Store(&snapshot{healthy: healthy, next: next, closed: u.closed})
	return returned
}

// pick returns a healthy endpoint, with a reference taken. For a retry,
// not is the endpoint that failed: pick returns another one or, when there
// is none, errNoHealthy.
func (u *Upstream) pick(ctx context.Context, not *endpoint) (*endpoint, error) {
	for range 3 {
		sn := u.current()
		if len(sn.healthy) == 0 {
			if sn.closed {
				return nil, u.errClosed
			}
			return nil, u.errNoHealthy
		}
		i := -1
		if not != nil {
			i = slices.Index(sn.healthy, not)
		}
		var e *endpoint
		switch {
		case i >= 0 && len(sn.healthy) == 1:
			return nil, u.errNoHealthy
		case i >= 0:
			// A retry: the failed endpoint's successor, leaving the
			// balancer's sequence undisturbed.
			e = sn.healthy[(i+1)%len(sn.healthy)]
		default:
			var err error
			if e, err = u.picker.Pick(ctx, sn.healthy); err != nil {
				return nil, u.errNoHealthy
			}
		}
		if e.acquire() {
			return e, nil
		}
		// Retired since the snapshot was taken: the next one is newer.
	}
	return nil, u.errNoHealthy
}

// outcome is how an attempt ended, for passive ejection.
type outcome int

const (
	neutral  outcome = iota // the client's cancel, a front-door error
	answered                // the backend answered (any status but UNAVAILABLE)
	failed                  // a transport failure
)

// record applies an attempt's outcome to its endpoint.
func (u *Upstream) record(e *endpoint, o outcome, err error) {
	switch o {
	case answered:
		if e.fails.Load() != 0 {
			e.fails.Store(0)
		}
	case failed:
		e.failures.Add(1)
		msg := status.Convert(err).Message()
		e.lastErr.Store(&msg)
		n := e.fails.Add(1)
		limit := u.cfg.Passive.ConsecutiveFailures
		if limit <= 0 || n < int64(limit) {
			return
		}
		now := u.opts.now()
		if e.ejectedAt(now.UnixNano()) {
			return
		}
		until := now.Add(u.cfg.Passive.EjectionTime.Std())
		e.ejectedUntil.Store(until.UnixNano())
		u.rebuild()
		u.observe(Event{Kind: EventEjected, Endpoint: e.addr, Until: until, Err: err})
	}
}

func (u *Upstream) observe(ev Event) {
	if u.opts.observe != nil {
		ev.Upstream = u.name
		u.opts.observe(ev)
	}
}

// members returns the current endpoints.
func (u *Upstream) members() []*endpoint {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.eps)
}
