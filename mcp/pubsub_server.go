package mcp

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/pubsub"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The server's publish/subscribe front (WithBus).
//
// A SUBSCRIBE registers a serverSub under its seq_id, in the id space the
// connection's calls use, and starts its goroutine, which alone writes
// everything that id carries from then on: it subscribes on the bus,
// answers the SUBSCRIBE (RESPONSE OK, or the bus's error), pumps the bus
// subscription's messages into the connection's writer as PUBLISH frames,
// and, when the subscription ends, sends the final RESPONSE if one is due.
// So the answer precedes every delivery and the RESPONSE to an UNSUBSCRIBE
// follows the last one.
//
// Back-pressure: the pump enqueues each delivery like any sender, so when
// the writer is backed up (a client that reads slowly, a full TCP window)
// the pump waits; meanwhile the bus keeps queueing into the subscription's
// bounded queue (WithSubscriptionQueue), and when that is full the bus's
// slow-consumer policy applies: the message is dropped and counted, or the
// subscription ends (ErrSlowConsumer) and the client gets RESOURCE_EXHAUSTED
// for it. Neither the publisher nor other subscribers wait.
//
// A subscription ends by UNSUBSCRIBE (answered OK once no delivery can
// follow), CANCEL (no answer), the bus (slow consumer: RESOURCE_EXHAUSTED;
// bus closed: UNAVAILABLE), a drain (UNAVAILABLE: subscriptions do not hold a
// draining connection open) or the connection's close (nothing is sent).
// Each end unsubscribes from the bus and ends the goroutine.

// connPubSub is a serverConn's publish/subscribe state, guarded by the
// serverConn's mu.
type connPubSub struct {
	subs map[uint32]*serverSub // open subscriptions by seq_id

	lastTopic string // reader-only: the last published topic, reused to save an allocation
}

// Why a subscription was stopped from outside its goroutine.
const (
	stopNone        int32 = iota
	stopCancel            // CANCEL: nothing is answered
	stopUnsubscribe       // UNSUBSCRIBE: answered OK
	stopDrain             // Shutdown: answered UNAVAILABLE
	stopClosed            // the connection closed: nothing can be sent
	stopSelf              // the goroutine ended it itself (bus, writer)
)

// serverSub is one subscription a client opened with SUBSCRIBE.
type serverSub struct {
	sc     *serverConn
	id     uint32
	filter string
	opts   []pubsub.SubscribeOption
	ctx    context.Context // cancelled by stop and by the connection's close
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has returned
	why    atomic.Int32  // stop*: the first reason wins

	// Goroutine-only.
	sub       pubsub.Subscription // the bus subscription, once subscribed
	answered  bool                // the SUBSCRIBE was answered OK
	meta      frame.Metadata      // scratch for delivery metadata
	lastTopic string              // the last delivered topic, and whether it can
	topicOK   bool                // travel as a :topic value
}

// authorizePubSub is the place for access control on topics. It is called
// for every SUBSCRIBE (name is the filter) and client PUBLISH (name is the
// topic) before the bus sees it, with the frame's metadata, whose
// authorization entry carries the client's credentials, and with the
// connection's context (the peer) in sc.ctx. A non-nil status refuses the
// frame with it (PERMISSION_DENIED, UNAUTHENTICATED); for an unconfirmed
// PUBLISH the refusal is silent. There is no authorization system yet:
// everything is allowed.
func (sc *serverConn) authorizePubSub(op frame.Type, name string, meta frame.Metadata) *status.Status {
	_, _, _ = op, name, meta
	return nil
}

// handlePubSub handles a SUBSCRIBE, UNSUBSCRIBE or PUBLISH from the client;
// run by the reader.
func (sc *serverConn) handlePubSub(f *frame.Frame) error {
	if sc.srv.opts.pubsub.bus == nil {
		if f.Type != frame.TypePublish || f.SeqID != 0 {
			sc.reply(f.SeqID, codes.Unimplemented, "publish/subscribe is not enabled on this server")
		}
		return nil
	}
	switch f.Type {
	case frame.TypeSubscribe:
		return sc.subscribe(f)
	case frame.TypeUnsubscribe:
		sc.unsubscribe(f.SeqID)
	case frame.TypePublish:
		sc.publish(f)
	}
	return nil
}

// replyStatus answers id with st (nil: OK); a RESPONSE without a message.
func (sc *serverConn) replyStatus(id uint32, st *status.Status) {
	if id == 0 {
		return
	}
	h := frame.Header{Type: frame.TypeResponse, Flags: frame.FlagNoMessage, SeqID: id}
	var meta frame.Metadata
	if st != nil && st.Code() != codes.OK {
		h.Status = uint8(st.Code())
		meta = appendStatus(nil, st)
	}
	_ = sc.t.enqueue(context.Background(), h, meta, nil, true)
}

