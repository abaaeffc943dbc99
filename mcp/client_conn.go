package mcp

import (
	"context"
	"net"
	"strconv"
	"sync"

	"github.com/mcpbridge/mcpbridge/frame"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// clientConn is the client side of one connection.
type clientConn struct {
	c *Conn
	t *transport

	mu      sync.Mutex
	calls   map[uint32]*clientCall
	next    uint32                   // last seq_id used
	away    bool                     // the server said GOAWAY, or the connection closed
	awayErr error                    // why, for calls it ends
	subs    map[uint32]*Subscription // subscriptions bound here (pubsub_client.go)
}

func newClientConn(c *Conn, nc net.Conn) *clientConn {
	cc := &clientConn{c: c, calls: make(map[uint32]*clientCall)}
	cc.t = newTransport(nc, &c.opts.conn, cc)
	return cc
}

// add registers a new call and picks its seq_id. It returns errRetry when
// the connection takes no new calls.
func (cc *clientConn) add(call *clientCall) error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.away {
		return errRetry
	}
	if len(cc.calls) >= cc.t.opts.maxCalls {
		return status.Errorf(codes.ResourceExhausted, "mcp: %d calls already open on this connection", len(cc.calls))
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
	call.id = cc.next
	call.cc = cc
	cc.calls[call.id] = call
	return nil
}

// remove forgets a call; it reports whether the call was still registered.
func (cc *clientConn) remove(call *clientCall) bool {
	cc.mu.Lock()
	found := cc.calls[call.id] == call
	if found {
		delete(cc.calls, call.id)
	}
	idle := cc.away && len(cc.calls) == 0
	cc.mu.Unlock()
	if idle {
		cc.t.closeAfterFlush(DefaultShutdownWriteWait, nil)
	}
	return found
}

// cancel abandons a call: it is forgotten and the server told with CANCEL.
func (cc *clientConn) cancel(call *clientCall, sent bool) {
	if cc.remove(call) && sent {
		_ = cc.t.enqueue(context.Background(), frame.Header{Type: frame.TypeCancel, SeqID: call.id}, nil, nil, true)
	}
}

func (cc *clientConn) take(id uint32) *clientCall {
	cc.mu.Lock()
	call := cc.calls[id]
	if call != nil {
		delete(cc.calls, id)
	}
	idle := cc.away && len(cc.calls) == 0
	cc.mu.Unlock()
	if idle {
		cc.t.closeAfterFlush(DefaultShutdownWriteWait, nil)
	}
	return call
}

func (cc *clientConn) lookup(id uint32) *clientCall {
	cc.mu.Lock()
	call := cc.calls[id]
	cc.mu.Unlock()
	return call
}

func (cc *clientConn) handleFrame(f *frame.Frame) error {
	switch f.Type {
	case frame.TypeResponse:
		if call := cc.take(f.SeqID); call != nil {
			call.complete(f)
		} else {
			cc.subResponse(f)
		}
	case frame.TypeStream:
		if call := cc.lookup(f.SeqID); call != nil {
			if err := call.push(f); err != nil {
				cc.cancel(call, true)
				call.fail(err)
			}
		}
	case frame.TypePublish:
		cc.deliver(f) // pubsub_client.go
	default:
		// Frames a server should not send (REQUEST, ...).
	}
	return nil
}

func (cc *clientConn) tooLarge(f *frame.Frame) {
	if f.Type == frame.TypePublish {
		cc.deliveryTooLarge(f)
		return
	}
	if f.Type != frame.TypeResponse && f.Type != frame.TypeStream {
		return
	}
	call := cc.take(f.SeqID)
	if call == nil {
		return
	}
	if f.Type == frame.TypeStream {
		_ = cc.t.enqueue(context.Background(), frame.Header{Type: frame.TypeCancel, SeqID: f.SeqID}, nil, nil, true)
	}
	call.fail(status.Errorf(codes.ResourceExhausted, "mcp: reply exceeds the client's %d-byte message limit", cc.t.opts.maxRecvMsg))
}

func (cc *clientConn) goAway(f *frame.Frame) {
	msg, _ := f.Meta.Get(frame.KeyErrorMessage)
	reason := "server sent GOAWAY"
	if len(msg) > 0 {
		reason += ": " + string(msg)
	}
	cc.mu.Lock()
	cc.away = true
	var refused []*clientCall
	for id, call := range cc.calls {
		if id > f.SeqID {
			refused = append(refused, call)
			delete(cc.calls, id)
		}
	}
	if f.Status != 0 {
		cc.awayErr = status.Error(codes.Unavailable, "mcp: "+reason+" (status "+codes.Code(f.Status).String()+")")
	}
	idle := len(cc.calls) == 0
	cc.mu.Unlock()
	for _, call := range refused {
		call.fail(refusedErr("mcp: " + reason + "; call " + strconv.FormatUint(uint64(call.id), 10) + " was not processed and is safe to retry"))
	}
	cc.c.lost(cc, false, status.Error(codes.Unavailable, "mcp: "+reason))
	cc.subsAway() // subscriptions move to the next connection
	if idle {
		cc.t.closeAfterFlush(DefaultShutdownWriteWait, nil)
	}
}

func (cc *clientConn) closed(err error) {
	cc.mu.Lock()
	cc.away = true
	if cc.awayErr != nil {
		err = cc.awayErr
	}
	calls := cc.calls
	cc.calls = map[uint32]*clientCall{}
	cc.mu.Unlock()
	if err == nil {
		err = errConnClosed
	}
	for _, call := range calls {
		call.fail(err)
	}
	cc.c.lost(cc, true, err)
	cc.subsClosed(err)
}
