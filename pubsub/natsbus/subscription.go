package natsbus

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/mcpbridge/mcpbridge/pubsub"
	"github.com/mcpbridge/mcpbridge/pubsub/internal/inbox"
)

// ErrSubscriptionClosed: NATS ended a subscription the bus did not end, for
// instance because the connection was closed or drained. Subscription.Err
// wraps it (and nats.ErrConnectionClosed when that is the cause).
var ErrSubscriptionClosed = errors.New("natsbus: subscription closed by NATS")

// subscription is a pubsub.Subscription on a Bus: one NATS subscription, or
// two for a filter ending in "/#", whose handlers (run by nats.go, one
// goroutine per NATS subscription) queue into one inbox.
type subscription struct {
	bus    *Bus
	filter string
	queue  string
	policy pubsub.SlowConsumerPolicy
	size   int
	in     *inbox.Inbox[*pubsub.Message]

	nsubs []*nats.Subscription // guarded by bus.mu
}

var _ pubsub.Subscription = (*subscription)(nil)

func (s *subscription) C() <-chan *pubsub.Message { return s.in.C() }
func (s *subscription) Done() <-chan struct{}     { return s.in.Done() }
func (s *subscription) Err() error                { return s.in.Err() }
func (s *subscription) Filter() string            { return s.filter }
func (s *subscription) Queue() string             { return s.queue }

// Dropped counts the messages lost to a full queue, this bus's or nats.go's.
func (s *subscription) Dropped() uint64 {
	n := s.in.Dropped()
	s.bus.mu.Lock()
	for _, ns := range s.nsubs {
		if d, err := ns.Dropped(); err == nil && d > 0 {
			n += uint64(d)
		}
	}
	s.bus.mu.Unlock()
	return n
}

// Unsubscribe unsubscribes from NATS. It returns nats.go's error, if any.
func (s *subscription) Unsubscribe() error {
	return s.end(pubsub.ErrUnsubscribed)
}

// end ends the subscription with reason (if it has not ended yet), takes it
// off the bus and unsubscribes from NATS.
func (s *subscription) end(reason error) error {
	s.in.End(reason)
	b := s.bus
	b.mu.Lock()
	delete(b.subs, s)
	nsubs := s.nsubs
	s.nsubs = nil
	b.mu.Unlock()
	var errs []error
	for _, ns := range nsubs {
		if d, err := ns.Dropped(); err == nil && d > 0 {
			s.in.Drop(uint64(d))
			b.dropped.Add(uint64(d))
		}
		err := ns.Unsubscribe()
		if err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("natsbus: unsubscribe from %q: %w", shorten(s.filter), errors.Join(errs...))
	}
	return nil
}

// transportClosed runs when nats.go closes one of the NATS subscriptions;
// after end, that is a no-op.
func (s *subscription) transportClosed() {
	if s.in.Ended() {
		return
	}
	reason := ErrSubscriptionClosed
	if s.bus.nc.IsClosed() {
		reason = fmt.Errorf("%w: %w", ErrSubscriptionClosed, nats.ErrConnectionClosed)
	}
	s.end(reason)
}

// handler returns the callback for one NATS subscription. nats.go runs it on
// that subscription's goroutine, one message at a time; it never blocks.
func (s *subscription) handler() nats.MsgHandler {
	// The last subject decoded, reused while it repeats (a common case)
	// to save decoding it again.
	var lastSubject, lastTopic string
	return func(nm *nats.Msg) {
		topic := lastTopic
		if nm.Subject != lastSubject || lastSubject == "" {
			t, err := decode(s.bus.cfg.prefix, nm.Subject)
			if err != nil || !pubsub.Match(s.filter, t) {
				return // not a topic of ours, or the '$' rule
			}
			lastSubject, lastTopic, topic = nm.Subject, t, t
		}
		m := &pubsub.Message{Topic: topic, Payload: nm.Data, Header: fromNATS(nm.Header)}
		switch s.in.Offer(m) {
		case inbox.Queued:
			s.bus.delivered.Add(1)
		case inbox.Full:
			s.in.Drop(1)
			s.bus.dropped.Add(1)
			if s.policy == pubsub.Disconnect {
				s.end(fmt.Errorf("%w: subscription %q: queue of %d messages full", pubsub.ErrSlowConsumer, shorten(s.filter), s.size))
				return
			}
		}
		if s.policy == pubsub.Disconnect && nm.Sub != nil {
			if d, err := nm.Sub.Dropped(); err == nil && d > 0 {
				s.end(fmt.Errorf("%w: subscription %q: NATS dropped %d pending messages", pubsub.ErrSlowConsumer, shorten(s.filter), d))
			}
		}
	}
}