// subscribe opens a subscription.
func (sc *serverConn) subscribe(f *frame.Frame) error {
	id := f.SeqID
	if id == 0 {
		return &connErr{codes.InvalidArgument, "SUBSCRIBE with seq_id 0"}
	}
	fb, ok := f.Meta.Get(frame.KeyTopic)
	if !ok || len(fb) == 0 {
		sc.reply(id, codes.InvalidArgument, "SUBSCRIBE without a :topic filter")
		return nil
	}
	filter := string(fb)
	if err := pubsub.ValidateFilter(filter); err != nil {
		sc.reply(id, codes.InvalidArgument, err.Error())
		return nil
	}
	ps := &sc.srv.opts.pubsub
	opts := ps.subOpts
	if q, ok := f.Meta.Get(frame.KeyQueue); ok && len(q) > 0 {
		opts = append(opts[:len(opts):len(opts)], pubsub.WithQueue(string(q)))
	}
	if _, err := pubsub.ResolveSubscribeOptions(opts...); err != nil {
		sc.reply(id, codes.InvalidArgument, err.Error())
		return nil
	}
	if st := sc.authorizePubSub(f.Type, filter, f.Meta); st != nil {
		sc.replyStatus(id, st)
		return nil
	}
	maxSubs := ps.maxSubs
	if maxSubs <= 0 {
		maxSubs = DefaultMaxSubscriptions
	}

	sc.mu.Lock()
	switch {
	case sc.draining:
		sc.mu.Unlock()
		sc.reply(id, codes.Unavailable, "server is shutting down; subscribe on another connection")
		return nil
	case sc.calls[id] != nil || sc.ps.subs[id] != nil:
		sc.mu.Unlock()
		return &connErr{codes.InvalidArgument, "seq_id " + strconv.FormatUint(uint64(id), 10) + " reused while its call or subscription is open"}
	case len(sc.ps.subs) >= maxSubs:
		sc.mu.Unlock()
		sc.reply(id, codes.ResourceExhausted, "too many subscriptions on this connection (limit "+strconv.Itoa(maxSubs)+")")
		return nil
	}
	s := &serverSub{sc: sc, id: id, filter: filter, opts: opts, done: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(sc.ctx)
	if sc.ps.subs == nil {
		sc.ps.subs = make(map[uint32]*serverSub)
	}
	sc.ps.subs[id] = s
	sc.mu.Unlock()
	go s.run()
	return nil
}

// takeSub removes and returns the subscription id, nil if none is open.
func (sc *serverConn) takeSub(id uint32) *serverSub {
	sc.mu.Lock()
	s := sc.ps.subs[id]
	if s != nil {
		delete(sc.ps.subs, id)
	}
	sc.mu.Unlock()
	return s
}

// unsubscribe handles UNSUBSCRIBE: the subscription's goroutine answers OK
// after its last delivery.
func (sc *serverConn) unsubscribe(id uint32) {
	if id == 0 {
		return
	}
	s := sc.takeSub(id)
	if s == nil {
		sc.mu.Lock()
		call := sc.calls[id] != nil
		sc.mu.Unlock()
		if !call { // an answer on a call's id would end the call
			sc.reply(id, codes.NotFound, "no subscription "+strconv.FormatUint(uint64(id), 10)+" on this connection")
		}
		return
	}
	s.stop(stopUnsubscribe)
}

// cancelSub handles a CANCEL for a subscription; it reports whether id was
// one.
func (sc *serverConn) cancelSub(id uint32) bool {
	s := sc.takeSub(id)
	if s == nil {
		return false
	}
	s.stop(stopCancel)
	return true
}

// takeSubs removes and returns every subscription.
func (sc *serverConn) takeSubs() map[uint32]*serverSub {
	sc.mu.Lock()
	subs := sc.ps.subs
	sc.ps.subs = nil
	sc.mu.Unlock()
	return subs
}

// drainSubs ends every subscription with UNAVAILABLE for a drain and waits
// (a bounded time) until their answers are queued, so that they go out
// before the connection closes.
func (sc *serverConn) drainSubs() {
	subs := sc.takeSubs()
	if len(subs) == 0 {
		return
	}
	for _, s := range subs {
		s.stop(stopDrain)
	}
	timer := time.NewTimer(DefaultShutdownWriteWait)
	defer timer.Stop()
	for _, s := range subs {
		select {
		case <-s.done:
		case <-timer.C:
			return
		}
	}
}

// closeSubs ends every subscription because the connection closed.
func (sc *serverConn) closeSubs() {
	for _, s := range sc.takeSubs() {
		s.stop(stopClosed)
	}
}

// publish handles a client's PUBLISH.
func (sc *serverConn) publish(f *frame.Frame) {
	id := f.SeqID
	tb, ok := f.Meta.Get(frame.KeyTopic)
	if !ok {
		sc.reply(id, codes.InvalidArgument, "PUBLISH without a :topic")
		return
	}
	topic := sc.ps.lastTopic
	if string(tb) != topic {
		topic = string(tb)
		if err := pubsub.ValidateTopic(topic); err != nil {
			sc.reply(id, codes.InvalidArgument, err.Error())
			return
		}
		sc.ps.lastTopic = topic
	}
	if st := sc.authorizePubSub(f.Type, topic, f.Meta); st != nil {
		sc.replyStatus(id, st)
		return
	}
	m := newMessage(topic, headerFromMeta(f.Meta), f.Body)
	err := sc.srv.opts.pubsub.bus.Publish(sc.ctx, m)
	if id != 0 {
		sc.replyStatus(id, busStatus(err))
	}
}

// stop asks the goroutine to end the subscription, for reason why (stop*).
// Only the first reason counts.
func (s *serverSub) stop(why int32) {
	s.why.CompareAndSwap(stopNone, why)
	s.cancel()
}

// run subscribes on the bus, answers the SUBSCRIBE, and delivers until the
// subscription ends.
func (s *serverSub) run() {
	defer close(s.done)
	defer s.cancel()
	sc := s.sc
	sub, err := sc.srv.opts.pubsub.bus.Subscribe(s.ctx, s.filter, s.opts...)
	if err != nil {
		if s.ctx.Err() != nil {
			s.stopped()
			return
		}
		s.endSelf(busStatus(err))
		return
	}
	s.sub = sub
	if s.ctx.Err() == nil {
		sc.replyStatus(s.id, nil)
		s.answered = true
	}
	c, done := sub.C(), s.ctx.Done()
	for {
		var m *pubsub.Message
		var ok bool
		// A message already queued is taken without the two-way select,
		// which costs more than the delivery under load.
		select {
		case m, ok = <-c:
		default:
			select {
			case m, ok = <-c:
			case <-done:
				s.stopped()
				return
			}
		}
		if !ok {
			s.endSelf(endStatus(sub))
			return
		}
		if s.why.Load() != stopNone {
			s.stopped()
			return
		}
		if err := s.deliver(m); err != nil {
			if s.ctx.Err() != nil {
				s.stopped()
			} else {
				s.endSelf(nil) // the connection is closing: nothing more can be sent
			}
			return
		}
	}
}

// endStatus is the status sent when the bus ended sub.
func endStatus(sub pubsub.Subscription) *status.Status {
	err := sub.Err()
	if errors.Is(err, pubsub.ErrSlowConsumer) {
		return status.New(codes.ResourceExhausted, "slow consumer: the subscription's queue overflowed while the connection was backed up; subscribe again")
	}
	if st := busStatus(err); st != nil {
		return st
	}
	return status.New(codes.Unavailable, "the subscription ended")
}

// unsubscribe ends the bus subscription, if any, before a final answer
// tells the client that it is over.
func (s *serverSub) unsubscribe() {
	if s.sub != nil {
		_ = s.sub.Unsubscribe()
	}
}

// endSelf ends the subscription from its goroutine: it leaves the
// connection's table (so that the id is free once the client sees the
// answer) and the client is told st, unless a stop came first.
func (s *serverSub) endSelf(st *status.Status) {
	s.unsubscribe()
	if !s.why.CompareAndSwap(stopNone, stopSelf) {
		s.stopped()
		return
	}
	sc := s.sc
	sc.mu.Lock()
	if sc.ps.subs[s.id] == s {
		delete(sc.ps.subs, s.id)
	}
	sc.mu.Unlock()
	if st != nil {
		sc.replyStatus(s.id, st)
	}
}

// stopped sends what a stop from outside calls for. The stopper has taken
// the subscription out of the connection's table.
func (s *serverSub) stopped() {
	s.unsubscribe()
	sc := s.sc
	switch s.why.Load() {
	case stopUnsubscribe:
		if !s.answered {
			sc.replyStatus(s.id, nil) // the SUBSCRIBE's answer, then the UNSUBSCRIBE's
		}
		sc.replyStatus(s.id, nil)
	case stopDrain:
		sc.replyStatus(s.id, status.New(codes.Unavailable, "server is shutting down; subscribe again on another connection"))
	}
}

// deliver sends m as a PUBLISH frame, waiting while the writer is backed up.
// A message MCP cannot carry to this client (a payload over its message
// limit, a topic that is not printable ASCII or does not fit the metadata
// block: possible when it was published over another front door) is
// skipped.
func (s *serverSub) deliver(m *pubsub.Message) error {
	t := s.sc.t
	if len(m.Payload) > t.opts.maxSendMsg {
		return nil
	}
	if m.Topic != s.lastTopic {
		s.lastTopic = m.Topic
		s.topicOK = checkTopicValue("topic", m.Topic) == nil
	}
	if !s.topicOK {
		return nil
	}
	meta := s.meta[:0].Append(frame.KeyTopic, m.Topic)
	if len(m.Header) > 0 {
		meta = appendHeader(meta, m.Header)
	}
	s.meta = meta
	return t.enqueue(s.ctx, frame.Header{Type: frame.TypePublish, SeqID: s.id}, meta, m.Payload, false)
}
