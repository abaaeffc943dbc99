package pubsubsvc_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/mcpbridge/mcpbridge/mcp"
	pubsubv1 "github.com/mcpbridge/mcpbridge/proto/pubsub/v1"
	"github.com/mcpbridge/mcpbridge/pubsub"
	"github.com/mcpbridge/mcpbridge/pubsub/pubsubsvc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// guard bounds every wait; it is a guard against hangs, not an assertion.
const guard = 20 * time.Second

// fronts is one bus served over gRPC (pubsub.v1.PubSub) and over MCP (the
// pub/sub frames, and pubsub.v1.PubSub as a service), with a client of each.
type fronts struct {
	bus  *pubsub.Local
	grpc pubsubv1.PubSubClient // over gRPC
	mcpc *mcp.Conn             // MCP frames
	mcps pubsubv1.PubSubClient // pubsub.v1.PubSub over MCP
}

func start(t *testing.T, opts ...pubsubsvc.Option) *fronts {
	t.Helper()
	bus := pubsub.NewLocal()
	t.Cleanup(func() { bus.Close() })
	svc := pubsubsvc.New(bus, opts...)

	glis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	pubsubv1.RegisterPubSubServer(gs, svc)
	go gs.Serve(glis)
	t.Cleanup(gs.Stop)

	mlis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms := mcp.NewServer(mcp.WithBus(bus))
	pubsubv1.RegisterPubSubServer(ms, svc)
	go ms.Serve(mlis)
	t.Cleanup(func() { ms.Close() })

	gc, err := grpc.NewClient(glis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gc.Close() })
	mc, err := mcp.Dial(ctx(t), mlis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mc.Close() })
	return &fronts{bus: bus, grpc: pubsubv1.NewPubSubClient(gc), mcpc: mc, mcps: pubsubv1.NewPubSubClient(mc)}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), guard)
	t.Cleanup(cancel)
	return c
}

