package mcp_test

// Publish/subscribe over MCP/1 (mcp.WithBus, Conn.Subscribe, Conn.Publish)
// against real loopback servers and an in-process bus. Waits are bounded by
// psGuard; they guard against hangs and are never assertions on timing.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/mcpbridge/mcpbridge/mcp"
	"github.com/mcpbridge/mcpbridge/pubsub"
)

const psGuard = 20 * time.Second

// psServer serves bus over MCP on a fresh loopback port until the test ends.
func psServer(t testing.TB, bus pubsub.Bus, opts ...mcp.ServerOption) (string, *mcp.Server) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer(append([]mcp.ServerOption{mcp.WithBus(bus)}, opts...)...)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != mcp.ErrServerClosed {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	return lis.Addr().String(), srv
}

func psDial(t testing.TB, addr string, opts ...mcp.DialOption) *mcp.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), psGuard)
	defer cancel()
	conn, err := mcp.Dial(ctx, addr, opts...)
	if err != nil {
		t.Fatalf("Dial(%s) = %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func psCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), psGuard)
	t.Cleanup(cancel)
	return ctx
}

func psSubscribe(t testing.TB, conn *mcp.Conn, filter string, opts ...mcp.SubscribeOption) *mcp.Subscription {
	t.Helper()
	sub, err := conn.Subscribe(psCtx(t), filter, opts...)
	if err != nil {
		t.Fatalf("Subscribe(%q) = %v", filter, err)
	}
	return sub
}

// psRecv returns the next message of sub.
func psRecv(t testing.TB, sub *mcp.Subscription) *pubsub.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		if !ok {
			t.Fatalf("subscription %q ended: %v", sub.Filter(), sub.Err())
		}
		return m
	case <-time.After(psGuard):
		t.Fatalf("no message on %q after %v", sub.Filter(), psGuard)
	}
	return nil
}

// waitUntil polls cond until it holds (or fails the test after psGuard).
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(psGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitSubs(t testing.TB, bus pubsub.Bus, n int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("the bus holds %d subscriptions", n), func() bool { return bus.Stats().Subscriptions == n })
}

