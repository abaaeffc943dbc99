package natsbus_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mcpbridge/mcpbridge/pubsub"
	"github.com/mcpbridge/mcpbridge/pubsub/natsbus"
)

var ctx = context.Background()

// node is one "process": its own NATS connection and bus.
type node struct {
	nc  *nats.Conn
	bus *natsbus.Bus
}

func newNode(t testing.TB, srv interface{ ClientURL() string }, opts ...natsbus.Option) *node {
	t.Helper()
	// nats.go reports its own slow-consumer drops to the connection's error
	// handler, which prints them by default; the tests count them instead.
	nc, err := nats.Connect(srv.ClientURL(), nats.NoReconnect(), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	bus, err := natsbus.New(nc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close() })
	return &node{nc: nc, bus: bus}
}

func (n *node) subscribe(t testing.TB, filter string, opts ...pubsub.SubscribeOption) pubsub.Subscription {
	t.Helper()
	s, err := n.bus.Subscribe(ctx, filter, opts...)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", filter, err)
	}
	return s
}

func (n *node) publish(t testing.TB, m *pubsub.Message) {
	t.Helper()
	if err := n.bus.Publish(ctx, m); err != nil {
		t.Fatalf("Publish(%q): %v", m.Topic, err)
	}
}

// settle waits until what pub published so far has gone through the
// callbacks of subs (see natsbus.Settle).
func settle(t testing.TB, pub *node, subs ...pubsub.Subscription) {
	t.Helper()
	if err := pub.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		if err := natsbus.Settle(s); err != nil {
			t.Fatal(err)
		}
	}
}

// queued returns the messages in s's queue now, without waiting.
func queued(s pubsub.Subscription) []*pubsub.Message {
	var out []*pubsub.Message
	for {
		select {
		case m, ok := <-s.C():
			if !ok {
				return out
			}
			out = append(out, m)
		default:
			return out
		}
	}
}

// receive waits for one message on s; the timeout only guards against a
// hang, it is not a measurement.
func receive(t testing.TB, s pubsub.Subscription) *pubsub.Message {
	t.Helper()
	select {
	case m, ok := <-s.C():
		if !ok {
			t.Fatalf("%s: subscription ended: %v", s.Filter(), s.Err())
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no message", s.Filter())
	}
	return nil
}

func TestTwoNodesBothWays(t *testing.T) {
	srv := runServer(t)
	a, b := newNode(t, srv), newNode(t, srv)
	onA := a.subscribe(t, "orders/+/created")
	onB := b.subscribe(t, "orders/#")

	a.publish(t, &pubsub.Message{Topic: "orders/eu/created", Payload: []byte("from a")})
	b.publish(t, &pubsub.Message{Topic: "orders/us/created", Payload: []byte("from b")})
	b.publish(t, &pubsub.Message{Topic: "orders", Payload: []byte("parent")}) // "orders/#" matches "orders"

	settle(t, a, onA, onB)
	settle(t, b, onA, onB)
	got := func(s pubsub.Subscription) string {
		var out []string
		for _, m := range queued(s) {
			out = append(out, m.Topic+"="+string(m.Payload))
		}
		slices.Sort(out) // two publishers: no order between them
		return strings.Join(out, ",")
	}
	if g := got(onA); g != "orders/eu/created=from a,orders/us/created=from b" {
		t.Errorf("node a got %q", g)
	}
	if g := got(onB); g != "orders/eu/created=from a,orders/us/created=from b,orders=parent" {
		t.Errorf("node b got %q", g)
	}
	if st := a.bus.Stats(); st.Published != 1 || st.Delivered != 2 || st.Subscriptions != 1 {
		t.Errorf("node a Stats = %+v", st)
	}
}

// TestWildcardsAcrossNodes runs the matching table over NATS: a filter on
// one node, a topic published on the other.
func TestWildcardsAcrossNodes(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/b/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/", true},
		{"a/+", "a", false},
		{"a/+", "a/b/c", false},
		{"+/+", "/", true},
		{"a/#", "a", true},
		{"a/#", "a/", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"a/+/#", "a", false},
		{"a/+/#", "a/b", true},
		{"#", "x/y", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"+/#", "$SYS", false},
		{"$SYS/#", "$SYS/x", true},
		{"$SYS/#", "$SYS", true},
		{"$SYS/+", "$SYS/x", true},
		{"a/$x", "a/$x", true},
		{"a b/c.d", "a b/c.d", true},
		{"a b/+", "a b/c.d", true},
		{"a.b", "a/b", false},
		{"a/b", "a.b", false},
		{"*", "x", false},
		{"*", "*", true},
		{">", "a/b", false},
	}
	srv := runServer(t)
	pub, sub := newNode(t, srv), newNode(t, srv)
	for _, tt := range tests {
		t.Run(tt.filter+" "+tt.topic, func(t *testing.T) {
			s := sub.subscribe(t, tt.filter)
			defer s.Unsubscribe()
			pub.publish(t, &pubsub.Message{Topic: tt.topic})
			settle(t, pub, s)
			got := queued(s)
			if (len(got) == 1) != tt.want || len(got) > 1 {
				t.Fatalf("filter %q, topic %q: got %d messages, want match=%v", tt.filter, tt.topic, len(got), tt.want)
			}
			if tt.want && got[0].Topic != tt.topic {
				t.Errorf("topic %q arrived as %q", tt.topic, got[0].Topic)
			}
		})
	}
}

