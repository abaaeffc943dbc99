package mcp

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/pubsub"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The client's publish/subscribe (Conn.Subscribe, Conn.Publish).
//
// A Subscription lives on the Conn, not on one connection: it is bound to
// one clientConn at a time, under a seq_id taken from the connection's call
// id space. When that connection is lost, or the server says GOAWAY or ends
// the subscription with UNAVAILABLE (a drain), the subscription is
// orphaned, and one goroutine per Conn (resubscribeLoop, alive only while
// there are orphans) subscribes it again on the next ready connection, as
// NATS clients do. Messages published in between are not delivered
// (at-most-once). A resubscription refused by the server, or refused with
// UNAVAILABLE by a connection that is not going away, ends the subscription
// with that status, so a subscription never retries in a loop against the
// same server.
//
// Lock order: Subscription.mu, then clientConn.mu; Conn.subs.mu, then
// Conn.mu. A send on a Subscription's channel happens under its mu, which
// orders it before the channel's close.

// Subscription is a subscription made with Conn.Subscribe. Its methods are
// safe for concurrent use.
type Subscription struct {
	conn   *Conn
	filter string
	queue  string
	policy pubsub.SlowConsumerPolicy
	meta   frame.Metadata // the SUBSCRIBE metadata, kept to resubscribe

	ch      chan *pubsub.Message
	done    chan struct{}
	dropped atomic.Uint64

	mu        sync.Mutex
	ended     bool
	err       error
	cc        *clientConn // the connection it is bound to; nil while orphaned
	id        uint32      // its seq_id on cc
	phase     subPhase
	waiter    chan error // a Subscribe or Unsubscribe waiting for the RESPONSE (cap 1)
	lastTopic string     // the last delivered topic, reused to save an allocation
}

type subPhase uint8

const (
	phaseSubscribing   subPhase = iota // SUBSCRIBE sent, not answered
	phaseActive                        // answered OK: deliveries flow
	phaseUnsubscribing                 // UNSUBSCRIBE sent, not answered
	phaseOrphan                        // not bound: waiting to resubscribe
)

// C delivers the subscription's messages. It is closed when the
// subscription ends, after the messages queued before the end, so
// `for m := range sub.C()` terminates; then Err says why. Each message is
// this subscription's own copy: the receiver may keep and modify it.
func (s *Subscription) C() <-chan *pubsub.Message { return s.ch }

// Done is closed when the subscription ends (before C is drained).
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err is nil while the subscription is live. Once Done is closed it says
// why it ended: pubsub.ErrUnsubscribed after Unsubscribe; ErrConnClosing
// after Conn.Close; otherwise a status error: RESOURCE_EXHAUSTED for a slow
// consumer (the server's queue for it, or with pubsub.Disconnect the
// client's delivery queue, overflowed), UNAVAILABLE when the server's bus
// closed, or whatever status the server refused a resubscription with.
func (s *Subscription) Err() error {
	select {
	case <-s.done:
	default:
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Dropped counts the messages lost on the client: a delivery queue found
// full (WithDeliveryQueue) or a delivery over the client's message limit.
// What the server drops for a slow client is counted by the server's bus.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Filter returns the topic filter given to Subscribe.
func (s *Subscription) Filter() string { return s.filter }

// Queue returns the queue group, "" if none.
func (s *Subscription) Queue() string { return s.queue }

// Unsubscribe ends the subscription: it sends UNSUBSCRIBE and waits for the
// server's answer, after which no message is queued. The subscription ends
// locally in any case (Err is pubsub.ErrUnsubscribed); Unsubscribe returns
// an error only when ctx ends before the server confirmed. It is idempotent.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return nil
	}
	switch s.phase {
	case phaseActive:
	case phaseUnsubscribing: // another Unsubscribe is waiting
		s.mu.Unlock()
		select {
		case <-s.done:
			return nil
		case <-ctx.Done():
			return ctxStatus(ctx)
		}
	default: // resubscribing or orphaned: nothing to wait for
		cc, id := s.cc, s.id
		s.unbindLocked()
		s.endLocked(pubsub.ErrUnsubscribed)
		s.mu.Unlock()
		if cc != nil {
			cc.sendCancel(id)
		}
		return nil
	}
	s.phase = phaseUnsubscribing
	w := make(chan error, 1)
	s.waiter = w
	cc, id := s.cc, s.id
	s.mu.Unlock()

	err := cc.t.enqueue(ctx, frame.Header{Type: frame.TypeUnsubscribe, Flags: frame.FlagNoMessage, SeqID: id}, nil, nil, false)
	if err != nil {
		// Not sent. A CANCEL never waits, and ends the subscription on the
		// server as well if the connection still stands.
		cc.sendCancel(id)
		s.finish(cc, id, pubsub.ErrUnsubscribed)
		if ctx.Err() != nil {
			return ctxStatus(ctx)
		}
		return nil
	}
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		s.finish(cc, id, pubsub.ErrUnsubscribed)
		return ctxStatus(ctx)
	}
}

