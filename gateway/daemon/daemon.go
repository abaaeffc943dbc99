// Package daemon runs a gateway from a configuration: the front doors (MCP,
// gRPC and HTTP/JSON), the admin endpoint, the upstream set, the upstreams'
// descriptors (for JSON transcoding) and the route table, with atomic
// reloads and a graceful shutdown. cmd/mcpbridge is a thin shell
// around it (flags, logging, signals); tests run the same wiring on
// loopback.
//
// Reload compiles the new configuration's dynamic part (upstreams, routes)
// into a new route table and swaps it in atomically; a configuration that
// fails to compile is rejected and the running table stays. Calls in flight
// finish on the table they started with. Static settings (server,
// listeners) apply at start only; a reload that changes them reports which
// keys need a restart.
//
// A Daemon's methods are safe for concurrent use.
package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/admin"
	"github.com/mcpbridge/mcpbridge/gateway/config"
	"github.com/mcpbridge/mcpbridge/gateway/descriptors"
	"github.com/mcpbridge/mcpbridge/gateway/grpcfront"
	"github.com/mcpbridge/mcpbridge/gateway/httpfront"
	"github.com/mcpbridge/mcpbridge/gateway/mcpfront"
	"github.com/mcpbridge/mcpbridge/gateway/metrics"
	"github.com/mcpbridge/mcpbridge/gateway/transcode"
	"github.com/mcpbridge/mcpbridge/gateway/upstream"
	"github.com/mcpbridge/mcpbridge/mcp"
	pubsubv1 "github.com/mcpbridge/mcpbridge/proto/pubsub/v1"
	"github.com/mcpbridge/mcpbridge/pubsub"
	"github.com/mcpbridge/mcpbridge/pubsub/natsbus"
	"github.com/mcpbridge/mcpbridge/pubsub/pubsubsvc"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
)

// Options configure a Daemon.
type Options struct {
	// Registry holds the predicate and filter factories. Required.
	Registry *config.Registry
	// Logger receives the daemon's log; nil discards it.
	Logger *slog.Logger
	// MCPOptions are added to the MCP front door's server (after the
	// daemon's own, so they win): a pub/sub bus, interceptors.
	MCPOptions []mcp.ServerOption
	// GRPCOptions are added to the gRPC front door's server.
	GRPCOptions []grpc.ServerOption
	// UpstreamOptions are passed to the upstream set.
	UpstreamOptions []upstream.Option
	// Bus, when set, is the pub/sub bus the front doors serve instead of the
	// one the configuration's pubsub section describes. The daemon does not
	// close it; its subscriptions end when the caller closes it (until then
	// a shutdown waits for them up to its grace period).
	Bus pubsub.Bus
}

// Daemon is a running gateway.
type Daemon struct {
	opts   Options
	log    *slog.Logger
	router *gateway.Router
	set    *upstream.Set
	descs  *descriptors.Set  // upstreams' descriptors, for JSON transcoding
	topts  transcode.Options // from the configuration at New (static)

	mu      sync.Mutex
	cfg     *config.Config // in force
	started bool
	stopped bool
	addrs   map[string]net.Addr

	readiness string // server.readiness, static: as at New

	live   []config.Upstream // the upstreams in set: cfg's and those not yet retired
	gen    uint64            // counts reloads
	retire *time.Timer       // removes upstreams a reload dropped

	bus      pubsub.Bus
	ownBus   bool // the daemon made bus and closes it
	mcpSrv   *mcp.Server
	grpcSrv  *grpc.Server
	adminSrv *http.Server
	httpSrv  *http.Server
	serving  sync.WaitGroup

	metrics *metrics.Metrics // served on the admin listener at /metrics
}