// TestEscapingRoundTrip publishes topics with everything NATS forbids in a
// subject and checks they arrive unchanged, by exact, '+' and '#' filters.
func TestEscapingRoundTrip(t *testing.T) {
	topics := []string{
		"a b/c.d/*/>/100%",
		"tab\there/x",
		"a//b",
		"/",
		"/lead",
		"trail/",
		"zähler/€/温度",
		"$SYS/broker",
		"%2E/%",
		"a/$/b",
	}
	srv := runServer(t)
	pub, sub := newNode(t, srv), newNode(t, srv)
	all := sub.subscribe(t, "#", pubsub.WithQueueSize(100))
	sys := sub.subscribe(t, "$SYS/#", pubsub.WithQueueSize(100))
	for _, topic := range topics {
		exact := sub.subscribe(t, topic)
		parts := strings.Split(topic, "/")
		parts[len(parts)-1] = "+"
		plus := sub.subscribe(t, strings.Join(parts, "/"))

		pub.publish(t, &pubsub.Message{Topic: topic, Payload: []byte(topic)})
		settle(t, pub, exact, plus)
		for _, s := range []pubsub.Subscription{exact, plus} {
			got := queued(s)
			if len(got) != 1 || got[0].Topic != topic || string(got[0].Payload) != topic {
				t.Errorf("filter %q: got %v for topic %q", s.Filter(), got, topic)
			}
			s.Unsubscribe()
		}
	}
	settle(t, pub, all, sys)
	var gotAll []string
	for _, m := range queued(all) {
		gotAll = append(gotAll, m.Topic)
	}
	if want := strings.Join(topics[:7], "|") + "|" + strings.Join(topics[8:], "|"); strings.Join(gotAll, "|") != want {
		t.Errorf("'#' got %q,\nwant %q ('$SYS/broker' excluded)", gotAll, want)
	}
	if got := queued(sys); len(got) != 1 || got[0].Topic != "$SYS/broker" {
		t.Errorf("'$SYS/#' got %v", got)
	}
}