// Wildcards: each subscriber receives exactly the messages its filter
// matches, in publish order, with the concrete topic. After the test
// topics, one sentinel per filter is published; a subscriber reads until its
// own sentinel, which follows everything else from the same publisher.
func TestPubSubWildcards(t *testing.T) {
	bus := pubsub.NewLocal()
	defer bus.Close()
	addr, _ := psServer(t, bus)
	subConn, pubConn := psDial(t, addr), psDial(t, addr)
	ctx := psCtx(t)

	filters := []string{"a/b/c", "a/+/c", "a/#", "#", "+/+", "a/+", "$SYS/#", "+/b/#"}
	topics := []string{"a", "a/b", "a/b/c", "a/x/c", "a/b/c/d", "b/b", "b/b/c", "a/", "$SYS/uptime", "x/b"}
	subs := make([]*mcp.Subscription, len(filters))
	for i, f := range filters {
		subs[i] = psSubscribe(t, subConn, f)
	}
	for i, topic := range topics {
		opts := []mcp.PublishOption{}
		if i%2 == 0 {
			opts = append(opts, mcp.WithConfirm())
		}
		if err := pubConn.Publish(ctx, topic, []byte(topic), opts...); err != nil {
			t.Fatalf("Publish(%q) = %v", topic, err)
		}
	}
	sentinel := func(f string) string {
		f = strings.ReplaceAll(f, "+", "s")
		return strings.ReplaceAll(f, "#", "s")
	}
	for _, f := range filters {
		if err := pubConn.Publish(ctx, sentinel(f), []byte("sentinel:"+f), mcp.WithConfirm()); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range filters {
		var want, got []string
		for _, topic := range topics {
			if pubsub.Match(f, topic) {
				want = append(want, topic)
			}
		}
		for {
			m := psRecv(t, subs[i])
			if p := string(m.Payload); strings.HasPrefix(p, "sentinel:") {
				if p == "sentinel:"+f {
					break
				}
				continue
			}
			if string(m.Payload) != m.Topic {
				t.Fatalf("%q: message on %q carries %q", f, m.Topic, m.Payload)
			}
			got = append(got, m.Topic)
		}
		if !slices.Equal(got, want) {
			t.Errorf("filter %q received %q, want %q", f, got, want)
		}
	}
}

// Queue groups: 3 members on 3 connections share 300 messages evenly (the
// local bus takes turns), and a subscriber outside the group gets them all.
func TestPubSubQueueGroup(t *testing.T) {
	bus := pubsub.NewLocal()
	defer bus.Close()
	addr, _ := psServer(t, bus)
	ctx := psCtx(t)
	const n = 300
	var members []*mcp.Subscription
	for range 3 {
		members = append(members, psSubscribe(t, psDial(t, addr), "jobs/+", mcp.WithQueueGroup("workers")))
	}
	all := psSubscribe(t, psDial(t, addr), "jobs/#")
	if members[0].Queue() != "workers" || all.Queue() != "" {
		t.Fatalf("Queue() = %q, %q", members[0].Queue(), all.Queue())
	}
	pub := psDial(t, addr)
	for i := range n {
		if err := pub.Publish(ctx, fmt.Sprintf("jobs/%d", i%7), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		psRecv(t, all)
	}
	counts := make([]int, len(members))
	total := 0
	for total < n {
		for i, m := range members {
			select {
			case <-m.C():
				counts[i]++
				total++
			default:
			}
		}
		if total < n {
			time.Sleep(time.Millisecond)
		}
	}
	for i, c := range counts {
		if c < n/3-n/30 || c > n/3+n/30 {
			t.Errorf("member %d got %d of %d messages, want %d ± 10%%", i, c, n, n/3)
		}
	}
	if st := bus.Stats(); st.Delivered != 2*n || st.Dropped != 0 {
		t.Errorf("Stats = %+v, want %d delivered, none dropped", st, 2*n)
	}
}

// Headers travel as metadata both ways, content-type included, and the
// publisher's credentials do not reach subscribers.
func TestPubSubHeaders(t *testing.T) {
	bus := pubsub.NewLocal()
	defer bus.Close()
	addr, _ := psServer(t, bus)
	conn := psDial(t, addr)
	sub := psSubscribe(t, conn, "h/#")
	ctx := metadata.AppendToOutgoingContext(psCtx(t), "authorization", "Bearer secret", "x-trace", "t1")
	h := pubsub.Header{}
	h.Set("content-type", "application/json")
	h.Add("x-multi", "1")
	h.Add("x-multi", "2")
	h.Set("blob-bin", "\x00\xff")
	if err := conn.Publish(ctx, "h/1", []byte(`{}`), mcp.WithHeader(h), mcp.WithConfirm()); err != nil {
		t.Fatal(err)
	}
	m := psRecv(t, sub)
	want := pubsub.Header{
		"content-type": {"application/json"},
		"x-multi":      {"1", "2"},
		"blob-bin":     {"\x00\xff"},
		"x-trace":      {"t1"},
	}
	if !m.Header.Equal(want) || m.Topic != "h/1" || string(m.Payload) != "{}" {
		t.Fatalf("received %q %q %v, want header %v", m.Topic, m.Payload, m.Header, want)
	}

	// A message published on the bus itself, with headers MCP cannot
	// carry: those are left out, the rest arrives.
	bh := pubsub.Header{"Bad Key": {"x"}, "ok": {"fine", "bad\nvalue"}, "authorization": {"no"}}
	if err := bus.Publish(ctx, &pubsub.Message{Topic: "h/2", Header: bh}); err != nil {
		t.Fatal(err)
	}
	m = psRecv(t, sub)
	if !m.Header.Equal(pubsub.Header{"ok": {"fine"}}) || m.Payload != nil {
		t.Fatalf("received %v %q, want only ok: fine and no payload", m.Header, m.Payload)
	}

	for _, bad := range []pubsub.Header{
		{"Upper": {"x"}},
		{":topic": {"x"}},
		{"authorization": {"x"}},
		{"x": {"line\nbreak"}},
	} {
		err := conn.Publish(ctx, "h/3", nil, mcp.WithHeader(bad))
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("Publish with header %v = %v, want INVALID_ARGUMENT", bad, err)
		}
	}
}

// Unsubscribe, CANCEL (a Subscribe whose context ends) and the
// connection's close leave no subscription on the bus and no goroutine.
func TestPubSubNothingLeftBehind(t *testing.T) {
	before := goleak.IgnoreCurrent() // what other tests may have left running
	bus := pubsub.NewLocal()
	defer bus.Close()
	addr, srv := psServer(t, bus)
	ctx := psCtx(t)
	conn := psDial(t, addr)
	var subs []*mcp.Subscription
	for i := range 10 {
		subs = append(subs, psSubscribe(t, conn, fmt.Sprintf("leak/%d/#", i)))
	}
	if n := bus.Stats().Subscriptions; n != 10 {
		t.Fatalf("bus holds %d subscriptions, want 10", n)
	}
	// Unsubscribe returns once the server has unsubscribed from the bus.
	for i, s := range subs[:5] {
		if err := s.Unsubscribe(ctx); err != nil {
			t.Fatal(err)
		}
		if n := bus.Stats().Subscriptions; n != 10-i-1 {
			t.Fatalf("after %d Unsubscribe the bus holds %d subscriptions", i+1, n)
		}
		if _, ok := <-s.C(); ok || !errors.Is(s.Err(), pubsub.ErrUnsubscribed) {
			t.Fatalf("after Unsubscribe: C open %v, Err %v", ok, s.Err())
		}
		if err := s.Unsubscribe(ctx); err != nil {
			t.Fatalf("second Unsubscribe = %v", err)
		}
	}
	// The connection's calls still work beside the subscriptions.
	if err := conn.Publish(ctx, "leak/9/x", []byte("m"), mcp.WithConfirm()); err != nil {
		t.Fatal(err)
	}
	if m := psRecv(t, subs[9]); string(m.Payload) != "m" {
		t.Fatalf("got %q", m.Payload)
	}
	// A second connection subscribes, and goes away with its connection.
	other := psDial(t, addr)
	for i := range 20 {
		psSubscribe(t, other, fmt.Sprintf("other/%d", i))
	}
	waitSubs(t, bus, 25)
	other.Close()
	waitSubs(t, bus, 5)
	conn.Close()
	waitSubs(t, bus, 0)
	for _, s := range subs[5:] {
		<-s.Done()
		if !errors.Is(s.Err(), mcp.ErrConnClosing) {
			t.Errorf("Err after Conn.Close = %v, want ErrConnClosing", s.Err())
		}
	}
	srv.Close()
	goleak.VerifyNone(t, before)
}

// A subscriber that does not read its channel loses messages on the client
// (counted), but its connection's reader never waits: another
// subscription on the same connection, and calls, go on.
func TestPubSubClientDropsCounted(t *testing.T) {
	bus := pubsub.NewLocal()
	defer bus.Close()
	addr, _ := psServer(t, bus)
	conn := psDial(t, addr)
	ctx := psCtx(t)
	stalled := psSubscribe(t, conn, "d/#", mcp.WithDeliveryQueue(8))
	healthy := psSubscribe(t, conn, "d/#")
	const n = 200
	for i := range n {
		if err := conn.Publish(ctx, "d/x", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if m := psRecv(t, healthy); m.Payload[0] != byte(i) {
			t.Fatalf("message %d has payload %d", i, m.Payload[0])
		}
	}
	waitUntil(t, "the stalled subscription's drops are counted", func() bool {
		return stalled.Dropped()+uint64(len(stalled.C())) == n
	})
	if len(stalled.C()) != 8 || stalled.Dropped() != n-8 {
		t.Fatalf("stalled: %d queued, %d dropped", len(stalled.C()), stalled.Dropped())
	}
	// The first 8 are the ones kept.
	for i := range 8 {
		if m := <-stalled.C(); m.Payload[0] != byte(i) {
			t.Fatalf("kept message %d has payload %d", i, m.Payload[0])
		}
	}
	if st := bus.Stats(); st.Dropped != 0 {
		t.Fatalf("the bus dropped %d: the server should not have seen a slow consumer", st.Dropped)
	}

	// With pubsub.Disconnect the client ends the subscription instead, and
	// tells the server, whose bus subscription goes away.
	strict := psSubscribe(t, conn, "s/#", mcp.WithDeliveryQueue(4), mcp.WithDeliveryPolicy(pubsub.Disconnect))
	before := bus.Stats().Subscriptions
	for range 10 {
		if err := conn.Publish(ctx, "s/x", nil); err != nil {
			t.Fatal(err)
		}
	}
	<-strict.Done()
	if status.Code(strict.Err()) != codes.ResourceExhausted {
		t.Fatalf("Err = %v, want RESOURCE_EXHAUSTED", strict.Err())
	}
	got := 0
	for range strict.C() {
		got++
	}
	if got != 4 {
		t.Fatalf("%d messages queued before the end, want 4", got)
	}
	waitSubs(t, bus, before-1)
}

// Conn.Publish and Conn.Subscribe validate before sending; the server
// validates again and answers with precise statuses; bounds answer
// RESOURCE_EXHAUSTED; a closed bus answers UNAVAILABLE.
func TestPubSubErrors(t *testing.T) {
	bus := pubsub.NewLocal(pubsub.WithMaxSubscriptions(3))
	addr, _ := psServer(t, bus, mcp.WithMaxSubscriptions(2))
	conn := psDial(t, addr)
	ctx := psCtx(t)

	for _, tc := range []struct {
		name string
		err  error
		code codes.Code
		msg  string
	}{
		{"publish wildcard", conn.Publish(ctx, "a/+", nil), codes.InvalidArgument, "wildcard"},
		{"publish empty", conn.Publish(ctx, "", nil, mcp.WithConfirm()), codes.InvalidArgument, "empty"},
		{"publish non-ASCII", conn.Publish(ctx, "café", nil, mcp.WithConfirm()), codes.InvalidArgument, "printable ASCII"},
		{"publish too large", conn.Publish(ctx, "a", make([]byte, 5<<20)), codes.ResourceExhausted, "exceeds"},
		{"subscribe bad filter", subErr(conn.Subscribe(ctx, "a/#/b")), codes.InvalidArgument, "'#' at level 2 is not the last level"},
		{"subscribe bad queue", subErr(conn.Subscribe(ctx, "a", mcp.WithQueueGroup("has space"))), codes.InvalidArgument, "queue name"},
	} {
		if status.Code(tc.err) != tc.code || !strings.Contains(tc.err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %v containing %q", tc.name, tc.err, tc.code, tc.msg)
		}
	}

	// The per-connection bound, then the bus's.
	psSubscribe(t, conn, "one")
	psSubscribe(t, conn, "two")
	if _, err := conn.Subscribe(ctx, "three"); status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "limit 2") {
		t.Fatalf("third Subscribe on one connection = %v, want RESOURCE_EXHAUSTED", err)
	}
	other := psDial(t, addr)
	psSubscribe(t, other, "three")
	if _, err := other.Subscribe(ctx, "four"); status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "too many subscriptions") {
		t.Fatalf("Subscribe past the bus's bound = %v, want RESOURCE_EXHAUSTED", err)
	}

	// The bus closes: confirmed publishes fail with UNAVAILABLE, fire-and-
	// forget ones are silently dropped.
	bus.Close()
	if err := conn.Publish(ctx, "a", nil, mcp.WithConfirm()); status.Code(err) != codes.Unavailable {
		t.Fatalf("confirmed Publish on a closed bus = %v, want UNAVAILABLE", err)
	}
	if err := conn.Publish(ctx, "a", nil); err != nil {
		t.Fatalf("fire-and-forget Publish on a closed bus = %v, want nil", err)
	}
	if _, err := other.Subscribe(ctx, "a"); status.Code(err) != codes.Unavailable {
		t.Fatalf("Subscribe on a closed bus = %v, want UNAVAILABLE", err)
	}
}