// New compiles cfg and returns a Daemon ready to Start.
func New(cfg *config.Config, opts Options) (*Daemon, error) {
	if opts.Registry == nil {
		return nil, errors.New("daemon: Options.Registry is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{opts: opts, log: log, addrs: map[string]net.Addr{}}
	d.set = upstream.NewSet(opts.UpstreamOptions...)
	d.topts = transcode.Options{
		UseProtoNames:  cfg.Server.JSON.UseProtoNames,
		EmitDefaults:   cfg.Server.JSON.EmitDefaults,
		DiscardUnknown: cfg.Server.JSON.UnknownFields == "discard",
	}
	d.descs = descriptors.NewSet(func(name string) gateway.Handler {
		if h := d.set.Handler(name); h != nil {
			return h
		}
		return nil
	}, func(ev descriptors.Event) {
		if ev.Err != nil {
			log.Warn("loading descriptors", "upstream", ev.Upstream, "err", ev.Err)
			return
		}
		log.Debug("descriptors loaded", "upstream", ev.Upstream, "services", len(ev.Index.Services()), "methods", ev.Index.Methods())
		for _, p := range ev.Index.Problems() {
			log.Warn("google.api.http rule left out", "upstream", ev.Upstream, "problem", p)
		}
	})
	table, err := d.compile(cfg)
	if err != nil {
		d.descs.Close()
		d.set.Close()
		return nil, err
	}
	d.router = gateway.NewRouter(table)
	d.cfg = cfg
	d.readiness = cfg.Server.Readiness
	return d, nil
}

// compile updates the upstream set and builds cfg's route table.
//
// Upstreams that the running table names but cfg does not stay in the set
// (d.live keeps them) until retire removes them: a call that picked its
// route from the running table an instant before the swap still finds its
// upstream.
func (d *Daemon) compile(cfg *config.Config) (*gateway.Table, error) {
	if err := cfg.Validate(d.opts.Registry); err != nil {
		return nil, err
	}
	live := keepRemoved(cfg.Upstreams, d.live)
	if err := d.set.Update(live); err != nil {
		return nil, err
	}
	d.live = live
	table, err := config.Compile(cfg, d.opts.Registry, func(name string) gateway.Handler {
		h := d.set.Handler(name)
		if h == nil {
			return nil
		}
		return transcode.Wrap(h, descriptors.Named{Set: d.descs, Name: name}, d.topts)
	})
	if err != nil {
		return nil, err
	}
	d.descs.Update(descriptorConfigs(cfg))
	return table, nil
}

// keepRemoved returns next's upstreams followed by those of live that next
// does not name, with their configuration as it is.
func keepRemoved(next, live []config.Upstream) []config.Upstream {
	out := append([]config.Upstream(nil), next...)
	for _, u := range live {
		if !slices.ContainsFunc(next, func(n config.Upstream) bool { return n.Name == u.Name }) {
			out = append(out, u)
		}
	}
	return out
}

// retireDelay is how long upstreams removed by a reload stay in the set
// after the new table is in force. A call resolves its upstream right
// after it picks its route, so a short while covers every call of the old
// table; calls already running on a removed upstream finish whatever the
// delay (its connections close when they end).
const retireDelay = 2 * time.Second

// scheduleRetire removes, after retireDelay, the upstreams the
// configuration in force no longer names, unless another reload or a
// shutdown came first. Called with d.mu held.
func (d *Daemon) scheduleRetire() {
	if len(d.live) == len(d.cfg.Upstreams) {
		return
	}
	if d.retire != nil {
		d.retire.Stop()
	}
	gen := d.gen
	d.retire = time.AfterFunc(retireDelay, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.stopped || d.gen != gen {
			return
		}
		if err := d.set.Update(d.cfg.Upstreams); err != nil {
			d.log.Error("removing upstreams the configuration no longer names", "err", err)
			return
		}
		d.live = d.cfg.Upstreams
	})
}

// descriptorConfigs returns where each upstream's descriptors come from.
func descriptorConfigs(cfg *config.Config) map[string]descriptors.Config {
	out := map[string]descriptors.Config{}
	for i := range cfg.Upstreams {
		u := &cfg.Upstreams[i]
		ds, ok := u.DescriptorSource()
		if !ok {
			continue
		}
		out[u.Name] = descriptors.Config{
			Reflection: ds.Reflection,
			File:       ds.File,
			Refresh:    ds.Refresh.Std(),
			Eager:      u.Descriptors != nil, // configured explicitly: load now
		}
	}
	return out
}

// Router returns the daemon's router (the table in force).
func (d *Daemon) Router() *gateway.Router { return d.router }

// Config returns the configuration in force.
func (d *Daemon) Config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// Reload applies cfg's dynamic part. On error nothing changes. It returns
// the static keys that differ and need a restart to apply.
func (d *Daemon) Reload(cfg *config.Config) (restart []string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return nil, errors.New("daemon: stopped")
	}
	live := d.live
	table, err := d.compile(cfg)
	if err != nil {
		// Restore the upstreams the running table uses.
		if uerr := d.set.Update(live); uerr != nil {
			d.log.Error("restoring upstreams after a failed reload", "err", uerr)
		}
		d.live = live
		return nil, err
	}
	d.router.Swap(table)
	restart = config.StaticChanges(d.cfg, cfg)
	d.cfg = cfg
	d.gen++
	d.scheduleRetire()
	return restart, nil
}

