package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/mcpbridge/mcpbridge/pubsub"
)

var ctx = context.Background()

func mustSubscribe(t testing.TB, b pubsub.Bus, filter string, opts ...pubsub.SubscribeOption) pubsub.Subscription {
	t.Helper()
	s, err := b.Subscribe(ctx, filter, opts...)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", filter, err)
	}
	return s
}

func mustPublish(t testing.TB, b pubsub.Bus, topic string, payload string) {
	t.Helper()
	if err := b.Publish(ctx, &pubsub.Message{Topic: topic, Payload: []byte(payload)}); err != nil {
		t.Fatalf("Publish(%q): %v", topic, err)
	}
}

// drain returns the messages queued on s now, without waiting: the local
// bus queues synchronously, so after Publish returns they are all there.
func drain(s pubsub.Subscription) []*pubsub.Message {
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

func TestLocalMatchesLikeMatch(t *testing.T) {
	for _, tt := range matchTests {
		t.Run(tt.filter+" "+tt.topic, func(t *testing.T) {
			b := pubsub.NewLocal()
			defer b.Close()
			s := mustSubscribe(t, b, tt.filter)
			q := mustSubscribe(t, b, tt.filter, pubsub.WithQueue("g"))
			mustPublish(t, b, tt.topic, "x")
			for _, sub := range []pubsub.Subscription{s, q} {
				got := len(drain(sub))
				want := 0
				if tt.want {
					want = 1
				}
				if got != want {
					t.Errorf("queue %q: filter %q got %d messages for topic %q, want %d", sub.Queue(), tt.filter, got, tt.topic, want)
				}
			}
		})
	}
}

func TestLocalDeliversSharedMessage(t *testing.T) {
	b := pubsub.NewLocal()
	defer b.Close()
	s1 := mustSubscribe(t, b, "orders/+/created")
	s2 := mustSubscribe(t, b, "orders/#")
	other := mustSubscribe(t, b, "users/#")

	m := &pubsub.Message{Topic: "orders/eu/created", Payload: []byte("p"), Header: pubsub.Header{}}
	m.Header.Add("Trace-Id", "1")
	m.Header.Add("trace-id", "2")
	if err := b.Publish(ctx, m); err != nil {
		t.Fatal(err)
	}
	for _, s := range []pubsub.Subscription{s1, s2} {
		got := drain(s)
		if len(got) != 1 || got[0] != m {
			t.Fatalf("%s: got %v, want the published message itself", s.Filter(), got)
		}
		if v := got[0].Header.Values("TRACE-ID"); len(v) != 2 || v[0] != "1" || v[1] != "2" {
			t.Errorf("header values = %q, want [1 2]", v)
		}
	}
	if got := drain(other); len(got) != 0 {
		t.Errorf("users/# got %d messages", len(got))
	}
	st := b.Stats()
	if st != (pubsub.Stats{Published: 1, Delivered: 2, Subscriptions: 3}) {
		t.Errorf("Stats = %+v", st)
	}
}

func TestLocalOrderPerPublisher(t *testing.T) {
	b := pubsub.NewLocal()
	defer b.Close()
	s := mustSubscribe(t, b, "a/#", pubsub.WithQueueSize(1000))
	for i := range 1000 {
		mustPublish(t, b, "a/"+strconv.Itoa(i%7), strconv.Itoa(i))
	}
	for i, m := range drain(s) {
		if string(m.Payload) != strconv.Itoa(i) {
			t.Fatalf("message %d has payload %q", i, m.Payload)
		}
	}
}

func TestQueueGroupSpreadsEvenly(t *testing.T) {
	b := pubsub.NewLocal()
	defer b.Close()
	const n, members = 3000, 3
	var subs []pubsub.Subscription
	for range members {
		subs = append(subs, mustSubscribe(t, b, "jobs/+", pubsub.WithQueue("billing"), pubsub.WithQueueSize(n)))
	}
	plain := mustSubscribe(t, b, "jobs/#", pubsub.WithQueueSize(n))
	for i := range n {
		mustPublish(t, b, "jobs/"+strconv.Itoa(i%10), "x")
	}
	total := 0
	for i, s := range subs {
		got := len(drain(s))
		total += got
		if got < n/members*9/10 || got > n/members*11/10 {
			t.Errorf("member %d got %d messages, want %d ± 10%%", i, got, n/members)
		}
	}
	if total != n {
		t.Errorf("group got %d messages in all, want %d", total, n)
	}
	if got := len(drain(plain)); got != n {
		t.Errorf("plain subscriber got %d, want %d", got, n)
	}
}

// Members with different filters form one group, as in NATS: a message
// matching several of them still reaches only one.
func TestQueueGroupAcrossFilters(t *testing.T) {
	b := pubsub.NewLocal()
	defer b.Close()
	subs := []pubsub.Subscription{
		mustSubscribe(t, b, "a/b", pubsub.WithQueue("g")),
		mustSubscribe(t, b, "a/+", pubsub.WithQueue("g")),
		mustSubscribe(t, b, "#", pubsub.WithQueue("g")),
		mustSubscribe(t, b, "a/#", pubsub.WithQueue("other")),
	}
	const n = 300
	for range n {
		mustPublish(t, b, "a/b", "x")
	}
	var got [4]int
	for i, s := range subs {
		got[i] = len(drain(s))
	}
	if got[0]+got[1]+got[2] != n || got[3] != n {
		t.Fatalf("got %v, want group g to share %d and group other to get %d", got, n, n)
	}
	for i := range 3 {
		if got[i] != n/3 {
			t.Errorf("member %d got %d, want %d", i, got[i], n/3)
		}
	}
	// A topic only the '#' member matches goes to it.
	mustPublish(t, b, "z", "x")
	if len(drain(subs[2])) != 1 {
		t.Error("'#' member did not get a message only it matches")
	}
}

// A full member of a queue group is passed over: the message goes to
// another member, and nothing is dropped while one has room.
func TestQueueGroupFullMemberPassesOn(t *testing.T) {
	b := pubsub.NewLocal()
	defer b.Close()
	stuck := mustSubscribe(t, b, "q", pubsub.WithQueue("g"), pubsub.WithQueueSize(1))
	healthy := mustSubscribe(t, b, "q", pubsub.WithQueue("g"), pubsub.WithQueueSize(1000))
	const n = 1000
	for range n {
		mustPublish(t, b, "q", "x")
	}
	if got := len(drain(stuck)); got != 1 {
		t.Errorf("stuck member got %d, want 1 (its queue size)", got)
	}
	if got := len(drain(healthy)); got != n-1 {
		t.Errorf("healthy member got %d, want %d", got, n-1)
	}
	if st := b.Stats(); st.Dropped != 0 || st.Delivered != n {
		t.Errorf("Stats = %+v, want no drops and %d delivered", st, n)
	}
	// When every member is full the message is dropped, counted once.
	full := pubsub.NewLocal()
	defer full.Close()
	a := mustSubscribe(t, full, "q", pubsub.WithQueue("g"), pubsub.WithQueueSize(2))
	c := mustSubscribe(t, full, "q", pubsub.WithQueue("g"), pubsub.WithQueueSize(2))
	for range 10 {
		mustPublish(t, full, "q", "x")
	}
	if d := a.Dropped() + c.Dropped(); d != 6 || full.Stats().Dropped != 6 {
		t.Errorf("dropped %d+%d (bus %d), want 6", a.Dropped(), c.Dropped(), full.Stats().Dropped)
	}
}

// TestStalledSubscriberDoesNotSlowHealthy runs a publisher in lock step with
// a healthy subscriber whose queue holds one message, while a second
// subscriber never reads. Every Publish returns (the test would hang
// otherwise), the healthy subscriber gets every message, and the stalled one
// keeps its queue full and has the rest counted as dropped.
func TestStalledSubscriberDoesNotSlowHealthy(t *testing.T) {
	for _, policy := range []pubsub.SlowConsumerPolicy{pubsub.DropNewest, pubsub.Disconnect} {
		t.Run(policy.String(), func(t *testing.T) {
			b := pubsub.NewLocal()
			defer b.Close()
			const n, stalledSize = 10_000, 64
			stalled := mustSubscribe(t, b, "feed/#", pubsub.WithQueueSize(stalledSize), pubsub.WithSlowConsumerPolicy(policy))
			healthy := mustSubscribe(t, b, "feed/+", pubsub.WithQueueSize(1))

			received := make(chan int)
			go func() {
				defer close(received)
				count := 0
				for m := range healthy.C() {
					if string(m.Payload) != strconv.Itoa(count) {
						t.Errorf("healthy got %q, want %d", m.Payload, count)
					}
					count++
					received <- count
				}
			}()
			for i := range n {
				mustPublish(t, b, "feed/x", strconv.Itoa(i))
				if got := <-received; got != i+1 {
					t.Fatalf("healthy subscriber at %d after publish %d", got, i+1)
				}
			}
			if err := healthy.Unsubscribe(); err != nil {
				t.Fatal(err)
			}
			<-received // the reader saw C closed

			if got := len(drain(stalled)); got != stalledSize {
				t.Errorf("stalled queue held %d, want %d", got, stalledSize)
			}
			wantDropped := uint64(n - stalledSize)
			if policy == pubsub.Disconnect {
				wantDropped = 1 // the message that found the queue full
				if !errors.Is(stalled.Err(), pubsub.ErrSlowConsumer) {
					t.Errorf("stalled Err = %v, want ErrSlowConsumer", stalled.Err())
				}
			}
			if stalled.Dropped() != wantDropped {
				t.Errorf("stalled dropped %d, want %d", stalled.Dropped(), wantDropped)
			}
			st := b.Stats()
			if st.Published != n || st.Delivered != n+stalledSize || st.Dropped != wantDropped {
				t.Errorf("Stats = %+v, want published %d, delivered %d, dropped %d", st, n, n+stalledSize, wantDropped)
			}
		})
	}
}

func TestDisconnectPolicy(t *testing.T) {
	b := pubsub.NewLocal()
	defer b.Close()
	slow := mustSubscribe(t, b, "t", pubsub.WithQueueSize(4), pubsub.WithSlowConsumerPolicy(pubsub.Disconnect))
	other := mustSubscribe(t, b, "t", pubsub.WithQueueSize(100))
	for i := range 10 {
		mustPublish(t, b, "t", strconv.Itoa(i))
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("slow subscription still live")
	}
	err := slow.Err()
	if !errors.Is(err, pubsub.ErrSlowConsumer) {
		t.Fatalf("Err = %v, want ErrSlowConsumer", err)
	}
	t.Logf("Err: %v", err)
	// The messages queued before the end are still there, then C is closed.
	var got []string
	for m := range slow.C() {
		got = append(got, string(m.Payload))
	}
	if fmt.Sprint(got) != "[0 1 2 3]" {
		t.Errorf("slow got %v, want [0 1 2 3]", got)
	}
	if slow.Dropped() != 1 {
		t.Errorf("Dropped = %d, want 1", slow.Dropped())
	}
	if n := len(drain(other)); n != 10 {
		t.Errorf("other got %d, want 10", n)
	}
	if st := b.Stats(); st.Subscriptions != 1 {
		t.Errorf("Subscriptions = %d, want 1 (the slow one removed)", st.Subscriptions)
	}
	if err := slow.Unsubscribe(); err != nil {
		t.Errorf("Unsubscribe after disconnect: %v", err)
	}
	if !errors.Is(slow.Err(), pubsub.ErrSlowConsumer) {
		t.Errorf("Unsubscribe changed Err to %v", slow.Err())
	}
}

func TestUnsubscribe(t *testing.T) {
	b := pubsub.NewLocal()
	defer b.Close()
	s := mustSubscribe(t, b, "a/#")
	if s.Err() != nil {
		t.Fatalf("live subscription has Err %v", s.Err())
	}
	mustPublish(t, b, "a/1", "before")
	if err := s.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, b, "a/2", "after")
	var got []string
	for m := range s.C() { // ends: C is closed after the queued message
		got = append(got, string(m.Payload))
	}
	if fmt.Sprint(got) != "[before]" {
		t.Errorf("got %v, want [before]", got)
	}
	if !errors.Is(s.Err(), pubsub.ErrUnsubscribed) {
		t.Errorf("Err = %v, want ErrUnsubscribed", s.Err())
	}
	if err := s.Unsubscribe(); err != nil {
		t.Errorf("second Unsubscribe: %v", err)
	}
	if st := b.Stats(); st.Subscriptions != 0 || st.Delivered != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestClose(t *testing.T) {
	b := pubsub.NewLocal()
	subs := []pubsub.Subscription{
		mustSubscribe(t, b, "a"),
		mustSubscribe(t, b, "+/#"),
		mustSubscribe(t, b, "a", pubsub.WithQueue("g")),
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		<-s.Done()
		if _, ok := <-s.C(); ok {
			t.Error("C not closed")
		}
		if !errors.Is(s.Err(), pubsub.ErrClosed) {
			t.Errorf("Err = %v, want ErrClosed", s.Err())
		}
		if err := s.Unsubscribe(); err != nil {
			t.Errorf("Unsubscribe after Close: %v", err)
		}
	}
	if err := b.Publish(ctx, &pubsub.Message{Topic: "a"}); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Publish after Close = %v", err)
	}
	if _, err := b.Subscribe(ctx, "a"); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Subscribe after Close = %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if n := b.Stats().Subscriptions; n != 0 {
		t.Errorf("Subscriptions = %d after Close", n)
	}
}

