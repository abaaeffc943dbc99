package mcp_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// nameService answers Who with the server's name, and Slow once release is
// closed.
func nameService(name string, entered chan<- struct{}, release <-chan struct{}) func(*mcp.Server) {
	return registerTest(map[string]unaryFunc{
		"Who": func(context.Context, string) (string, error) { return name, nil },
		"Slow": func(ctx context.Context, _ string) (string, error) {
			entered <- struct{}{}
			select {
			case <-release:
				return name, nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		},
	})
}

// A server restarted on the same address: the Conn redials and later calls
// succeed; while nothing listens, fail-fast calls get UNAVAILABLE.
func TestReconnectAfterServerRestart(t *testing.T) {
	a := startServerAt(t, "", nameService("A", nil, nil))
	conn := dial(t, a.addr, mcp.WithBackoff(mcp.Backoff{Base: 5 * time.Millisecond, Max: 20 * time.Millisecond}))
	ctx := guardCtx(t)
	if who, err := callString(ctx, conn, "Who", ""); err != nil || who != "A" {
		t.Fatalf("Who = %q, %v", who, err)
	}
	a.Close()
	waitFor(t, "the Conn to lose its connection", func() bool { return !conn.Ready() })
	if _, err := callString(ctx, conn, "Who", ""); status.Code(err) != codes.Unavailable {
		t.Fatalf("call with no server = %v, want UNAVAILABLE", err)
	}
	startServerAt(t, a.addr, nameService("B", nil, nil))
	// WaitForReady rides out the rest of the outage.
	if who, err := callString(ctx, conn, "Who", "", grpc.WaitForReady(true)); err != nil || who != "B" {
		t.Fatalf("Who after restart = %q, %v; want B", who, err)
	}
	if who, err := callString(ctx, conn, "Who", ""); err != nil || who != "B" {
		t.Fatalf("Who = %q, %v; want B", who, err)
	}
}

// flakyNet is a dialer over a pipeListener that can be taken down: while
// down, dials fail; kill closes the connection it made last.
type flakyNet struct {
	lis   *pipeListener
	down  atomic.Bool
	mu    sync.Mutex
	last  net.Conn
	times []time.Time // every attempt
}

func (n *flakyNet) dial(ctx context.Context, addr string) (net.Conn, error) {
	n.mu.Lock()
	n.times = append(n.times, time.Now())
	n.mu.Unlock()
	if n.down.Load() {
		return nil, syscall.ECONNREFUSED
	}
	c, err := n.lis.Dial(ctx, addr)
	if err == nil {
		n.mu.Lock()
		n.last = c
		n.mu.Unlock()
	}
	return c, err
}

func (n *flakyNet) kill() {
	n.down.Store(true)
	n.mu.Lock()
	n.last.Close()
	n.mu.Unlock()
}

func (n *flakyNet) attempts() []time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]time.Time(nil), n.times...)
}

// The redial schedule, on a fake clock: the first attempt soon after the
// loss (within Base/4), then Base × Multiplier^n capped at Max. During the
// outage fail-fast calls get UNAVAILABLE and WaitForReady calls wait; the
// first successful attempt serves them.
func TestReconnectBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := mcp.NewServer()
		nameService("S", nil, nil)(srv)
		lis, stop := servePipe(t, srv)
		defer stop()
		fn := &flakyNet{lis: lis}
		b := mcp.Backoff{Base: time.Second, Multiplier: 2, Jitter: 1e-9, Max: 8 * time.Second}
		conn, err := mcp.Dial(t.Context(), "pipe", mcp.WithContextDialer(fn.dial), mcp.WithBackoff(b))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if who, err := callString(t.Context(), conn, "Who", ""); err != nil || who != "S" {
			t.Fatalf("Who = %q, %v", who, err)
		}

		lost := time.Now()
		fn.kill()
		// Fail fast: UNAVAILABLE, once the first attempt has failed.
		if _, err := callString(t.Context(), conn, "Who", ""); status.Code(err) != codes.Unavailable {
			t.Fatalf("fail-fast call during the outage = %v, want UNAVAILABLE", err)
		}
		// WaitForReady: waits through the failed attempts.
		wfr := make(chan error, 1)
		go func() {
			who, err := callString(t.Context(), conn, "Who", "", grpc.WaitForReady(true))
			if err == nil && who != "S" {
				err = errors.New("wrong server " + who)
			}
			wfr <- err
		}()
		time.Sleep(20 * time.Second) // the outage, on the fake clock
		synctest.Wait()
		select {
		case err := <-wfr:
			t.Fatalf("WaitForReady call ended during the outage: %v", err)
		default:
		}
		fn.down.Store(false)
		if err := <-wfr; err != nil {
			t.Fatalf("WaitForReady call = %v", err)
		}
		restored := time.Now()

		at := fn.attempts()[1:] // [0] was the first Dial
		if len(at) < 2 {
			t.Fatalf("%d redial attempts", len(at))
		}
		if first := at[0].Sub(lost); first < 0 || first >= b.Base/4 {
			t.Errorf("first redial %v after the loss, want within Base/4", first)
		}
		want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
		var gaps []time.Duration
		for i := 1; i < len(at); i++ {
			gaps = append(gaps, at[i].Sub(at[i-1]).Round(time.Millisecond))
		}
		if !durationsEqual(gaps, want[:len(gaps)]) || len(gaps) != 5 {
			t.Errorf("gaps between attempts %v, want %v", gaps, want[:5])
		}
		if !at[len(at)-1].Equal(restored) {
			t.Errorf("the WaitForReady call ended at %v, the successful attempt was at %v", restored.Sub(lost), at[len(at)-1].Sub(lost))
		}
		if who, err := callString(t.Context(), conn, "Who", ""); err != nil || who != "S" {
			t.Fatalf("Who after the outage = %q, %v", who, err)
		}
	})
}