// Start opens the configured listeners and serves on them. Addr tells where
// each listens (useful with port 0).
func (d *Daemon) Start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started {
		return errors.New("daemon: already started")
	}
	d.started = true
	cfg := d.cfg
	lim := cfg.Server.Limits
	var opened []net.Listener
	fail := func(err error) error {
		for _, l := range opened {
			_ = l.Close()
		}
		if d.ownBus && d.bus != nil {
			_ = d.bus.Close()
		}
		return err
	}
	if err := d.openBus(cfg.PubSub); err != nil {
		return fail(err)
	}
	ps := cfg.PubSub
	policy := pubsub.DropNewest
	if ps.SlowConsumer == "disconnect" {
		policy = pubsub.Disconnect
	}
	pubsubSvc := pubsubsvc.New(d.bus, pubsubsvc.WithSubscribeOptions(pubsub.WithQueueSize(ps.SubscriberQueue), pubsub.WithSlowConsumerPolicy(policy)))
	listen := func(name string, l *config.Listener) (net.Listener, error) {
		lis, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return nil, fmt.Errorf("listeners.%s: %w", name, err)
		}
		opened = append(opened, lis)
		d.addrs[name] = lis.Addr()
		if lim.MaxConnections > 0 && name != "admin" {
			lis = netutil.LimitListener(lis, lim.MaxConnections)
		}
		return lis, nil
	}
	var mcpLis, grpcLis, httpLis, adminLis net.Listener
	var err error
	// tlsOf is a listener's TLS configuration, nil for plaintext.
	tlsOf := func(name string, l *config.Listener) (*tls.Config, error) {
		if l == nil || l.TLS == nil {
			return nil, nil
		}
		c, err := l.TLS.TLSConfig()
		if err != nil {
			return nil, fmt.Errorf("listeners.%s.tls: %w", name, err)
		}
		return c, nil
	}
	var mcpTLS, grpcTLS, httpTLS, adminTLS *tls.Config
	for _, x := range []struct {
		name string
		l    *config.Listener
		dst  **tls.Config
	}{{"mcp", cfg.Listeners.MCP, &mcpTLS}, {"grpc", cfg.Listeners.GRPC, &grpcTLS}, {"http", cfg.Listeners.HTTP, &httpTLS}, {"admin", cfg.Listeners.Admin, &adminTLS}} {
		if *x.dst, err = tlsOf(x.name, x.l); err != nil {
			return fail(err)
		}
	}
	if l := cfg.Listeners.MCP; l != nil {
		if mcpLis, err = listen("mcp", l); err != nil {
			return fail(err)
		}
	}
	if l := cfg.Listeners.GRPC; l != nil {
		if grpcLis, err = listen("grpc", l); err != nil {
			return fail(err)
		}
	}
	if l := cfg.Listeners.HTTP; l != nil {
		if httpLis, err = listen("http", l); err != nil {
			return fail(err)
		}
	}
	if l := cfg.Listeners.Admin; l != nil {
		if adminLis, err = listen("admin", l); err != nil {
			return fail(err)
		}
	}
	d.metrics = metrics.New(d.endpointMetrics, prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "mcpbridge_mcp_dropped_notifies_total",
		Help: "NOTIFY frames the MCP front door dropped: past max_concurrent_streams on their connection.",
	}, func() float64 {
		if d.mcpSrv == nil {
			return 0
		}
		return float64(d.mcpSrv.DroppedNotifies())
	}), metrics.Bus(d.bus.Stats))
	if mcpLis != nil {
		mopts := []mcp.ServerOption{
			mcp.WithCallObserver(func(ci mcp.CallInfo) {
				route := ci.Tag
				if route == "" {
					route = metrics.Gateway // a service of the gateway's own
				}
				d.metrics.Observe("mcp", route, ci.Code, ci.Duration)
			}),
			mcp.WithMaxMessageSize(int(lim.MaxMessageSize)),
			mcp.WithMaxConcurrentCalls(lim.MaxConcurrentStreams),
			mcp.WithBus(d.bus),
			mcp.WithSubscriptionQueue(ps.SubscriberQueue, policy),
		}
		if mcpTLS != nil {
			mopts = append(mopts, mcp.WithTLS(mcpTLS))
		}
		d.mcpSrv = mcpfront.NewServer(d.router, append(mopts, d.opts.MCPOptions...)...)
		pubsubv1.RegisterPubSubServer(d.mcpSrv, pubsubSvc)
		grpcfront.RegisterReflection(d.mcpSrv, d.router)
		d.serve("mcp", func() error { return d.mcpSrv.Serve(mcpLis) })
	}
	if grpcLis != nil {
		gopts := []grpc.ServerOption{
			grpc.MaxRecvMsgSize(int(lim.MaxMessageSize)),
			grpc.MaxSendMsgSize(int(lim.MaxMessageSize)),
			grpc.MaxConcurrentStreams(uint32(lim.MaxConcurrentStreams)),
			grpc.MaxHeaderListSize(uint32(lim.MaxMetadataSize)),
		}
		if grpcTLS != nil {
			gopts = append(gopts, grpc.Creds(credentials.NewTLS(grpcTLS)))
		}
		ui, si := grpcfront.ObserveInterceptors(func(route string, code codes.Code, dur time.Duration) {
			if route == "" {
				route = metrics.Gateway
			}
			d.metrics.Observe("grpc", route, code, dur)
		})
		gopts = append(gopts, grpc.ChainUnaryInterceptor(ui), grpc.ChainStreamInterceptor(si))
		d.grpcSrv = grpcfront.NewServer(d.router, append(gopts, d.opts.GRPCOptions...)...)
		pubsubv1.RegisterPubSubServer(d.grpcSrv, pubsubSvc)
		grpcfront.RegisterReflection(d.grpcSrv, d.router) // after the gateway's own services
		d.serve("grpc", func() error { return d.grpcSrv.Serve(grpcLis) })
	}
	if httpLis != nil {
		hopts := httpfront.Options{
			MaxBodySize:    int64(cfg.Server.HTTP.MaxBodySize),
			ForwardHeaders: cfg.Server.HTTP.ForwardHeaders,
			Observe:        d.metrics.Observe,
		}
		if c := cfg.Server.HTTP.CORS; c != nil {
			p := c.Policy()
			hopts.CORS = &p
		}
		hf, err := httpfront.New(d.router, hopts)
		if err != nil {
			return fail(fmt.Errorf("server.http: %w", err))
		}
		var protos http.Protocols
		protos.SetHTTP1(true)
		if httpTLS != nil {
			protos.SetHTTP2(true)
		} else {
			protos.SetUnencryptedHTTP2(true) // h2c: full-duplex streams without TLS
		}
		d.httpSrv = &http.Server{
			Handler:           hf,
			ReadHeaderTimeout: 10 * time.Second,
			MaxHeaderBytes:    int(lim.MaxMetadataSize) + 4096,
			Protocols:         &protos,
			TLSConfig:         httpTLS,
			ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
		}
		d.serve("http", func() error { return serveHTTP(d.httpSrv, httpLis) })
	}
	if adminLis != nil {
		d.adminSrv = &http.Server{Handler: admin.Handler(d.adminSource()), ReadHeaderTimeout: 10 * time.Second, TLSConfig: adminTLS}
		d.serve("admin", func() error { return serveHTTP(d.adminSrv, adminLis) })
	}
	for name, a := range d.addrs {
		d.log.Info("listening", "listener", name, "addr", a.String())
	}
	return nil
}

