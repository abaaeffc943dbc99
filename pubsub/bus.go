package pubsub

import "context"

// Bus carries messages from publishers to the subscriptions whose filter
// matches the message's topic. All methods are safe for concurrent use.
type Bus interface {
	// Publish hands m to the bus and returns once the bus has accepted it;
	// it never waits for a subscriber (a full subscriber queue loses the
	// message or ends that subscription, by its SlowConsumerPolicy). The
	// topic must be valid (ErrInvalidTopic). The caller must not modify m
	// after calling Publish. After Close it returns ErrClosed.
	Publish(ctx context.Context, m *Message) error

	// Subscribe starts a subscription to the topics matching filter
	// (ErrInvalidFilter if invalid). ctx bounds the call only, not the
	// subscription, which lives until Unsubscribe, Close, or a slow-consumer
	// disconnect. It fails with ErrTooManySubscriptions at the bus's bound
	// and with ErrClosed after Close.
	Subscribe(ctx context.Context, filter string, opts ...SubscribeOption) (Subscription, error)

	// Stats returns the bus's counters so far.
	Stats() Stats

	// Close ends every subscription (their Err is ErrClosed) and makes
	// Publish and Subscribe fail with ErrClosed. It is idempotent.
	Close() error
}

// Subscription is one subscriber's end of the bus: a bounded queue of
// matching messages. All methods are safe for concurrent use.
type Subscription interface {
	// C delivers the matching messages, in publish order for any one
	// publishing goroutine. It is closed when the subscription ends, after
	// the messages queued before the end have been received, so
	// `for m := range sub.C()` terminates. Messages are shared: do not
	// modify them.
	C() <-chan *Message

	// Done is closed as soon as the subscription ends (before C is drained).
	Done() <-chan struct{}

	// Err is nil while the subscription is live; once Done is closed it
	// says why it ended: ErrUnsubscribed, ErrClosed, ErrSlowConsumer, or a
	// transport error (natsbus).
	Err() error

	// Dropped counts the messages this subscription lost to a full queue.
	Dropped() uint64

	// Filter returns the topic filter given to Subscribe.
	Filter() string

	// Queue returns the queue group, or "" if the subscription is in none.
	Queue() string

	// Unsubscribe ends the subscription (Err is ErrUnsubscribed): no message
	// is queued after it returns. It is idempotent and returns nil unless
	// the transport fails.
	Unsubscribe() error
}

// Stats are a bus's counters. Published, Delivered and Dropped only grow.
type Stats struct {
	// Published counts messages accepted by Publish.
	Published uint64
	// Delivered counts messages queued to subscriptions (one message
	// reaching three subscriptions counts three).
	Delivered uint64
	// Dropped counts messages lost to full subscription queues, including
	// the one that made a Disconnect subscription end.
	Dropped uint64
	// Subscriptions is the number of live subscriptions now.
	Subscriptions int
}
