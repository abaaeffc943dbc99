package natsbus

import (
	"time"

	"github.com/mcpbridge/mcpbridge/pubsub"
)

// Defaults of the bus options.
const (
	// DefaultMaxSubjectLen bounds the NATS subject of a topic or filter, in
	// bytes. The NATS server's default max_control_line is 4096 bytes and a
	// server closes a connection that sends a longer line, so the bus
	// refuses longer subjects instead.
	DefaultMaxSubjectLen = 3072
	// DefaultPendingBytesLimit bounds the bytes NATS holds for one
	// subscription before the bus queues them (nats.go's default).
	DefaultPendingBytesLimit = 64 << 20
	// DefaultFlushTimeout bounds Subscribe's wait for the server to confirm
	// the subscription when the context has no deadline.
	DefaultFlushTimeout = 5 * time.Second
)

// An Option configures New.
type Option interface {
	apply(*config)
}

type config struct {
	prefix        string
	maxSubs       int
	maxSubjectLen int
	pendingBytes  int
	flushTimeout  time.Duration
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithSubjectPrefix puts every subject of the bus under prefix ("mcp" makes
// topic "a/b" subject "mcp.a.b"). It keeps the bus apart from other traffic
// on the NATS account: without one, a "#" subscription sees every subject
// of the account, request/reply inboxes included. Buses that share messages
// must use the same prefix. Default "" (none). The prefix must be a valid
// subject without wildcards.
func WithSubjectPrefix(prefix string) Option {
	return optionFunc(func(c *config) { c.prefix = prefix })
}

// WithMaxSubscriptions bounds the bus's live subscriptions; Subscribe beyond
// it fails with pubsub.ErrTooManySubscriptions. n < 1 selects the default,
// pubsub.DefaultMaxSubscriptions (100,000).
func WithMaxSubscriptions(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			n = pubsub.DefaultMaxSubscriptions
		}
		c.maxSubs = n
	})
}

// WithMaxSubjectLen bounds a topic's or filter's NATS subject to n bytes,
// prefix included; longer ones fail with pubsub.ErrInvalidTopic or
// pubsub.ErrInvalidFilter. Keep it under the server's max_control_line.
// n < 1 selects the default, DefaultMaxSubjectLen (3072).
func WithMaxSubjectLen(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			n = DefaultMaxSubjectLen
		}
		c.maxSubjectLen = n
	})
}

// WithPendingBytesLimit bounds the bytes nats.go holds for one subscription
// ahead of the subscription's own queue (its message count is bounded by the
// subscription's queue size). Messages over either bound are dropped by
// nats.go and counted in Subscription.Dropped. n < 1 selects the default,
// DefaultPendingBytesLimit (64 MiB).
func WithPendingBytesLimit(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			n = DefaultPendingBytesLimit
		}
		c.pendingBytes = n
	})
}

// WithFlushTimeout bounds Subscribe's wait for the server's confirmation
// when the context has no deadline. d ≤ 0 selects the default,
// DefaultFlushTimeout (5 s).
func WithFlushTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			d = DefaultFlushTimeout
		}
		c.flushTimeout = d
	})
}