// serveHTTP serves srv on lis, over TLS when srv has a TLSConfig.
func serveHTTP(srv *http.Server, lis net.Listener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(lis, "", "")
	}
	return srv.Serve(lis)
}

// openBus sets d.bus: Options.Bus, or a bus made from ps (in process, or
// on NATS).
func (d *Daemon) openBus(ps config.PubSub) error {
	if d.opts.Bus != nil {
		d.bus = d.opts.Bus
		return nil
	}
	if ps.NATS == nil {
		d.bus = pubsub.NewLocal(pubsub.WithMaxSubscriptions(ps.MaxSubscriptions))
		d.ownBus = true
		return nil
	}
	nc, err := nats.Connect(ps.NATS.URL, nats.Name("mcpbridge"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("pubsub.nats: connecting to %s: %w", ps.NATS.URL, err)
	}
	bus, err := natsbus.New(nc, natsbus.WithSubjectPrefix(ps.NATS.SubjectPrefix), natsbus.WithMaxSubscriptions(ps.MaxSubscriptions))
	if err != nil {
		nc.Close()
		return fmt.Errorf("pubsub.nats: %w", err)
	}
	d.bus = &natsOwned{Bus: bus, nc: nc}
	d.ownBus = true
	d.log.Info("pub/sub bus on NATS", "url", ps.NATS.URL, "subject_prefix", ps.NATS.SubjectPrefix)
	return nil
}

// natsOwned is a natsbus.Bus whose NATS connection the daemon opened: Close
// closes both.
type natsOwned struct {
	*natsbus.Bus
	nc *nats.Conn
}

func (b *natsOwned) Close() error {
	err := b.Bus.Close()
	b.nc.Close()
	return err
}

// Bus returns the pub/sub bus the front doors serve (nil before Start).
func (d *Daemon) Bus() pubsub.Bus {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.bus
}

func (d *Daemon) serve(name string, f func() error) {
	d.serving.Add(1)
	go func() {
		defer d.serving.Done()
		err := f()
		if err != nil && !errors.Is(err, mcp.ErrServerClosed) && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
			d.log.Error("listener failed", "listener", name, "err", err)
		}
	}()
}

