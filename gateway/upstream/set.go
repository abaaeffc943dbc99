package upstream

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/config"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Set holds the upstreams of a configuration by name, for reloads. Its
// Handlers resolve the name on every call, so a route table compiled
// against the Set keeps working across Updates: each call goes to the
// upstream configured under the name when the call starts. Safe for
// concurrent use; Update and Close are serialized.
type Set struct {
	opts []Option

	mu     sync.Mutex // serializes Update and Close
	closed bool
	cur    atomic.Pointer[setState]
}

// setState is one generation of a Set: immutable once stored.
type setState struct {
	byName map[string]*Upstream
	order  []*Upstream // configuration order
}

// NewSet returns an empty Set whose upstreams are made with opts.
func NewSet(opts ...Option) *Set {
	s := &Set{opts: opts}
	s.cur.Store(&setState{byName: map[string]*Upstream{}})
	return s
}

// Update makes the Set hold exactly the upstreams of cfgs. An upstream
// whose configuration is unchanged is kept as it is, with its connections,
// health and ejection state; a new or changed one is created; a removed or
// replaced one is closed, and its connections close once the calls in
// flight on them end. If an upstream cannot be created, Update returns the
// error and nothing changes. Updating a closed Set is an error.
func (s *Set) Update(cfgs []config.Upstream) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("upstream: Update on a closed Set")
	}
	old := s.cur.Load()
	next := &setState{byName: make(map[string]*Upstream, len(cfgs))}
	var created []*Upstream
	var errs []error
	for _, cfg := range cfgs {
		if _, dup := next.byName[cfg.Name]; dup {
			errs = append(errs, fmt.Errorf("upstream %s: defined twice", cfg.Name))
			continue
		}
		u := old.byName[cfg.Name]
		if u == nil || !reflect.DeepEqual(u.cfg, cfg) {
			var err error
			if u, err = New(cfg, s.opts...); err != nil {
				errs = append(errs, err)
				continue
			}
			created = append(created, u)
		}
		next.byName[cfg.Name] = u
		next.order = append(next.order, u)
	}
	if len(errs) > 0 {
		for _, u := range created {
			u.Close()
		}
		return errors.Join(errs...)
	}
	s.cur.Store(next)
	for _, u := range old.order {
		if next.byName[u.name] != u {
			u.Close()
		}
	}
	return nil
}

// Get returns the upstream configured under name now.
func (s *Set) Get(name string) (*Upstream, bool) {
	u, ok := s.cur.Load().byName[name]
	return u, ok
}

// Handler returns the gateway.Handler of the upstream called name, or nil
// when the Set has none. The Handler looks the name up on every call: a
// call answers UNAVAILABLE when the name is no longer configured.
func (s *Set) Handler(name string) gateway.Handler {
	if _, ok := s.Get(name); !ok {
		return nil
	}
	return &setHandler{set: s, name: name, errGone: status.Errorf(codes.Unavailable, "upstream %s: not configured", name)}
}

type setHandler struct {
	set     *Set
	name    string
	errGone error
}

func (h *setHandler) Serve(req *gateway.Request, st gateway.Stream) error {
	// An Update may close the upstream between the lookup and the call;
	// the call then has not touched the stream and goes to the successor.
	for range 3 {
		u, ok := h.set.Get(h.name)
		if !ok {
			return h.errGone
		}
		err := u.serve(req, st)
		ce, closed := err.(closedError)
		if !closed {
			return err
		}
		if next, _ := h.set.Get(h.name); next == u {
			return ce.error
		}
	}
	return h.errGone
}

// Status returns every upstream's state, in configuration order.
func (s *Set) Status() []UpstreamStatus {
	st := s.cur.Load()
	out := make([]UpstreamStatus, 0, len(st.order))
	for _, u := range st.order {
		out = append(out, u.Status())
	}
	return out
}

// Ready reports whether every upstream has an endpoint that takes calls;
// if not, reason names the first that has none.
func (s *Set) Ready() (ready bool, reason string) {
	for _, u := range s.cur.Load().order {
		if !u.Ready() {
			return false, "upstream " + u.name + ": no healthy endpoint"
		}
	}
	return true, ""
}

// Close closes every upstream (see Upstream.Close); the Set holds none
// afterwards. Idempotent.
func (s *Set) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	old := s.cur.Swap(&setState{byName: map[string]*Upstream{}})
	for _, u := range old.order {
		u.Close()
	}
}