// finish unbinds the subscription from (cc, id) and ends it with err, if it
// is still bound there.
func (s *Subscription) finish(cc *clientConn, id uint32, err error) {
	s.mu.Lock()
	if !s.ended && s.cc == cc && s.id == id {
		s.unbindLocked()
		s.endLocked(err)
	}
	s.mu.Unlock()
}

// endLocked ends the subscription with err. s.mu is held.
func (s *Subscription) endLocked(err error) {
	if s.ended {
		return
	}
	s.ended = true
	s.err = err
	close(s.ch)
	close(s.done)
	if w := s.waiter; w != nil {
		s.waiter = nil
		if err == pubsub.ErrUnsubscribed {
			err = nil
		}
		w <- err
	}
}

// unbindLocked takes the subscription off its connection. s.mu is held.
func (s *Subscription) unbindLocked() {
	if cc := s.cc; cc != nil {
		cc.mu.Lock()
		if cc.subs[s.id] == s {
			delete(cc.subs, s.id)
		}
		cc.mu.Unlock()
		s.cc = nil
	}
}

// Subscribe subscribes to the topics matching filter (PROTOCOL.md §7) and
// returns once the server has answered: with the Subscription, or with the
// server's status (INVALID_ARGUMENT for a bad filter or queue name,
// RESOURCE_EXHAUSTED past a bound, UNIMPLEMENTED when the server has no
// bus). A filter must be valid for package pubsub and printable ASCII.
// Outgoing metadata in ctx (credentials in "authorization") goes with the
// SUBSCRIBE; ctx bounds the call only, not the subscription.
//
// Messages arrive on Subscription.C, through a bounded queue
// (WithDeliveryQueue) that the connection's reader fills without ever
// waiting. When the connection is lost the subscription is made again on
// the next connection, and again after a GOAWAY; messages published in
// between are missed. The subscription lives until Unsubscribe, Conn.Close,
// or the server ends it (Err).
func (c *Conn) Subscribe(ctx context.Context, filter string, opts ...SubscribeOption) (*Subscription, error) {
	cfg := subscribeConfig{size: DefaultDeliveryQueue}
	for _, o := range opts {
		if o != nil {
			o.applySubscribe(&cfg)
		}
	}
	if err := pubsub.ValidateFilter(filter); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := checkTopicValue("filter", filter); err != nil {
		return nil, err
	}
	if _, err := pubsub.ResolveSubscribeOptions(pubsub.WithQueue(cfg.queue), pubsub.WithSlowConsumerPolicy(cfg.policy)); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	meta := frame.Metadata(nil).Append(frame.KeyTopic, filter)
	if cfg.queue != "" {
		meta = meta.Append(frame.KeyQueue, cfg.queue)
	}
	if md, ok := metadata.FromOutgoingContext(ctx); ok {
		meta = appendMD(meta, md)
	}
	if len(meta) > frame.MaxMetaLen {
		return nil, status.Errorf(codes.InvalidArgument, "mcp: SUBSCRIBE metadata of %d bytes exceeds %d", len(meta), frame.MaxMetaLen)
	}
	s := &Subscription{
		conn:   c,
		filter: filter,
		queue:  cfg.queue,
		policy: cfg.policy,
		meta:   meta,
		ch:     make(chan *pubsub.Message, cfg.size),
		done:   make(chan struct{}),
		waiter: make(chan error, 1),
	}
	w := s.waiter
	for attempt := 0; ; attempt++ {
		cc, err := c.ready(ctx, true)
		if err != nil {
			return nil, err
		}
		id, err := s.bind(cc)
		if err == errRetry && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, status.Error(codes.Unavailable, "mcp: no connection takes new subscriptions")
		}
		err = cc.t.enqueue(ctx, frame.Header{Type: frame.TypeSubscribe, Flags: frame.FlagNoMessage, SeqID: id}, meta, nil, false)
		if err != nil {
			s.mu.Lock()
			if s.cc == cc && s.id == id {
				s.unbindLocked()
			}
			s.mu.Unlock()
			if ctx.Err() != nil {
				return nil, ctxStatus(ctx)
			}
			if attempt < 3 {
				continue // nothing was written: safe on another connection
			}
			return nil, errConnClosed
		}
		break
	}
	select {
	case err := <-w:
		if err != nil {
			return nil, err
		}
		return s, nil
	case <-ctx.Done():
		s.mu.Lock()
		cc, id := s.cc, s.id
		s.unbindLocked()
		s.endLocked(ctxStatus(ctx))
		s.mu.Unlock()
		if cc != nil {
			cc.sendCancel(id)
		}
		return nil, ctxStatus(ctx)
	}
}