func TestMaxSubscriptions(t *testing.T) {
	b := pubsub.NewLocal(pubsub.WithMaxSubscriptions(2))
	defer b.Close()
	s := mustSubscribe(t, b, "a")
	mustSubscribe(t, b, "b")
	_, err := b.Subscribe(ctx, "c")
	if !errors.Is(err, pubsub.ErrTooManySubscriptions) {
		t.Fatalf("third Subscribe = %v, want ErrTooManySubscriptions", err)
	}
	s.Unsubscribe()
	mustSubscribe(t, b, "c")
}

func TestInvalidArguments(t *testing.T) {
	b := pubsub.NewLocal()
	defer b.Close()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"publish wildcard topic", b.Publish(ctx, &pubsub.Message{Topic: "a/+"}), pubsub.ErrInvalidTopic},
		{"publish empty topic", b.Publish(ctx, &pubsub.Message{}), pubsub.ErrInvalidTopic},
		{"publish nil", b.Publish(ctx, nil), pubsub.ErrNilMessage},
		{"publish cancelled", b.Publish(cancelled, &pubsub.Message{Topic: "a"}), context.Canceled},
		{"subscribe bad filter", subErr(b.Subscribe(ctx, "a/#/b")), pubsub.ErrInvalidFilter},
		{"subscribe cancelled", subErr(b.Subscribe(cancelled, "a")), context.Canceled},
		{"queue size 0", subErr(b.Subscribe(ctx, "a", pubsub.WithQueueSize(0))), pubsub.ErrInvalidOption},
		{"queue size huge", subErr(b.Subscribe(ctx, "a", pubsub.WithQueueSize(pubsub.MaxQueueSize+1))), pubsub.ErrInvalidOption},
		{"queue name space", subErr(b.Subscribe(ctx, "a", pubsub.WithQueue("a b"))), pubsub.ErrInvalidOption},
		{"bad policy", subErr(b.Subscribe(ctx, "a", pubsub.WithSlowConsumerPolicy(7))), pubsub.ErrInvalidOption},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: error %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if st := b.Stats(); st.Subscriptions != 0 || st.Published != 0 {
		t.Errorf("failed calls changed Stats: %+v", st)
	}
}