func TestHeadersAcrossNodes(t *testing.T) {
	srv := runServer(t)
	a, b := newNode(t, srv), newNode(t, srv)
	s := b.subscribe(t, "h")
	h := pubsub.Header{}
	h.Add("trace-id", "t1")
	h.Add("x-multi", "one")
	h.Add("x-multi", "two")
	h.Add("x-multi", "three")
	h.Add("payload-bin", "\x00\r\n\xff binary ")
	h.Add("content-type", "application/json")
	a.publish(t, &pubsub.Message{Topic: "h", Header: h, Payload: []byte("{}")})
	m := receive(t, s)
	if !m.Header.Equal(h) {
		t.Errorf("header = %q, want %q", m.Header, h)
	}
	if string(m.Payload) != "{}" {
		t.Errorf("payload = %q", m.Payload)
	}

	for _, bad := range []pubsub.Header{
		{"k": {"a\r\nb"}},
		{"k": {" padded"}},
		{"k": {"padded\t"}},
		{"bad key": {"v"}},
		{"k:": {"v"}},
		{"": {"v"}},
	} {
		err := a.bus.Publish(ctx, &pubsub.Message{Topic: "h", Header: bad})
		if !errors.Is(err, natsbus.ErrInvalidHeader) {
			t.Errorf("header %q: error %v, want ErrInvalidHeader", bad, err)
		}
	}
}

// TestQueueGroupAcrossNodes: members on two nodes share the messages, each
// message reaching exactly one member, while a plain subscriber gets all.
func TestQueueGroupAcrossNodes(t *testing.T) {
	srv := runServer(t)
	pub, a, b := newNode(t, srv), newNode(t, srv), newNode(t, srv)
	const n = 400
	members := []pubsub.Subscription{
		a.subscribe(t, "jobs/#", pubsub.WithQueue("workers"), pubsub.WithQueueSize(n)),
		a.subscribe(t, "jobs/#", pubsub.WithQueue("workers"), pubsub.WithQueueSize(n)),
		b.subscribe(t, "jobs/#", pubsub.WithQueue("workers"), pubsub.WithQueueSize(n)),
		b.subscribe(t, "jobs/#", pubsub.WithQueue("workers"), pubsub.WithQueueSize(n)),
	}
	plain := b.subscribe(t, "jobs/#", pubsub.WithQueueSize(n))
	for i := range n {
		topic := "jobs/" + strconv.Itoa(i%3)
		if i%4 == 0 {
			topic = "jobs" // the parent, through the second NATS subscription
		}
		pub.publish(t, &pubsub.Message{Topic: topic, Payload: []byte(strconv.Itoa(i))})
	}
	settle(t, pub, append(members, plain)...)
	seen := make(map[string]int)
	perNode := [2]int{}
	for i, s := range members {
		for _, m := range queued(s) {
			seen[string(m.Payload)]++
			perNode[i/2]++
		}
	}
	if len(seen) != n {
		t.Errorf("group got %d distinct messages, want %d", len(seen), n)
	}
	for p, c := range seen {
		if c != 1 {
			t.Errorf("message %s reached %d members", p, c)
		}
	}
	if perNode[0] == 0 || perNode[1] == 0 {
		t.Errorf("per node %v: one node got nothing", perNode)
	}
	if got := len(queued(plain)); got != n {
		t.Errorf("plain subscriber got %d, want %d", got, n)
	}
}