// A draining server's GOAWAY moves new calls to a new connection (here, to
// another server) at once, while the call in flight on the old one
// finishes there.
func TestGoAwayMovesCalls(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	s1 := startServer(t, nameService("S1", entered, release))
	s2 := startServer(t, nameService("S2", nil, nil))
	var dials atomic.Int32
	dialer := func(ctx context.Context, _ string) (net.Conn, error) {
		addr := s2.addr
		if dials.Add(1) == 1 {
			addr = s1.addr
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	// A backoff of an hour: only the GOAWAY's immediate redial can connect.
	conn := dial(t, "servers", mcp.WithContextDialer(dialer), mcp.WithBackoff(mcp.Backoff{Base: time.Hour}))
	ctx := guardCtx(t)

	inflight := make(chan error, 1)
	go func() {
		who, err := callString(ctx, conn, "Slow", "")
		if err == nil && who != "S1" {
			err = errors.New("in-flight call answered by " + who)
		}
		inflight <- err
	}()
	recv(t, entered)
	shut := make(chan error, 1)
	go func() { shut <- s1.Shutdown(ctx) }()

	waitFor(t, "the redial after GOAWAY", func() bool { return dials.Load() >= 2 })
	for range 10 {
		if who, err := callString(ctx, conn, "Who", ""); err != nil || who != "S2" {
			t.Fatalf("call after GOAWAY = %q, %v; want S2", who, err)
		}
	}
	close(release)
	if err := recv(t, inflight); err != nil {
		t.Fatalf("in-flight call = %v", err)
	}
	if err := recv(t, shut); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if n := dials.Load(); n != 2 {
		t.Fatalf("%d dials, want 2", n)
	}
}

// Close while a redial is connecting: the attempt that succeeds anyway
// (a dialer that ignores cancellation) must not wedge Close.
func TestCloseDuringRedial(t *testing.T) {
	ts := startServer(t, nameService("S", nil, nil))
	dialing := make(chan struct{}, 1)
	var dials atomic.Int32
	var first net.Conn
	dialer := func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		if dials.Add(1) == 1 {
			c, err := d.DialContext(ctx, "tcp", ts.addr)
			first = c
			return c, err
		}
		dialing <- struct{}{}
		<-ctx.Done() // Close cancels the attempt, but it connects all the same
		return d.DialContext(context.Background(), "tcp", ts.addr)
	}
	conn, err := mcp.Dial(guardCtx(t), "s", mcp.WithContextDialer(dialer), mcp.WithBackoff(mcp.Backoff{Base: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	recv(t, dialing)
	closed := make(chan error, 1)
	go func() { closed <- conn.Close() }()
	if err := recv(t, closed); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if _, err := callString(guardCtx(t), conn, "Who", ""); !errors.Is(err, mcp.ErrConnClosing) {
		t.Fatalf("call after Close = %v, want ErrConnClosing", err)
	}
}