func subErr(_ *mcp.Subscription, err error) error { return err }

// A server without a bus answers UNIMPLEMENTED.
func TestPubSubWithoutBus(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer()
	go srv.Serve(lis)
	defer srv.Close()
	conn := psDial(t, lis.Addr().String())
	ctx := psCtx(t)
	if _, err := conn.Subscribe(ctx, "a"); status.Code(err) != codes.Unimplemented {
		t.Fatalf("Subscribe = %v, want UNIMPLEMENTED", err)
	}
	if err := conn.Publish(ctx, "a", nil, mcp.WithConfirm()); status.Code(err) != codes.Unimplemented {
		t.Fatalf("confirmed Publish = %v, want UNIMPLEMENTED", err)
	}
	if err := conn.Publish(ctx, "a", nil); err != nil {
		t.Fatalf("Publish = %v, want nil", err)
	}
}

// When the bus ends a subscription (here: the bus closes), the client's
// Subscription ends with the server's status and its channel closes.
func TestPubSubBusEndsSubscription(t *testing.T) {
	bus := pubsub.NewLocal()
	addr, _ := psServer(t, bus)
	conn := psDial(t, addr)
	sub := psSubscribe(t, conn, "e/#")
	bus.Close()
	select {
	case <-sub.Done():
	case <-time.After(psGuard):
		t.Fatal("subscription still live after the bus closed")
	}
	if status.Code(sub.Err()) != codes.Unavailable {
		t.Fatalf("Err = %v, want UNAVAILABLE", sub.Err())
	}
	if _, ok := <-sub.C(); ok {
		t.Fatal("C still open")
	}
}