// Addr returns where listener name ("mcp", "grpc", "http", "admin") listens, or nil.
func (d *Daemon) Addr(name string) net.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addrs[name]
}

// Ready reports whether the daemon takes traffic: its listeners are up and
// every upstream has a healthy endpoint.
func (d *Daemon) Ready() (bool, string) {
	d.mu.Lock()
	started, stopped := d.started, d.stopped
	d.mu.Unlock()
	switch {
	case !started:
		return false, "not started"
	case stopped:
		return false, "shutting down"
	}
	if d.readiness == "listening" {
		return true, ""
	}
	for _, u := range d.upstreamStatus() {
		if !u.Ready {
			return false, "upstream " + u.Name + ": no healthy endpoint"
		}
	}
	return true, ""
}

// upstreamStatus is the state of the configured upstreams, in
// configuration order (not of those a reload removed and that are about to
// go).
func (d *Daemon) upstreamStatus() []upstreamView {
	cfg := d.Config()
	all := d.set.Status()
	out := make([]upstreamView, 0, len(cfg.Upstreams))
	for _, u := range all {
		if _, ok := cfg.Upstream(u.Name); ok {
			v := upstreamView{UpstreamStatus: u}
			if src := d.descs.Source(u.Name); src != nil {
				st := src.Status()
				v.Descriptors = &st
			}
			out = append(out, v)
		}
	}
	return out
}

