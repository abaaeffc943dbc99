package upstream_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway/config"
	"github.com/mcpbridge/mcpbridge/gateway/upstream"
)

// fakeDNS answers lookups of one name from a list the test sets.
type fakeDNS struct {
	name string
	mu   sync.Mutex
	ips  []string
	err  error
}

func (d *fakeDNS) set(ips []string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ips, d.err = ips, err
}

func (d *fakeDNS) lookup(_ context.Context, host string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if host != d.name {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return slices.Clone(d.ips), d.err
}

// TestDNS: endpoints follow the name's addresses: added ones take calls,
// a removed one leaves the rotation at once and closes its connection once
// its last call ends, and a failed or empty answer keeps the last good set.
func TestDNS(t *testing.T) {
	for _, p := range []string{"grpc", "mcp"} {
		t.Run(p, func(t *testing.T) {
			port := freePortOn(t, "127.0.0.1", "127.0.0.2", "127.0.0.3")
			b1 := startBackend(t, p, "b1", net.JoinHostPort("127.0.0.1", port))
			b2 := startBackend(t, p, "b2", net.JoinHostPort("127.0.0.2", port))
			b3 := startBackend(t, p, "b3", net.JoinHostPort("127.0.0.3", port))
			dns := &fakeDNS{name: "backends.test"}
			dns.set([]string{"127.0.0.1", "127.0.0.1"}, nil) // duplicates collapse
			const refresh = 90 * time.Minute
			cfg := upstreamConfig("users", p, "round_robin")
			cfg.DNS = &config.DNS{Name: "backends.test:" + port, Refresh: config.Duration(refresh)}
			tk, ev := newTickers(), newEvents()
			u := newUpstream(t, cfg, upstream.WithResolver(dns.lookup), upstream.WithTicker(tk.New), upstream.WithObserver(ev.observe))
			ctx := guardCtx(t)

			st := u.Status()
			if st.DNS != cfg.DNS.Name || len(st.Endpoints) != 1 || st.Endpoints[0].Addr != b1.addr {
				t.Fatalf("after the first resolution: %+v", st)
			}
			for range 4 {
				if id, _, err := unary(ctx, t, u, "1", nil); err != nil || id != "b1" {
					t.Fatalf("call = %q, %v", id, err)
				}
			}

			// A stream open on b1 while b1 goes away.
			held := newStream(ctx)
			done := make(chan error, 1)
			go func() { done <- serve(u, grpcDoor.request(pathChat, nil), held, held) }()
			held.send(t, &chatMsg{Text: "one"})
			<-held.gotMsg

			dns.set([]string{"127.0.0.3", "127.0.0.2"}, nil)
			tk.tick(t, refresh)
			// One refresh reports the removal, then the additions.
			ev.wait(t, upstream.EventRemoved, b1.addr)
			ev.wait(t, upstream.EventAdded, b2.addr)
			ev.wait(t, upstream.EventAdded, b3.addr)
			seen := map[string]int{}
			for range 10 {
				id, _, err := unary(ctx, t, u, "1", nil)
				if err != nil {
					t.Fatal(err)
				}
				seen[id]++
			}
			if seen["b2"] != 5 || seen["b3"] != 5 {
				t.Errorf("after the change: %v, want b2 and b3 5 each", seen)
			}
			// b1's connection stays for the stream, which goes on.
			if n := b1.closed.Load(); n != 0 {
				t.Fatalf("b1's connection closed under a call (%d)", n)
			}
			held.send(t, &chatMsg{Text: "two"})
			<-held.gotMsg
			close(held.in)
			if err := <-done; err != nil || len(held.messages()) != 2 {
				t.Fatalf("stream on the removed endpoint = %v, %d echoes", err, len(held.messages()))
			}
			waitFor(t, "b1's connection closes after its last call", func() bool { return b1.closed.Load() == b1.accepted.Load() })

			// Failed and empty answers keep the set.
			for _, bad := range []struct {
				ips []string
				err error
			}{{nil, errors.New("SERVFAIL")}, {nil, nil}} {
				dns.set(bad.ips, bad.err)
				tk.tick(t, refresh)
				ev.wait(t, upstream.EventResolveFailed, "")
				if n := len(u.Status().Endpoints); n != 2 {
					t.Fatalf("after a failed resolution %d endpoints, want the last good 2", n)
				}
				if _, _, err := unary(ctx, t, u, "1", nil); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
