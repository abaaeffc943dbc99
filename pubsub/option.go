package pubsub

import "fmt"

// Defaults and bounds of the subscription options.
const (
	// DefaultQueueSize is a subscription's queue size without WithQueueSize.
	DefaultQueueSize = 1024
	// MaxQueueSize is the largest queue size WithQueueSize accepts.
	MaxQueueSize = 1 << 20
	// MaxQueueNameLen is the longest queue group name, in bytes.
	MaxQueueNameLen = 255
)

// SlowConsumerPolicy is what the bus does with a message for a subscription
// whose queue is full.
type SlowConsumerPolicy uint8

const (
	// DropNewest drops the message for that subscription and counts it
	// (Subscription.Dropped, Stats.Dropped); the subscription goes on. The
	// default.
	DropNewest SlowConsumerPolicy = iota
	// Disconnect ends the subscription with ErrSlowConsumer; the message is
	// counted as dropped. The messages already queued stay readable.
	Disconnect
)

func (p SlowConsumerPolicy) String() string {
	switch p {
	case DropNewest:
		return "DropNewest"
	case Disconnect:
		return "Disconnect"
	}
	return fmt.Sprintf("SlowConsumerPolicy(%d)", uint8(p))
}

// SubscribeConfig is the result of applying SubscribeOptions. Bus
// implementations get it from ResolveSubscribeOptions.
type SubscribeConfig struct {
	// Queue is the queue group name; "" for none. Default "".
	Queue string
	// QueueSize bounds the subscription's queue, 1 to MaxQueueSize.
	// Default DefaultQueueSize.
	QueueSize int
	// Policy applies when the queue is full. Default DropNewest.
	Policy SlowConsumerPolicy
}

// A SubscribeOption configures one subscription. Options apply in order; a
// later one overrides an earlier one.
type SubscribeOption interface {
	applySubscribe(*SubscribeConfig)
}

type subscribeOptionFunc func(*SubscribeConfig)

func (f subscribeOptionFunc) applySubscribe(c *SubscribeConfig) { f(c) }

// WithQueue puts the subscription in queue group name: each message matching
// any member of the group goes to exactly one member. Members are the live
// subscriptions with the same queue name on the same bus, whatever their
// filters (as in NATS). "" means no group. A name is 1 to MaxQueueNameLen
// bytes of printable ASCII without space.
func WithQueue(name string) SubscribeOption {
	return subscribeOptionFunc(func(c *SubscribeConfig) { c.Queue = name })
}

// WithQueueSize bounds the subscription's queue to n messages, 1 to
// MaxQueueSize. Default DefaultQueueSize (1024).
func WithQueueSize(n int) SubscribeOption {
	return subscribeOptionFunc(func(c *SubscribeConfig) { c.QueueSize = n })
}

// WithSlowConsumerPolicy sets what happens when the queue is full. Default
// DropNewest.
func WithSlowConsumerPolicy(p SlowConsumerPolicy) SubscribeOption {
	return subscribeOptionFunc(func(c *SubscribeConfig) { c.Policy = p })
}

// ResolveSubscribeOptions applies opts to the defaults and validates the
// result; the error wraps ErrInvalidOption. It is for Bus implementations.
func ResolveSubscribeOptions(opts ...SubscribeOption) (SubscribeConfig, error) {
	c := SubscribeConfig{QueueSize: DefaultQueueSize, Policy: DropNewest}
	for _, o := range opts {
		if o != nil {
			o.applySubscribe(&c)
		}
	}
	if c.QueueSize < 1 || c.QueueSize > MaxQueueSize {
		return c, fmt.Errorf("%w: queue size %d is outside 1..%d", ErrInvalidOption, c.QueueSize, MaxQueueSize)
	}
	if c.Policy > Disconnect {
		return c, fmt.Errorf("%w: unknown slow-consumer policy %d", ErrInvalidOption, uint8(c.Policy))
	}
	if err := validateQueueName(c.Queue); err != nil {
		return c, err
	}
	return c, nil
}

func validateQueueName(name string) error {
	if len(name) > MaxQueueNameLen {
		return fmt.Errorf("%w: queue name is %d bytes, over the limit of %d", ErrInvalidOption, len(name), MaxQueueNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%w: queue name %q has byte %#02x at %d; only printable ASCII without space is allowed", ErrInvalidOption, name, c, i)
		}
	}
	return nil
}

// DefaultMaxSubscriptions bounds the live subscriptions of a bus without
// WithMaxSubscriptions.
const DefaultMaxSubscriptions = 100_000

// A LocalOption configures NewLocal.
type LocalOption interface {
	applyLocal(*localConfig)
}

type localConfig struct {
	maxSubs int
}

type localOptionFunc func(*localConfig)

func (f localOptionFunc) applyLocal(c *localConfig) { f(c) }

// WithMaxSubscriptions bounds the bus's live subscriptions to n; Subscribe
// beyond it fails with ErrTooManySubscriptions. n < 1 selects the default,
// DefaultMaxSubscriptions (100,000).
func WithMaxSubscriptions(n int) LocalOption {
	return localOptionFunc(func(c *localConfig) {
		if n < 1 {
			n = DefaultMaxSubscriptions
		}
		c.maxSubs = n
	})
}