// TestStalledSubscriberAcrossNodes: a publisher in lock step with a healthy
// subscriber (queue of one) while a stalled subscriber on another node never
// reads: the healthy one gets every message, the stalled one keeps a full
// queue and counts the rest as dropped (or is disconnected).
func TestStalledSubscriberAcrossNodes(t *testing.T) {
	for _, policy := range []pubsub.SlowConsumerPolicy{pubsub.DropNewest, pubsub.Disconnect} {
		t.Run(policy.String(), func(t *testing.T) {
			srv := runServer(t)
			pub, a, b := newNode(t, srv), newNode(t, srv), newNode(t, srv)
			const n, size = 500, 16
			stalled := a.subscribe(t, "feed/#", pubsub.WithQueueSize(size), pubsub.WithSlowConsumerPolicy(policy))
			healthy := b.subscribe(t, "feed/+", pubsub.WithQueueSize(1))
			for i := range n {
				pub.publish(t, &pubsub.Message{Topic: "feed/x", Payload: []byte(strconv.Itoa(i))})
				if m := receive(t, healthy); string(m.Payload) != strconv.Itoa(i) {
					t.Fatalf("healthy got %q, want %d", m.Payload, i)
				}
			}
			settle(t, pub, stalled)
			if got := len(queued(stalled)); got != size {
				t.Errorf("stalled queue held %d, want %d", got, size)
			}
			switch policy {
			case pubsub.DropNewest:
				if d := stalled.Dropped(); d != n-size {
					t.Errorf("stalled dropped %d, want %d", d, n-size)
				}
			case pubsub.Disconnect:
				if !errors.Is(stalled.Err(), pubsub.ErrSlowConsumer) {
					t.Errorf("stalled Err = %v, want ErrSlowConsumer", stalled.Err())
				}
				if st := a.bus.Stats(); st.Subscriptions != 0 {
					t.Errorf("node a still has %d subscriptions", st.Subscriptions)
				}
				if k := a.nc.NumSubscriptions(); k != 0 {
					t.Errorf("node a's connection still has %d NATS subscriptions", k)
				}
			}
			if st := b.bus.Stats(); st.Delivered != n || st.Dropped != 0 {
				t.Errorf("healthy node Stats = %+v", st)
			}
		})
	}
}

func TestUnsubscribeAndClose(t *testing.T) {
	srv := runServer(t)
	n := newNode(t, srv)
	s1 := n.subscribe(t, "a/#") // two NATS subscriptions
	s2 := n.subscribe(t, "b", pubsub.WithQueue("q"))
	if k := n.nc.NumSubscriptions(); k != 3 {
		t.Fatalf("NumSubscriptions = %d, want 3", k)
	}
	n.publish(t, &pubsub.Message{Topic: "a/1"})
	settle(t, n, s1)
	if err := s1.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := s1.Unsubscribe(); err != nil {
		t.Errorf("second Unsubscribe: %v", err)
	}
	var got int
	for range s1.C() {
		got++
	}
	if got != 1 || !errors.Is(s1.Err(), pubsub.ErrUnsubscribed) {
		t.Errorf("after Unsubscribe: %d messages, Err %v", got, s1.Err())
	}
	if k := n.nc.NumSubscriptions(); k != 1 {
		t.Errorf("NumSubscriptions = %d after Unsubscribe, want 1", k)
	}

	if err := n.bus.Close(); err != nil {
		t.Fatal(err)
	}
	<-s2.Done()
	if !errors.Is(s2.Err(), pubsub.ErrClosed) {
		t.Errorf("Err after Close = %v", s2.Err())
	}
	if k := n.nc.NumSubscriptions(); k != 0 {
		t.Errorf("NumSubscriptions = %d after Close", k)
	}
	if !n.nc.IsConnected() {
		t.Error("Close closed the caller's connection")
	}
	if err := n.bus.Publish(ctx, &pubsub.Message{Topic: "a"}); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if _, err := n.bus.Subscribe(ctx, "a"); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
	if err := n.bus.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if st := n.bus.Stats(); st.Subscriptions != 0 {
		t.Errorf("Subscriptions = %d", st.Subscriptions)
	}
}

func TestConnectionClosedEndsSubscriptions(t *testing.T) {
	srv := runServer(t)
	n := newNode(t, srv)
	s := n.subscribe(t, "x/#")
	n.nc.Close()
	<-s.Done()
	if !errors.Is(s.Err(), natsbus.ErrSubscriptionClosed) || !errors.Is(s.Err(), nats.ErrConnectionClosed) {
		t.Errorf("Err = %v, want ErrSubscriptionClosed and nats.ErrConnectionClosed", s.Err())
	}
	if st := n.bus.Stats(); st.Subscriptions != 0 {
		t.Errorf("Subscriptions = %d", st.Subscriptions)
	}
	if _, err := n.bus.Subscribe(ctx, "y"); !errors.Is(err, nats.ErrConnectionClosed) {
		t.Errorf("Subscribe on a closed connection: %v", err)
	}
	if err := n.bus.Publish(ctx, &pubsub.Message{Topic: "y"}); !errors.Is(err, nats.ErrConnectionClosed) {
		t.Errorf("Publish on a closed connection: %v", err)
	}
}