// subscribe opens a Subscribe stream and waits until the subscription is
// in place (the response header).
func subscribe(t *testing.T, c pubsubv1.PubSubClient, req *pubsubv1.SubscribeRequest) pubsubv1.PubSub_SubscribeClient {
	t.Helper()
	s, err := c.Subscribe(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Header(); err != nil {
		t.Fatalf("Header = %v", err)
	}
	return s
}

func recvMCP(t *testing.T, s *mcp.Subscription) *pubsub.Message {
	t.Helper()
	select {
	case m, ok := <-s.C():
		if !ok {
			t.Fatalf("subscription ended: %v", s.Err())
		}
		return m
	case <-time.After(guard):
		t.Fatal("no message")
	}
	return nil
}

func waitSubs(t *testing.T, bus pubsub.Bus, n int) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for bus.Stats().Subscriptions != n {
		if time.Now().After(deadline) {
			t.Fatalf("the bus holds %d subscriptions, want %d", bus.Stats().Subscriptions, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A gRPC subscriber sees what an MCP client publishes with PUBLISH frames,
// headers included.
func TestMCPToGRPC(t *testing.T) {
	f := start(t)
	s := subscribe(t, f.grpc, &pubsubv1.SubscribeRequest{Filter: "orders/+/created"})
	h := pubsub.Header{}
	h.Set("content-type", "application/json")
	h.Add("x-tag", "a")
	h.Add("x-tag", "b")
	h.Set("sig-bin", "\x00\x01\xff")
	if err := f.mcpc.Publish(ctx(t), "orders/eu/created", []byte(`{"id":1}`), mcp.WithHeader(h)); err != nil {
		t.Fatal(err)
	}
	if err := f.mcpc.Publish(ctx(t), "orders/eu/paid", nil, mcp.WithConfirm()); err != nil {
		t.Fatal(err)
	}
	if err := f.mcpc.Publish(ctx(t), "orders/us/created", []byte("2"), mcp.WithConfirm()); err != nil {
		t.Fatal(err)
	}
	m, err := s.Recv()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"content-type": "application/json",
		"x-tag":        "a, b",
		"sig-bin":      base64.StdEncoding.EncodeToString([]byte("\x00\x01\xff")),
	}
	if m.Topic != "orders/eu/created" || string(m.Payload) != `{"id":1}` || !equalMaps(m.Headers, want) {
		t.Fatalf("got %q %q %v, want headers %v", m.Topic, m.Payload, m.Headers, want)
	}
	if m, err = s.Recv(); err != nil || m.Topic != "orders/us/created" || string(m.Payload) != "2" {
		t.Fatalf("got %v, %v", m, err)
	}
}

// An MCP subscriber sees what a gRPC client publishes, "-bin" headers
// decoded.
func TestGRPCToMCP(t *testing.T) {
	f := start(t)
	sub, err := f.mcpc.Subscribe(ctx(t), "orders/#")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.grpc.Publish(ctx(t), &pubsubv1.PublishRequest{
		Topic:   "orders/eu/created",
		Payload: []byte("p"),
		Headers: map[string]string{"X-Upper": "v", "k-bin": base64.RawStdEncoding.EncodeToString([]byte("\xfe")) + "," + base64.StdEncoding.EncodeToString([]byte("ab"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := recvMCP(t, sub)
	want := pubsub.Header{"x-upper": {"v"}, "k-bin": {"\xfe", "ab"}}
	if m.Topic != "orders/eu/created" || string(m.Payload) != "p" || !m.Header.Equal(want) {
		t.Fatalf("got %q %q %v, want header %v", m.Topic, m.Payload, m.Header, want)
	}
}

// pubsub.v1.PubSub served over MCP is the same bus again: its subscriber
// sees gRPC publishes and MCP frames, and its Publish reaches both kinds of
// subscriber.
func TestPubSubServiceOverMCP(t *testing.T) {
	f := start(t)
	overMCP := subscribe(t, f.mcps, &pubsubv1.SubscribeRequest{Filter: "x/#"})
	overGRPC := subscribe(t, f.grpc, &pubsubv1.SubscribeRequest{Filter: "x/#"})
	frames, err := f.mcpc.Subscribe(ctx(t), "x/#")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.grpc.Publish(ctx(t), &pubsubv1.PublishRequest{Topic: "x/1", Payload: []byte("from grpc")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.mcps.Publish(ctx(t), &pubsubv1.PublishRequest{Topic: "x/2", Payload: []byte("from the service over mcp")}); err != nil {
		t.Fatal(err)
	}
	if err := f.mcpc.Publish(ctx(t), "x/3", []byte("from mcp frames"), mcp.WithConfirm()); err != nil {
		t.Fatal(err)
	}
	want := []string{"from grpc", "from the service over mcp", "from mcp frames"}
	for _, s := range []pubsubv1.PubSub_SubscribeClient{overMCP, overGRPC} {
		for _, w := range want {
			m, err := s.Recv()
			if err != nil || string(m.Payload) != w {
				t.Fatalf("got %v, %v, want %q", m, err, w)
			}
		}
	}
	for _, w := range want {
		if m := recvMCP(t, frames); string(m.Payload) != w {
			t.Fatalf("got %q, want %q", m.Payload, w)
		}
	}
}

// Queue groups across the fronts: one group with a gRPC member and an MCP
// member shares the messages.
func TestQueueGroupAcrossFronts(t *testing.T) {
	f := start(t)
	g := subscribe(t, f.grpc, &pubsubv1.SubscribeRequest{Filter: "q/#", Queue: "workers"})
	m, err := f.mcpc.Subscribe(ctx(t), "q/#", mcp.WithQueueGroup("workers"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for range n {
		if _, err := f.grpc.Publish(ctx(t), &pubsubv1.PublishRequest{Topic: "q/x"}); err != nil {
			t.Fatal(err)
		}
	}
	for range n / 2 {
		if _, err := g.Recv(); err != nil {
			t.Fatal(err)
		}
		recvMCP(t, m)
	}
	if st := f.bus.Stats(); st.Delivered != n {
		t.Fatalf("Stats = %+v", st)
	}
}

// Errors are statuses: INVALID_ARGUMENT for bad names and headers,
// UNAVAILABLE once the bus is closed.
func TestErrors(t *testing.T) {
	f := start(t)
	for name, c := range map[string]pubsubv1.PubSubClient{"grpc": f.grpc, "mcp": f.mcps} {
		for _, tc := range []struct {
			what string
			err  error
			code codes.Code
		}{
			{"publish wildcard", publishErr(c.Publish(ctx(t), &pubsubv1.PublishRequest{Topic: "a/+"})), codes.InvalidArgument},
			{"publish empty topic", publishErr(c.Publish(ctx(t), &pubsubv1.PublishRequest{})), codes.InvalidArgument},
			{"publish bad base64", publishErr(c.Publish(ctx(t), &pubsubv1.PublishRequest{Topic: "a", Headers: map[string]string{"x-bin": "!!"}})), codes.InvalidArgument},
			{"subscribe bad filter", recvErr(t, c, &pubsubv1.SubscribeRequest{Filter: "a/#/b"}), codes.InvalidArgument},
			{"subscribe bad queue", recvErr(t, c, &pubsubv1.SubscribeRequest{Filter: "a", Queue: "a b"}), codes.InvalidArgument},
		} {
			if status.Code(tc.err) != tc.code {
				t.Errorf("%s: %s = %v, want %v", name, tc.what, tc.err, tc.code)
			}
		}
	}
	s := subscribe(t, f.grpc, &pubsubv1.SubscribeRequest{Filter: "#"})
	f.bus.Close()
	if _, err := s.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("Recv after bus Close = %v, want UNAVAILABLE", err)
	}
	if _, err := f.grpc.Publish(ctx(t), &pubsubv1.PublishRequest{Topic: "a"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("Publish after bus Close = %v, want UNAVAILABLE", err)
	}
	if err := recvErr(t, f.grpc, &pubsubv1.SubscribeRequest{Filter: "a"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("Subscribe after bus Close = %v, want UNAVAILABLE", err)
	}
}

func publishErr(_ *pubsubv1.PublishResponse, err error) error { return err }

func recvErr(t *testing.T, c pubsubv1.PubSubClient, req *pubsubv1.SubscribeRequest) error {
	s, err := c.Subscribe(ctx(t), req)
	if err != nil {
		return err
	}
	_, err = s.Recv()
	return err
}

// A gRPC subscriber that stops reading is disconnected under the
// Disconnect policy: once its queue of 4 overflows, the call ends with
// RESOURCE_EXHAUSTED after the messages already on their way.
func TestSlowConsumerDisconnected(t *testing.T) {
	f := start(t, pubsubsvc.WithSubscribeOptions(pubsub.WithQueueSize(4), pubsub.WithSlowConsumerPolicy(pubsub.Disconnect)))
	s := subscribe(t, f.grpc, &pubsubv1.SubscribeRequest{Filter: "slow"})
	payload := make([]byte, 256<<10)
	deadline := time.Now().Add(guard)
	for f.bus.Stats().Subscriptions != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled subscriber was not disconnected")
		}
		if err := f.bus.Publish(ctx(t), &pubsub.Message{Topic: "slow", Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for {
		_, err := s.Recv()
		if err == nil {
			n++
			continue
		}
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("after %d messages: %v, want RESOURCE_EXHAUSTED", n, err)
		}
		break
	}
	t.Logf("%d messages, then RESOURCE_EXHAUSTED; %d dropped", n, f.bus.Stats().Dropped)
}

// Ending the call (client cancel, or the connection) takes the subscription
// off the bus.
func TestCancelUnsubscribes(t *testing.T) {
	f := start(t)
	for _, c := range []pubsubv1.PubSubClient{f.grpc, f.mcps} {
		cctx, cancel := context.WithCancel(context.Background())
		s, err := c.Subscribe(cctx, &pubsubv1.SubscribeRequest{Filter: "c/#"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Header(); err != nil {
			t.Fatal(err)
		}
		waitSubs(t, f.bus, 1)
		cancel()
		if _, err := s.Recv(); status.Code(err) != codes.Canceled && !errors.Is(err, io.EOF) {
			t.Fatalf("Recv after cancel = %v", err)
		}
		waitSubs(t, f.bus, 0)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