// upstreamView is an upstream as /upstreams shows it: its endpoints, and
// its descriptors for JSON transcoding when it has a source of them.
type upstreamView struct {
	upstream.UpstreamStatus
	Descriptors *descriptors.Status `json:"descriptors,omitempty"`
}

func (d *Daemon) adminSource() admin.Source {
	return admin.Source{
		Ready:     d.Ready,
		Config:    func() any { return d.Config() },
		Routes:    func() any { return routeViews(d.Config()) },
		Upstreams: func() any { return d.upstreamStatus() },
		Extra:     map[string]http.Handler{"/metrics": d.metrics.Handler()},
	}
}

// endpointMetrics is the configured upstreams' endpoints, for /metrics.
func (d *Daemon) endpointMetrics() []metrics.Endpoint {
	var out []metrics.Endpoint
	for _, u := range d.upstreamStatus() {
		for _, e := range u.Endpoints {
			out = append(out, metrics.Endpoint{Upstream: u.Name, Addr: e.Addr, Healthy: e.Healthy, InFlight: e.InFlight, Calls: e.Calls, Failures: e.Failures})
		}
	}
	return out
}

// routeView is a route as /routes shows it.
type routeView struct {
	ID         string   `json:"id"`
	Upstream   string   `json:"upstream"`
	Predicates []string `json:"predicates"`
	Filters    []string `json:"filters"`
}

// routeViews lists cfg's routes in match order, predicates and filters as
// written in the configuration.
func routeViews(cfg *config.Config) []routeView {
	out := []routeView{}
	for _, r := range cfg.Routes {
		v := routeView{ID: r.ID, Upstream: r.Upstream(), Predicates: []string{}, Filters: []string{}}
		for _, p := range r.Predicates {
			v.Predicates = append(v.Predicates, p.String())
		}
		for _, f := range r.Filters {
			v.Filters = append(v.Filters, f.String())
		}
		out = append(out, v)
	}
	return out
}

// Shutdown stops gracefully: listeners close, MCP clients get GOAWAY, gRPC
// clients GOAWAY too, and calls in flight may finish until ctx ends, when
// whatever remains is closed. Then the upstream connections close.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return nil
	}
	d.stopped = true
	if d.retire != nil {
		d.retire.Stop()
	}
	mcpSrv, grpcSrv, adminSrv, httpSrv := d.mcpSrv, d.grpcSrv, d.adminSrv, d.httpSrv
	bus, ownBus := d.bus, d.ownBus
	d.mu.Unlock()

	var wg sync.WaitGroup
	var mcpErr error
	if mcpSrv != nil {
		wg.Add(1)
		go func() { defer wg.Done(); mcpErr = mcpSrv.Shutdown(ctx) }()
	}
	if grpcSrv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan struct{})
			go func() { grpcSrv.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				grpcSrv.Stop()
				<-done
			}
		}()
	}
	if httpSrv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if httpSrv.Shutdown(ctx) != nil {
				_ = httpSrv.Close() // the grace period is over
			}
		}()
	}
	if ownBus && bus != nil {
		// Subscriptions are open-ended streams: end them now (their clients
		// see the stream end) so that the drain waits only for calls.
		_ = bus.Close()
	}
	wg.Wait()
	if adminSrv != nil {
		actx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = adminSrv.Shutdown(actx)
		cancel()
	}
	d.serving.Wait()
	d.descs.Close()
	d.set.Close()
	if mcpErr != nil {
		return mcpErr
	}
	return ctx.Err()
}

// Close stops at once.
func (d *Daemon) Close() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = d.Shutdown(ctx)
}