// bind binds an unbound subscription to cc under a fresh seq_id, in the
// phase of subscribing. It returns errRetry when cc takes nothing new, and
// an error when the subscription has ended.
func (s *Subscription) bind(cc *clientConn) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return 0, s.err
	}
	cc.mu.Lock()
	if cc.away {
		cc.mu.Unlock()
		return 0, errRetry
	}
	if cc.subs == nil {
		cc.subs = make(map[uint32]*Subscription)
	}
	for {
		cc.next++
		if cc.next == 0 {
			cc.next = 1 // ids wrap, skipping 0
		}
		if cc.calls[cc.next] == nil && cc.subs[cc.next] == nil {
			break
		}
	}
	id := cc.next
	cc.subs[id] = s
	cc.mu.Unlock()
	s.cc, s.id, s.phase = cc, id, phaseSubscribing
	return id, nil
}

// sendCancel tells the server to end subscription id; it never waits.
func (cc *clientConn) sendCancel(id uint32) {
	_ = cc.t.enqueue(context.Background(), frame.Header{Type: frame.TypeCancel, SeqID: id}, nil, nil, true)
}

func (cc *clientConn) sub(id uint32) *Subscription {
	cc.mu.Lock()
	s := cc.subs[id]
	cc.mu.Unlock()
	return s
}

// subResponse handles a RESPONSE for a subscription id; run by the reader.
func (cc *clientConn) subResponse(f *frame.Frame) {
	s := cc.sub(f.SeqID)
	if s == nil {
		return // crossed a CANCEL, or a second answer
	}
	err := statusFromFrame(f.Status, f.Meta)
	s.mu.Lock()
	if s.ended || s.cc != cc || s.id != f.SeqID {
		s.mu.Unlock()
		return
	}
	switch s.phase {
	case phaseSubscribing:
		if err == nil {
			s.phase = phaseActive
			if w := s.waiter; w != nil {
				s.waiter = nil
				w <- nil
			}
			s.mu.Unlock()
			return
		}
		s.unbindLocked()
		if s.waiter == nil && status.Code(err) == codes.Unavailable && cc.isAway() {
			s.mu.Unlock()
			s.conn.orphan(s) // a draining server refused the resubscription: try the next one
			return
		}
		s.endLocked(err)
	case phaseActive:
		// The server ended the subscription.
		s.unbindLocked()
		if status.Code(err) == codes.Unavailable {
			s.mu.Unlock()
			s.conn.orphan(s)
			return
		}
		if err == nil {
			err = status.Error(codes.Unavailable, "mcp: the server ended the subscription")
		}
		s.endLocked(err)
	case phaseUnsubscribing:
		s.unbindLocked()
		s.endLocked(pubsub.ErrUnsubscribed)
	}
	s.mu.Unlock()
}

func (cc *clientConn) isAway() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.away
}

// deliver handles a PUBLISH from the server; run by the reader. It never
// waits: a full delivery queue drops the message (or, under
// pubsub.Disconnect, ends the subscription).
func (cc *clientConn) deliver(f *frame.Frame) {
	s := cc.sub(f.SeqID)
	if s == nil {
		return
	}
	tb, ok := f.Meta.Get(frame.KeyTopic)
	if !ok {
		return
	}
	s.mu.Lock()
	if s.ended || s.cc != cc || s.id != f.SeqID {
		s.mu.Unlock()
		return
	}
	if len(s.ch) == cap(s.ch) { // only this reader sends, under s.mu: a free slot stays free
		s.dropped.Add(1)
		if s.policy != pubsub.Disconnect {
			s.mu.Unlock()
			return
		}
		s.unbindLocked()
		s.endLocked(status.Errorf(codes.ResourceExhausted, "mcp: slow consumer: the subscription's delivery queue of %d messages is full", cap(s.ch)))
		s.mu.Unlock()
		cc.sendCancel(f.SeqID)
		return
	}
	topic := s.lastTopic
	if string(tb) != topic {
		topic = string(tb)
		s.lastTopic = topic
	}
	s.ch <- newMessage(topic, headerFromMeta(f.Meta), f.Body)
	s.mu.Unlock()
}