// A stalled subscriber (a client that stopped reading its socket) costs the
// healthy subscriber on another connection nothing: it receives every
// message, about as fast as without the stalled one, while the stalled
// subscription's messages are dropped on the server's bus and counted.
func TestPubSubStalledSubscriberDoesNotSlowOthers(t *testing.T) {
	bus := pubsub.NewLocal()
	defer bus.Close()
	addr, _ := psServer(t, bus, mcp.WithWriteBufferLimit(64<<10), mcp.WithSubscriptionQueue(64, pubsub.DropNewest))
	pub := psDial(t, addr)
	healthy := psSubscribe(t, psDial(t, addr), "load/#", mcp.WithDeliveryQueue(pubsub.MaxQueueSize))
	ctx := psCtx(t)
	payload := make([]byte, 16<<10)
	const n = 2000

	// The publisher stays at most window messages ahead of the healthy
	// subscriber, less than a subscription's queue on the server: a healthy
	// subscriber loses nothing.
	const window = 32
	run := func() time.Duration {
		start := time.Now()
		var received atomic.Int64
		var wg sync.WaitGroup
		wg.Go(func() {
			for range n {
				psRecv(t, healthy)
				received.Add(1)
			}
		})
		for i := range n {
			for int64(i)-received.Load() >= window {
				time.Sleep(10 * time.Microsecond)
			}
			if err := pub.Publish(ctx, "load/x", payload); err != nil {
				t.Error(err)
				break
			}
		}
		wg.Wait()
		return time.Since(start)
	}
	alone := run()

	raw := dialRawPS(t, addr)
	raw.send(typeSubscribe, 1, topicMeta("load/#"), nil)
	if f := raw.next(); f.Type != typeResponse || f.SeqID != 1 || f.Status != 0 {
		t.Fatalf("SUBSCRIBE answered %v seq %d status %d", f.Type, f.SeqID, f.Status)
	}
	// From now on raw reads nothing: the server's writer for it backs up,
	// its pump waits and its bus queue of 64 fills.
	dropped0 := bus.Stats().Dropped
	withStalled := run()
	dropped := bus.Stats().Dropped - dropped0
	t.Logf("healthy subscriber: %d messages of %d B in %v alone, %v beside a stalled subscriber (%d dropped for it)", n, len(payload), alone, withStalled, dropped)
	if dropped == 0 {
		t.Fatal("nothing was dropped for the stalled subscriber")
	}
	if healthy.Dropped() != 0 {
		t.Fatalf("the healthy subscriber dropped %d", healthy.Dropped())
	}
	// Generous: the healthy subscriber is not held to the stalled one's pace.
	if withStalled > 10*alone+2*time.Second {
		t.Fatalf("the healthy subscriber took %v beside a stalled one, %v alone", withStalled, alone)
	}
}