func TestBounds(t *testing.T) {
	srv := runServer(t)
	n := newNode(t, srv, natsbus.WithMaxSubscriptions(2), natsbus.WithMaxSubjectLen(20))
	s := n.subscribe(t, "a")
	n.subscribe(t, "b/#")
	if _, err := n.bus.Subscribe(ctx, "c"); !errors.Is(err, pubsub.ErrTooManySubscriptions) {
		t.Errorf("third Subscribe: %v", err)
	}
	s.Unsubscribe()
	long := strings.Repeat("x", 21)
	if _, err := n.bus.Subscribe(ctx, long); !errors.Is(err, pubsub.ErrInvalidFilter) {
		t.Errorf("long filter: %v", err)
	}
	if err := n.bus.Publish(ctx, &pubsub.Message{Topic: strings.Repeat("x", 18) + "."}); !errors.Is(err, pubsub.ErrInvalidTopic) {
		t.Errorf("topic whose escaped subject is too long: %v", err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"bad topic", n.bus.Publish(ctx, &pubsub.Message{Topic: "a/#"}), pubsub.ErrInvalidTopic},
		{"nil message", n.bus.Publish(ctx, nil), pubsub.ErrNilMessage},
		{"bad filter", subErr(n.bus.Subscribe(ctx, "a/#/b")), pubsub.ErrInvalidFilter},
		{"bad option", subErr(n.bus.Subscribe(ctx, "a", pubsub.WithQueueSize(-1))), pubsub.ErrInvalidOption},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if _, err := natsbus.New(nil); !errors.Is(err, pubsub.ErrInvalidOption) {
		t.Errorf("New(nil): %v", err)
	}
	for _, p := range []string{"a..b", "a.*", ">", "a b", ".a"} {
		if _, err := natsbus.New(n.nc, natsbus.WithSubjectPrefix(p)); !errors.Is(err, pubsub.ErrInvalidOption) {
			t.Errorf("prefix %q: %v", p, err)
		}
	}
}

func subErr(_ pubsub.Subscription, err error) error { return err }

// TestSubjectPrefix: buses with different prefixes are apart, and raw NATS
// sees the documented subjects.
func TestSubjectPrefix(t *testing.T) {
	srv := runServer(t)
	p1 := newNode(t, srv, natsbus.WithSubjectPrefix("mcp.one"))
	p2 := newNode(t, srv, natsbus.WithSubjectPrefix("mcp.two"))
	raw := connect(t, srv)
	rawSub, err := raw.SubscribeSync("mcp.one.>")
	if err != nil {
		t.Fatal(err)
	}
	raw.Flush()
	s1 := p1.subscribe(t, "#")
	s2 := p2.subscribe(t, "#")
	p1.publish(t, &pubsub.Message{Topic: "$SYS/a b"})
	p1.publish(t, &pubsub.Message{Topic: "x/y"})
	settle(t, p1, s1, s2)
	if got := queued(s1); len(got) != 1 || got[0].Topic != "x/y" {
		t.Errorf("same prefix got %v", got)
	}
	if got := queued(s2); len(got) != 0 {
		t.Errorf("other prefix got %d messages", len(got))
	}
	for _, want := range []string{"mcp.one.%24SYS.a%20b", "mcp.one.x.y"} {
		m, err := rawSub.NextMsg(10 * time.Second)
		if err != nil || m.Subject != want {
			t.Errorf("raw NATS got %v, %v; want subject %q", m, err, want)
		}
	}
	// A raw NATS publisher that follows the scheme reaches the bus.
	raw.Publish("mcp.one.from.raw%2Enats", []byte("hi"))
	if m := receive(t, s1); m.Topic != "from/raw.nats" {
		t.Errorf("raw publish arrived as %q", m.Topic)
	}
}
