package descriptors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Config says where an upstream's descriptors come from.
type Config struct {
	// Reflection loads them by gRPC server reflection from the upstream.
	Reflection bool
	// File is a FileDescriptorSet file; with Reflection too, the file's
	// descriptors come first and reflection adds the files it lacks.
	File string
	// Refresh reloads them at this interval; 0 reloads only on a
	// configuration reload (and, rate-limited, when a call names a method
	// they lack).
	Refresh time.Duration
	// Eager loads them as soon as the source is configured (and again on
	// each Update); otherwise the first call that needs them loads them,
	// and refreshes (on Update, on the interval) start after that.
	Eager bool
}

// Event reports a load, for logs and metrics.
type Event struct {
	Upstream string
	Index    *Index // the new index, nil on failure
	Err      error
}

// Defaults of a Set.
const (
	// DefaultLoadTimeout bounds one background load.
	DefaultLoadTimeout = 10 * time.Second
	// DefaultMissInterval is the least time between two refreshes that
	// calls naming an unknown method trigger.
	DefaultMissInterval = 5 * time.Second
	// FailureBackoff is how long, before any load has succeeded, calls
	// get the last load's error instead of loading again.
	FailureBackoff = time.Second
)

// Set holds the descriptor sources of a configuration's upstreams, by name.
// Safe for concurrent use.
type Set struct {
	handler func(upstream string) gateway.Handler
	observe func(Event)

	mu      sync.Mutex
	closed  bool
	sources map[string]*Source
	cur     atomic.Pointer[map[string]*Source] // sources, for lock-free reads

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewSet returns an empty Set. handler returns the Handler through which an
// upstream is reached (for reflection); observe, if not nil, is told of
// every load.
func NewSet(handler func(upstream string) gateway.Handler, observe func(Event)) *Set {
	s := &Set{handler: handler, observe: observe, sources: map[string]*Source{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Update makes the Set hold a source for each upstream of cfgs: an
// unchanged one is kept and refreshed in the background (a reload
// refreshes descriptors), a new or changed one is created and loaded in
// the background, a removed one stopped.
func (s *Set) Update(cfgs map[string]Config) {
	var refresh []*Source
	defer func() {
		for _, src := range refresh {
			src.refreshAsync() // after Unlock: it takes s.mu
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	next := make(map[string]*Source, len(cfgs))
	for name, cfg := range cfgs {
		if old := s.sources[name]; old != nil && old.cfg == cfg {
			next[name] = old
			if cfg.Eager || old.idx.Load() != nil {
				refresh = append(refresh, old)
			}
			continue
		}
		src := &Source{set: s, name: name, cfg: cfg, stop: make(chan struct{})}
		if cfg.Reflection {
			src.conn = HandlerConn(gateway.HandlerFunc(func(req *gateway.Request, st gateway.Stream) error {
				h := s.handler(name)
				if h == nil {
					return status.Errorf(codes.Unavailable, "upstream %s: not configured", name)
				}
				return h.Serve(req, st)
			}))
		}
		next[name] = src
		if cfg.Eager {
			refresh = append(refresh, src)
		}
		if cfg.Refresh > 0 {
			s.wg.Add(1)
			go src.loop()
		}
	}
	for name, old := range s.sources {
		if next[name] != old {
			close(old.stop)
		}
	}
	s.sources = next
	s.cur.Store(&next)
}

// Source returns the source of upstream name, or nil.
func (s *Set) Source(name string) *Source {
	m := s.cur.Load()
	if m == nil {
		return nil
	}
	return (*m)[name]
}

// Index returns the index of upstream name, loading it (bounded by ctx) if
// it has not been loaded yet.
func (s *Set) Index(ctx context.Context, name string) (*Index, error) {
	src := s.Source(name)
	if src == nil {
		return nil, status.Errorf(codes.Unimplemented, "upstream %s: no descriptors configured for JSON transcoding", name)
	}
	return src.Index(ctx)
}

// Close stops every refresh and waits for background loads to end.
func (s *Set) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for _, src := range s.sources {
		close(src.stop)
	}
	s.sources = nil
	s.cur.Store(nil)
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// Source is one upstream's descriptors: loaded once, swapped atomically on
// each successful refresh (a failed one keeps the previous index).
type Source struct {
	set  *Set
	name string
	cfg  Config
	conn grpc.ClientConnInterface
	stop chan struct{}

	idx atomic.Pointer[Index]

	loadMu   sync.Mutex // one load at a time
	lastErr  atomic.Pointer[error]
	lastMiss atomic.Int64 // UnixNano of the last miss-triggered refresh
	busy     atomic.Bool  // a background refresh is running
	again    atomic.Bool  // a background refresh was asked for
	failedAt atomic.Int64 // UnixNano of the last failed load
	loadedAt atomic.Int64 // UnixNano of the last successful load
}

// Name returns the upstream's name.
func (s *Source) Name() string { return s.name }

// Current returns the index in force, nil before the first successful load.
func (s *Source) Current() *Index { return s.idx.Load() }

// Index returns the index in force, loading it first (bounded by ctx) if
// there is none yet.
func (s *Source) Index(ctx context.Context) (*Index, error) {
	if x := s.idx.Load(); x != nil {
		return x, nil
	}
	if err := s.recentFailure(); err != nil {
		return nil, err
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if x := s.idx.Load(); x != nil {
		return x, nil
	}
	if err := s.recentFailure(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultLoadTimeout)
	defer cancel()
	if err := s.loadLocked(ctx); err != nil {
		return nil, status.Errorf(codes.Unavailable, "upstream %s: descriptors not loaded: %v", s.name, status.Convert(err).Message())
	}
	return s.idx.Load(), nil
}

// Refresh loads the descriptors again, bounded by ctx, and swaps them in on
// success.
func (s *Source) Refresh(ctx context.Context) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	return s.loadLocked(ctx)
}

// Miss tells the source a call named a method it lacks: it refreshes in
// the background, at most once per DefaultMissInterval.
func (s *Source) Miss() {
	now := time.Now().UnixNano()
	last := s.lastMiss.Load()
	if now-last < int64(DefaultMissInterval) || !s.lastMiss.CompareAndSwap(last, now) {
		return
	}
	s.refreshAsync()
}

// refreshAsync refreshes in the background. Asked while a background
// refresh runs, it runs one more after it (what changed meanwhile, such as
// the upstream's endpoints on a reload, is then seen).
func (s *Source) refreshAsync() {
	s.again.Store(true)
	if !s.busy.CompareAndSwap(false, true) {
		return
	}
	set := s.set
	set.mu.Lock()
	closed := set.closed
	if !closed {
		set.wg.Add(1)
	}
	set.mu.Unlock()
	if closed {
		s.busy.Store(false)
		return
	}
	go func() {
		defer set.wg.Done()
		for {
			for s.again.Swap(false) {
				ctx, cancel := context.WithTimeout(set.ctx, DefaultLoadTimeout)
				_ = s.Refresh(ctx)
				cancel()
				if set.ctx.Err() != nil {
					s.busy.Store(false)
					return
				}
			}
			s.busy.Store(false)
			// A request that came after the last Swap but before busy
			// was cleared would be lost: look once more.
			if !s.again.Load() || !s.busy.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

func (s *Source) loop() {
	defer s.set.wg.Done()
	t := time.NewTicker(s.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if !s.cfg.Eager && s.idx.Load() == nil {
				continue // not needed yet
			}
			ctx, cancel := context.WithTimeout(s.set.ctx, DefaultLoadTimeout)
			_ = s.Refresh(ctx)
			cancel()
		case <-s.stop:
			return
		case <-s.set.ctx.Done():
			return
		}
	}
}

// recentFailure returns, when there is no index yet and the last load
// failed less than FailureBackoff ago, the error calls get meanwhile (so
// that a backend without reflection is not asked on every call).
func (s *Source) recentFailure() error {
	if time.Now().UnixNano()-s.failedAt.Load() >= int64(FailureBackoff) {
		return nil
	}
	if err := s.LastError(); err != nil {
		return status.Errorf(codes.Unavailable, "upstream %s: descriptors not loaded: %v", s.name, status.Convert(err).Message())
	}
	return nil
}

func (s *Source) loadLocked(ctx context.Context) error {
	x, err := s.load(ctx)
	if err != nil {
		s.lastErr.Store(&err)
		s.failedAt.Store(time.Now().UnixNano())
	} else {
		s.idx.Store(x)
		s.lastErr.Store(nil)
		s.loadedAt.Store(time.Now().UnixNano())
	}
	if s.set.observe != nil {
		s.set.observe(Event{Upstream: s.name, Index: x, Err: err})
	}
	return err
}

// Status is a Source's state, as the admin endpoint shows it.
type Status struct {
	// From is where the descriptors come from: "reflection", "file" or
	// "file+reflection".
	From string `json:"from"`
	// Loaded: an index is in force (a failed refresh keeps the previous one).
	Loaded   bool       `json:"loaded"`
	LoadedAt *time.Time `json:"loaded_at,omitempty"`
	Services []string   `json:"services,omitempty"`
	Methods  int        `json:"methods"`
	// Problems are HTTP bindings left out of the index (a bad template, a
	// field that does not exist).
	Problems []string `json:"problems,omitempty"`
	// LastError is why the last load failed; "" when it succeeded, or none
	// was tried yet (the first JSON call loads them unless eager).
	LastError string `json:"last_error,omitempty"`
}

// Status returns the source's state.
func (s *Source) Status() Status {
	st := Status{From: "reflection"}
	switch {
	case s.cfg.File != "" && s.cfg.Reflection:
		st.From = "file+reflection"
	case s.cfg.File != "":
		st.From = "file"
	}
	if x := s.idx.Load(); x != nil {
		st.Loaded = true
		at := time.Unix(0, s.loadedAt.Load()).UTC()
		st.LoadedAt = &at
		st.Services, st.Methods, st.Problems = x.Services(), x.Methods(), x.Problems()
	}
	if err := s.LastError(); err != nil {
		st.LastError = status.Convert(err).Message()
	}
	return st
}

// LastError returns why the last load failed, nil if it succeeded.
func (s *Source) LastError() error {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *Source) load(ctx context.Context) (*Index, error) {
	var fromFile, fromRefl *descriptorpb.FileDescriptorSet
	var err error
	if s.cfg.File != "" {
		if fromFile, err = LoadFile(s.cfg.File); err != nil {
			return nil, err
		}
	}
	if s.conn != nil {
		if fromRefl, err = Reflect(ctx, s.conn); err != nil {
			return nil, fmt.Errorf("reflection: %w", err)
		}
	}
	all := merge(fromFile, fromRefl)
	if all == nil {
		return nil, errors.New("no descriptor source (set reflection or file)")
	}
	return NewIndex(all)
}

// Named is the source of one upstream looked up by name on every call, so
// that it follows reloads. The zero value has no source.
type Named struct {
	Set  *Set
	Name string
}

// Source returns the upstream's source now, or nil.
func (n Named) Source() *Source {
	if n.Set == nil {
		return nil
	}
	return n.Set.Source(n.Name)
}
