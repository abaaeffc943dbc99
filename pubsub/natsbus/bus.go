package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/mcpbridge/mcpbridge/pubsub"
	"github.com/mcpbridge/mcpbridge/pubsub/internal/inbox"
)

// minPendingMsgs is the least number of messages nats.go may hold for a
// subscription ahead of its queue. nats.go counts a message as pending until
// its callback has returned and the subscription's goroutine has looped, so
// a limit as small as a tiny queue would drop messages the queue has room
// for.
const minPendingMsgs = 1024

// Bus is a pubsub.Bus on a NATS connection. Create it with New.
type Bus struct {
	nc  *nats.Conn
	cfg config

	closed atomic.Bool // set under mu; read without it by Publish

	// mu guards subs and each subscription's nats subscriptions. It is never
	// held across a network round trip.
	mu   sync.Mutex
	subs map[*subscription]struct{}

	published atomic.Uint64
	delivered atomic.Uint64
	dropped   atomic.Uint64
}

var _ pubsub.Bus = (*Bus)(nil)

// New returns a bus on nc. The caller owns nc: Close leaves it open, and
// closing nc ends the bus's subscriptions (their Err wraps
// ErrSubscriptionClosed). New fails if nc is nil or an option is invalid
// (pubsub.ErrInvalidOption).
func New(nc *nats.Conn, opts ...Option) (*Bus, error) {
	if nc == nil {
		return nil, fmt.Errorf("%w: nil NATS connection", pubsub.ErrInvalidOption)
	}
	c := config{
		maxSubs:       pubsub.DefaultMaxSubscriptions,
		maxSubjectLen: DefaultMaxSubjectLen,
		pendingBytes:  DefaultPendingBytesLimit,
		flushTimeout:  DefaultFlushTimeout,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.prefix != "" {
		for tok := range strings.SplitSeq(c.prefix, ".") {
			if tok == "" || strings.ContainsAny(tok, " \t\r\n*>") {
				return nil, fmt.Errorf("%w: subject prefix %q is not a subject without wildcards", pubsub.ErrInvalidOption, c.prefix)
			}
		}
	}
	return &Bus{nc: nc, cfg: c, subs: make(map[*subscription]struct{})}, nil
}

// Publish sends m to NATS. It returns once nats.go has buffered it for the
// server (it may wait on TCP, never on a subscriber). Headers must satisfy
// the rules of ErrInvalidHeader; the topic's subject must fit
// WithMaxSubjectLen (pubsub.ErrInvalidTopic). m is not kept.
func (b *Bus) Publish(ctx context.Context, m *pubsub.Message) error {
	if m == nil {
		return pubsub.ErrNilMessage
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.closed.Load() {
		return pubsub.ErrClosed
	}
	if err := pubsub.ValidateTopic(m.Topic); err != nil {
		return err
	}
	subject := encode(b.cfg.prefix, m.Topic, false)
	if len(subject) > b.cfg.maxSubjectLen {
		return fmt.Errorf("%w %q: its NATS subject is %d bytes, over the limit of %d", pubsub.ErrInvalidTopic, shorten(m.Topic), len(subject), b.cfg.maxSubjectLen)
	}
	hdr, err := toNATS(m.Header)
	if err != nil {
		return err
	}
	if len(hdr) == 0 {
		err = b.nc.Publish(subject, m.Payload)
	} else {
		err = b.nc.PublishMsg(&nats.Msg{Subject: subject, Header: hdr, Data: m.Payload})
	}
	if err != nil {
		return fmt.Errorf("natsbus: publish to %q: %w", shorten(m.Topic), err)
	}
	b.published.Add(1)
	return nil
}

// Subscribe subscribes on NATS (a queue subscription with WithQueue) and
// waits until the server has confirmed it, so that a message published
// anywhere after Subscribe returns reaches it. It waits at most until ctx's
// deadline, or WithFlushTimeout if ctx has none.
func (b *Bus) Subscribe(ctx context.Context, filter string, opts ...pubsub.SubscribeOption) (pubsub.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := pubsub.ValidateFilter(filter); err != nil {
		return nil, err
	}
	cfg, err := pubsub.ResolveSubscribeOptions(opts...)
	if err != nil {
		return nil, err
	}
	subjects := subjectsForFilter(b.cfg.prefix, filter)
	if l := len(subjects[len(subjects)-1]); l > b.cfg.maxSubjectLen {
		return nil, fmt.Errorf("%w %q: its NATS subject is %d bytes, over the limit of %d", pubsub.ErrInvalidFilter, shorten(filter), l, b.cfg.maxSubjectLen)
	}
	s := &subscription{
		bus:    b,
		filter: filter,
		queue:  cfg.Queue,
		policy: cfg.Policy,
		size:   cfg.QueueSize,
		in:     inbox.New[*pubsub.Message](cfg.QueueSize),
	}

	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return nil, pubsub.ErrClosed
	}
	if len(b.subs) >= b.cfg.maxSubs {
		b.mu.Unlock()
		return nil, fmt.Errorf("%w: the bus already holds its limit of %d", pubsub.ErrTooManySubscriptions, b.cfg.maxSubs)
	}
	b.subs[s] = struct{}{}
	for _, subject := range subjects {
		var ns *nats.Subscription
		if cfg.Queue != "" {
			ns, err = b.nc.QueueSubscribe(subject, cfg.Queue, s.handler())
		} else {
			ns, err = b.nc.Subscribe(subject, s.handler())
		}
		if err == nil {
			s.nsubs = append(s.nsubs, ns)
			err = ns.SetPendingLimits(max(cfg.QueueSize, minPendingMsgs), b.cfg.pendingBytes)
			ns.SetClosedHandler(func(string) { s.transportClosed() })
		}
		if err != nil {
			b.mu.Unlock()
			s.end(err)
			return nil, fmt.Errorf("natsbus: subscribe to %q: %w", shorten(filter), err)
		}
	}
	b.mu.Unlock()

	if err := b.flush(ctx); err != nil {
		s.end(err)
		return nil, fmt.Errorf("natsbus: subscribe to %q: %w", shorten(filter), err)
	}
	if b.closed.Load() {
		return nil, pubsub.ErrClosed // Close ended s meanwhile
	}
	return s, nil
}

// flush waits until the server has processed everything sent so far.
func (b *Bus) flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.cfg.flushTimeout)
		defer cancel()
	}
	return b.nc.FlushWithContext(ctx)
}

// Stats returns the counters of this bus: messages it published, and
// messages delivered to and dropped by its subscriptions (the drops nats.go
// counts are added when a subscription ends).
func (b *Bus) Stats() pubsub.Stats {
	b.mu.Lock()
	n := len(b.subs)
	b.mu.Unlock()
	return pubsub.Stats{
		Published:     b.published.Load(),
		Delivered:     b.delivered.Load(),
		Dropped:       b.dropped.Load(),
		Subscriptions: n,
	}
}

// Close unsubscribes every subscription of the bus from NATS (their Err is
// pubsub.ErrClosed); later Publish and Subscribe calls return
// pubsub.ErrClosed. It leaves the NATS connection open. It returns the
// errors of the NATS unsubscribes, if any.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return nil
	}
	b.closed.Store(true)
	subs := make([]*subscription, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	var errs []error
	for _, s := range subs {
		if err := s.end(pubsub.ErrClosed); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// shorten cuts a name for an error message.
func shorten(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