// With the Disconnect policy the server ends a stalled subscription: when
// the client reads again it finds the deliveries that were queued, then a
// RESPONSE RESOURCE_EXHAUSTED for the subscription's id.
func TestPubSubSlowConsumerDisconnected(t *testing.T) {
	bus := pubsub.NewLocal()
	defer bus.Close()
	addr, _ := psServer(t, bus, mcp.WithWriteBufferLimit(32<<10), mcp.WithSubscriptionQueue(16, pubsub.Disconnect))
	raw := dialRawPS(t, addr)
	raw.send(typeSubscribe, 5, topicMeta("slow/+"), nil)
	if f := raw.next(); f.Type != typeResponse || f.SeqID != 5 || f.Status != 0 {
		t.Fatalf("SUBSCRIBE answered %v seq %d status %d", f.Type, f.SeqID, f.Status)
	}
	ctx := psCtx(t)
	payload := make([]byte, 32<<10)
	waitUntil(t, "the bus disconnects the stalled subscription", func() bool {
		for range 64 {
			if err := bus.Publish(ctx, &pubsub.Message{Topic: "slow/x", Payload: payload}); err != nil {
				t.Fatal(err)
			}
		}
		return bus.Stats().Subscriptions == 0
	})
	deliveries := 0
	for {
		f := raw.next()
		if f.SeqID != 5 {
			t.Fatalf("frame %v for seq %d", f.Type, f.SeqID)
		}
		if f.Type == typePublish {
			deliveries++
			continue
		}
		if f.Type != typeResponse || codes.Code(f.Status) != codes.ResourceExhausted {
			t.Fatalf("got %v status %d, want RESPONSE RESOURCE_EXHAUSTED", f.Type, f.Status)
		}
		break
	}
	if deliveries == 0 {
		t.Fatal("no delivery before the end")
	}
	t.Logf("%d deliveries, then RESOURCE_EXHAUSTED", deliveries)
	// The connection stands: a new subscription works.
	raw.send(typeSubscribe, 6, topicMeta("slow/+"), nil)
	if f := raw.next(); f.Type != typeResponse || f.SeqID != 6 || f.Status != 0 {
		t.Fatalf("SUBSCRIBE answered %v seq %d status %d", f.Type, f.SeqID, f.Status)
	}
}