func subErr(_ pubsub.Subscription, err error) error { return err }

// TestConcurrentUse runs publishers, steady readers, churning subscribers
// and slow Disconnect subscribers at once (run it with -race), then checks
// that every steady reader accounted for every message.
func TestConcurrentUse(t *testing.T) {
	b := pubsub.NewLocal()
	const publishers, perPublisher, readers = 4, 2000, 4

	type reader struct {
		sub      pubsub.Subscription
		received int
	}
	var rs []*reader
	var wg sync.WaitGroup
	for i := range readers {
		r := &reader{sub: mustSubscribe(t, b, []string{"x/#", "x/+/+", "+/+/+", "#"}[i], pubsub.WithQueueSize(64))}
		rs = append(rs, r)
		wg.Go(func() {
			for range r.sub.C() {
				r.received++
			}
		})
	}
	stop := make(chan struct{})
	var churn sync.WaitGroup
	for i := range 2 {
		churn.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				opts := []pubsub.SubscribeOption{pubsub.WithQueueSize(2)}
				if i == 1 {
					opts = append(opts, pubsub.WithSlowConsumerPolicy(pubsub.Disconnect), pubsub.WithQueue("g"))
				}
				s, err := b.Subscribe(ctx, "x/+/#", opts...)
				if err != nil {
					t.Error(err)
					return
				}
				b.Stats()
				s.Unsubscribe()
			}
		})
	}
	var pubs sync.WaitGroup
	for p := range publishers {
		pubs.Go(func() {
			for i := range perPublisher {
				if err := b.Publish(ctx, &pubsub.Message{Topic: fmt.Sprintf("x/%d/%d", p, i%5)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	pubs.Wait()
	close(stop)
	churn.Wait()
	b.Close()
	wg.Wait()
	for _, r := range rs {
		if got := uint64(r.received) + r.sub.Dropped(); got != publishers*perPublisher {
			t.Errorf("%s: received %d + dropped %d != %d", r.sub.Filter(), r.received, r.sub.Dropped(), publishers*perPublisher)
		}
	}
	if st := b.Stats(); st.Published != publishers*perPublisher {
		t.Errorf("Published = %d", st.Published)
	}
}
