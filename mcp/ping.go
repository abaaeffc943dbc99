package mcp

import (
	"context"
	"time"

	"github.com/mcpbridge/mcpbridge/frame"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// maxPendingPings bounds the Ping calls waiting on one connection.
const maxPendingPings = 64

// ping sends a PING and waits for its PONG.
func (t *transport) ping(ctx context.Context) (time.Duration, error) {
	ch := make(chan struct{})
	t.pingMu.Lock()
	if len(t.pings) >= maxPendingPings {
		t.pingMu.Unlock()
		return 0, status.Error(codes.ResourceExhausted, "mcp: too many pings in flight")
	}
	if t.pings == nil {
		t.pings = make(map[uint32]chan struct{})
	}
	seq := t.pingSeq.Add(1)
	t.pings[seq] = ch
	t.pingMu.Unlock()
	defer func() {
		t.pingMu.Lock()
		delete(t.pings, seq)
		t.pingMu.Unlock()
	}()
	start := time.Now()
	var b [4]byte
	b[0], b[1], b[2], b[3] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	if err := t.enqueue(ctx, frame.Header{Type: frame.TypePing, SeqID: seq}, nil, b[:], false); err != nil {
		if ctx.Err() != nil {
			return 0, ctxStatus(ctx)
		}
		return 0, errConnClosed
	}
	select {
	case <-ch:
		return time.Since(start), nil
	case <-ctx.Done():
		return 0, ctxStatus(ctx)
	case <-t.done:
		return 0, errConnClosed
	}
}

// pong wakes the Ping call waiting for seq, if any.
func (t *transport) pong(seq uint32) {
	t.pingMu.Lock()
	ch := t.pings[seq]
	delete(t.pings, seq)
	t.pingMu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// Ping sends a PING on the current connection and returns the round-trip
// time once the PONG arrives. Health checkers use it.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	cc, err := c.ready(ctx, true)
	if err != nil {
		return 0, err
	}
	return cc.t.ping(ctx)
}