// Conn.Close ends the subscriptions with ErrConnClosing.
func TestPubSubConnClose(t *testing.T) {
	bus := pubsub.NewLocal()
	defer bus.Close()
	addr, _ := psServer(t, bus)
	conn := psDial(t, addr)
	sub := psSubscribe(t, conn, "c")
	conn.Close()
	<-sub.Done()
	if !errors.Is(sub.Err(), mcp.ErrConnClosing) {
		t.Fatalf("Err = %v", sub.Err())
	}
	if err := sub.Unsubscribe(psCtx(t)); err != nil {
		t.Fatalf("Unsubscribe after close = %v", err)
	}
	waitSubs(t, bus, 0)
}

// The connection is lost (the server closes) and comes back (a new server
// on the same address): the subscription is made again on the new
// connection and receives what is published there.
func TestPubSubResubscribeAfterReconnect(t *testing.T) {
	bus := pubsub.NewLocal()
	defer bus.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	srv1 := mcp.NewServer(mcp.WithBus(bus))
	go srv1.Serve(lis)
	conn := psDial(t, addr, mcp.WithBackoff(mcp.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}))
	sub := psSubscribe(t, conn, "r/#", mcp.WithQueueGroup("g"))
	srv1.Close()
	waitSubs(t, bus, 0)

	lis2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	srv2 := mcp.NewServer(mcp.WithBus(bus))
	go srv2.Serve(lis2)
	defer srv2.Close()
	waitSubs(t, bus, 1)
	if err := bus.Publish(psCtx(t), &pubsub.Message{Topic: "r/1", Payload: []byte("again")}); err != nil {
		t.Fatal(err)
	}
	if m := psRecv(t, sub); string(m.Payload) != "again" {
		t.Fatalf("got %q", m.Payload)
	}
	if err := sub.Unsubscribe(psCtx(t)); err != nil {
		t.Fatal(err)
	}
	waitSubs(t, bus, 0)
}

