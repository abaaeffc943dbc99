package natsbus_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/mcpbridge/mcpbridge/pubsub"
)

// TestConcurrentUse runs publishers on two nodes, steady readers, churning
// subscribers and Close at once (run it with -race), then checks that each
// steady reader accounted for every message: received + dropped = published.
func TestConcurrentUse(t *testing.T) {
	srv := runServer(t)
	a, b := newNode(t, srv), newNode(t, srv)
	const perPublisher = 500
	type reader struct {
		sub      pubsub.Subscription
		received int
	}
	var rs []*reader
	var readers sync.WaitGroup
	for i, f := range []string{"x/#", "x/+/+", "+/+/+", "#"} {
		n := a
		if i%2 == 1 {
			n = b
		}
		r := &reader{sub: n.subscribe(t, f, pubsub.WithQueueSize(32))}
		rs = append(rs, r)
		readers.Go(func() {
			for range r.sub.C() {
				r.received++
			}
		})
	}
	stop := make(chan struct{})
	var churn sync.WaitGroup
	for i, n := range []*node{a, b} {
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
				s, err := n.bus.Subscribe(ctx, "x/+/#", opts...)
				if err != nil {
					t.Error(err)
					return
				}
				n.bus.Stats()
				s.Dropped()
				s.Unsubscribe()
			}
		})
	}
	var pubs sync.WaitGroup
	for p, n := range []*node{a, b, a, b} {
		pubs.Go(func() {
			for i := range perPublisher {
				if err := n.bus.Publish(ctx, &pubsub.Message{Topic: fmt.Sprintf("x/%d/%d", p, i%5)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	pubs.Wait()
	close(stop)
	churn.Wait()
	settle(t, a, rs[0].sub, rs[2].sub)
	settle(t, b, rs[1].sub, rs[3].sub)
	settle(t, a, rs[1].sub, rs[3].sub)
	settle(t, b, rs[0].sub, rs[2].sub)
	a.bus.Close()
	b.bus.Close()
	readers.Wait()
	for _, r := range rs {
		if got := uint64(r.received) + r.sub.Dropped(); got != 4*perPublisher {
			t.Errorf("%s: received %d + dropped %d != %d", r.sub.Filter(), r.received, r.sub.Dropped(), 4*perPublisher)
		}
	}
}