// deliveryTooLarge counts a PUBLISH whose body was over the client's
// message limit as dropped.
func (cc *clientConn) deliveryTooLarge(f *frame.Frame) {
	if s := cc.sub(f.SeqID); s != nil {
		s.dropped.Add(1)
	}
}

// takeSubs removes and returns the connection's subscriptions.
func (cc *clientConn) takeSubs() map[uint32]*Subscription {
	cc.mu.Lock()
	subs := cc.subs
	cc.subs = nil
	cc.mu.Unlock()
	return subs
}

// subsAway moves the subscriptions off a connection whose server said
// GOAWAY: each is cancelled there and made again on the next connection.
func (cc *clientConn) subsAway() {
	for id, s := range cc.takeSubs() {
		cc.sendCancel(id)
		s.lost(cc, id, nil)
	}
}

// subsClosed handles the subscriptions of a connection that closed.
func (cc *clientConn) subsClosed(err error) {
	for id, s := range cc.takeSubs() {
		s.lost(cc, id, err)
	}
}

// lost handles the loss of s's connection cc: closeErr is the close's
// reason, nil for a GOAWAY. An unsubscribing subscription is over; a first
// Subscribe still waiting for its answer fails with closeErr (as a call
// would); every other subscription is made again on the next connection.
func (s *Subscription) lost(cc *clientConn, id uint32, closeErr error) {
	s.mu.Lock()
	if s.ended || s.cc != cc || s.id != id {
		s.mu.Unlock()
		return
	}
	s.cc = nil // cc's table is already empty
	switch {
	case s.phase == phaseUnsubscribing:
		s.endLocked(pubsub.ErrUnsubscribed)
	case s.phase == phaseSubscribing && s.waiter != nil && closeErr != nil:
		s.endLocked(closeErr)
	default:
		s.mu.Unlock()
		s.conn.orphan(s)
		return
	}
	s.mu.Unlock()
}

// connSubs is a Conn's resubscription state.
type connSubs struct {
	mu      sync.Mutex
	orphans []*Subscription
	running bool // resubscribeLoop runs
}

// orphan queues s (unbound) to be subscribed again on the next ready
// connection, or ends it if the Conn is closed.
func (c *Conn) orphan(s *Subscription) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.phase = phaseOrphan
	s.mu.Unlock()

	c.subs.mu.Lock()
	c.subs.orphans = append(c.subs.orphans, s)
	if c.subs.running {
		c.subs.mu.Unlock()
		return
	}
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.wg.Add(1) // before Close can Wait: Close sets closed under c.mu first
	}
	c.mu.Unlock()
	if closed {
		orphans := c.subs.orphans
		c.subs.orphans = nil
		c.subs.mu.Unlock()
		endAll(orphans, ErrConnClosing)
		return
	}
	c.subs.running = true
	c.subs.mu.Unlock()
	go c.resubscribeLoop()
}

func endAll(subs []*Subscription, err error) {
	for _, s := range subs {
		s.mu.Lock()
		s.endLocked(err)
		s.mu.Unlock()
	}
}

// resubscribeLoop subscribes the orphans again, each on the next ready
// connection, until there are none; it ends them if the Conn closes.
func (c *Conn) resubscribeLoop() {
	defer c.wg.Done()
	for {
		c.subs.mu.Lock()
		batch := c.subs.orphans
		c.subs.orphans = nil
		if len(batch) == 0 {
			c.subs.running = false
			c.subs.mu.Unlock()
			return
		}
		c.subs.mu.Unlock()

		cc, err := c.ready(context.Background(), false) // waits for a connection; fails only once closed
		if err != nil {
			endAll(batch, err)
			continue
		}
		retry := false
		for _, s := range batch {
			if s.resubscribe(cc) {
				retry = true
			}
		}
		if retry {
			c.waitReplaced(cc)
		}
	}
}

// resubscribe makes orphan s again on cc. It reports whether cc took no new
// subscription (it is going away), s being queued again.
func (s *Subscription) resubscribe(cc *clientConn) (retry bool) {
	s.mu.Lock()
	if s.ended || s.phase != phaseOrphan {
		s.mu.Unlock()
		return false
	}
	s.mu.Unlock()
	id, err := s.bind(cc)
	if err == errRetry {
		s.conn.orphan(s)
		return true
	}
	if err != nil {
		return false // ended meanwhile
	}
	// If this fails the connection is closing, and its close hands s back
	// to the orphans.
	_ = cc.t.enqueue(context.Background(), frame.Header{Type: frame.TypeSubscribe, Flags: frame.FlagNoMessage, SeqID: id}, s.meta, nil, false)
	return false
}