// A server that drains (Shutdown) does not wait for subscriptions: it
// ends them with UNAVAILABLE, and a client moves them to the next server.
func TestPubSubDrainMovesSubscriptions(t *testing.T) {
	bus := pubsub.NewLocal()
	defer bus.Close()
	addr1, srv1 := psServer(t, bus)
	addr2, _ := psServer(t, bus)
	var target atomic.Value
	target.Store(addr1)
	dialer := func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", target.Load().(string))
	}
	conn := psDial(t, "switching", mcp.WithContextDialer(dialer))
	sub := psSubscribe(t, conn, "drain/#")
	target.Store(addr2)

	ctx, cancel := context.WithTimeout(context.Background(), psGuard)
	defer cancel()
	start := time.Now()
	if err := srv1.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	t.Logf("Shutdown took %v with a live subscription", time.Since(start))

	// The subscription is made again on the second server.
	waitUntil(t, "the subscription is delivered through the second server", func() bool {
		if err := bus.Publish(ctx, &pubsub.Message{Topic: "drain/x", Payload: []byte("moved")}); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-sub.C():
			return string(m.Payload) == "moved"
		case <-time.After(10 * time.Millisecond):
			return false
		}
	})
	if sub.Err() != nil {
		t.Fatalf("Err = %v", sub.Err())
	}
	waitSubs(t, bus, 1)
}

// The raw drain: GOAWAY, then RESPONSE UNAVAILABLE for the subscription,
// then the connection closes.
func TestPubSubDrainOnTheWire(t *testing.T) {
	bus := pubsub.NewLocal()
	defer bus.Close()
	addr, srv := psServer(t, bus)
	raw := dialRawPS(t, addr)
	raw.send(typeSubscribe, 3, topicMeta("w"), nil)
	if f := raw.next(); f.Type != typeResponse || f.Status != 0 {
		t.Fatalf("SUBSCRIBE answered %v status %d", f.Type, f.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), psGuard)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if f := raw.next(); f.Type != typeGoAway || f.Status != 0 {
		t.Fatalf("got %v status %d, want GOAWAY OK", f.Type, f.Status)
	}
	if f := raw.next(); f.Type != typeResponse || f.SeqID != 3 || codes.Code(f.Status) != codes.Unavailable {
		t.Fatalf("got %v seq %d status %d, want RESPONSE UNAVAILABLE for 3", f.Type, f.SeqID, f.Status)
	}
	raw.expectEOF()
	waitSubs(t, bus, 0)
}