// waitReplaced waits until cc is no longer the Conn's current connection
// (or the Conn closes).
func (c *Conn) waitReplaced(cc *clientConn) {
	c.mu.Lock()
	if c.cur != cc || c.closed {
		c.mu.Unlock()
		return
	}
	ch := c.changed
	c.mu.Unlock()
	<-ch
}

// Publish publishes payload on topic (PROTOCOL.md §7). By default it is
// fire-and-forget: a PUBLISH with seq_id 0, returned from once queued for the
// connection (waiting while the connection's write buffer is full, within
// ctx); the server's verdict is not reported. With WithConfirm it waits for
// the server to accept the message and returns its status
// (INVALID_ARGUMENT, UNAVAILABLE when its bus is closed, UNIMPLEMENTED when
// it has none). topic must be a valid pubsub topic name of printable ASCII;
// WithHeader adds message headers. Outgoing metadata in ctx goes along as
// well (credentials in "authorization" are not passed on to subscribers).
// Publish does not keep payload.
func (c *Conn) Publish(ctx context.Context, topic string, payload []byte, opts ...PublishOption) error {
	var cfg publishConfig
	if len(opts) > 0 {
		cfg = resolvePublish(opts)
	}
	if err := pubsub.ValidateTopic(topic); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if err := checkTopicValue("topic", topic); err != nil {
		return err
	}
	if len(payload) > c.opts.conn.maxSendMsg {
		return status.Errorf(codes.ResourceExhausted, "mcp: message of %d bytes exceeds the %d-byte limit", len(payload), c.opts.conn.maxSendMsg)
	}
	var mbuf [256]byte // the metadata of a small message stays on the stack
	meta := frame.Metadata(mbuf[:0]).Append(frame.KeyTopic, topic)
	if len(cfg.header) > 0 {
		if err := checkHeader(cfg.header); err != nil {
			return err
		}
		for k, vs := range cfg.header {
			for _, v := range vs {
				meta = meta.Append(k, v)
			}
		}
	}
	if md, ok := metadata.FromOutgoingContext(ctx); ok {
		meta = appendMD(meta, md)
	}
	if len(meta) > frame.MaxMetaLen {
		return status.Errorf(codes.InvalidArgument, "mcp: PUBLISH metadata of %d bytes exceeds %d", len(meta), frame.MaxMetaLen)
	}
	if cfg.confirm {
		return c.publishConfirmed(ctx, meta, payload)
	}
	for attempt := 0; ; attempt++ {
		cc, err := c.ready(ctx, true)
		if err != nil {
			return err
		}
		err = cc.t.enqueue(ctx, frame.Header{Type: frame.TypePublish}, meta, payload, false)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctxStatus(ctx)
		}
		if attempt >= 3 {
			return errConnClosed
		}
	}
}

func resolvePublish(opts []PublishOption) publishConfig {
	var cfg publishConfig
	for _, o := range opts {
		if o != nil {
			o.applyPublish(&cfg)
		}
	}
	return cfg
}

// publishConfirmed sends a PUBLISH under a call id and waits for its
// RESPONSE, as a unary call without a reply.
func (c *Conn) publishConfirmed(ctx context.Context, meta frame.Metadata, payload []byte) error {
	call := &clientCall{done: make(chan struct{}), maxRecv: c.opts.conn.maxRecvMsg}
	for attempt := 0; ; attempt++ {
		cc, err := c.ready(ctx, true)
		if err != nil {
			return err
		}
		if err := cc.add(call); err != nil {
			if errors.Is(err, errRetry) {
				if attempt < 3 {
					continue
				}
				return status.Error(codes.Unavailable, "mcp: no connection takes new calls")
			}
			return err
		}
		err = cc.t.enqueue(ctx, frame.Header{Type: frame.TypePublish, SeqID: call.id}, meta, payload, false)
		if err != nil {
			cc.remove(call)
			if ctx.Err() != nil {
				return ctxStatus(ctx)
			}
			if attempt < 3 {
				continue // nothing was written: safe on another connection
			}
			return errConnClosed
		}
		select {
		case <-call.done:
		case <-ctx.Done():
			cc.remove(call) // no CANCEL: a PUBLISH is not a call the server holds open
			call.fail(ctxStatus(ctx))
			<-call.done
		}
		return call.err
	}
}
