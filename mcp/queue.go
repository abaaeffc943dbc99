package mcp

import (
	"math"
	"strconv"
	"sync"
	"time"
)

// inQueue is the inbound side of one streaming call: the reader goroutine
// puts the messages the peer sent, the application takes them.
//
// MCP/1 has no per-call flow control (PROTOCOL.md §8): a reader that can put
// nothing more must either stop reading the connection — every call on it
// waits — or end the call. put does the first for a bounded time (the
// connection's streamWait, WithStreamQueueWait) and then the second, so a
// consumer that reads as fast as it can is never failed by a burst, and one
// that stops reading ends its own call with RESOURCE_EXHAUSTED after at most
// that long, while the other calls on the connection go on.
//
// The messages are a ring that grows, up to the bound, only as far as the
// messages actually queued need: most calls queue none or few, and a call
// must cost little to start (making and clearing a buffered channel of the
// bound's size was a quarter of a forwarded call's CPU). The ring and the two signal channels are made
// when first needed, so a queue nothing is put into costs only its fields,
// which every call carries.
type inQueue struct {
	mu       sync.Mutex // guards what follows but on and max
	buf      [][]byte   // the ring; len(buf) is its capacity
	bytes    int
	head, n  int32
	max      int32         // the bound in messages: set before the call is shared, then read-only
	on       bool          // a queue is in use: as max
	closed   bool          // END_STREAM: nothing more is put
	wantRoom bool          // put waits on room
	rdy      chan struct{} // cap 1, made by the consumer's first wait (ready): a message was put, or the queue closed
	room     chan struct{} // cap 1, made by put's first wait: the consumer took a message while wantRoom
}

// init makes q a streaming call's queue bounded to messages messages.
func (q *inQueue) init(messages int) {
	q.on = true
	q.max = int32(min(messages, math.MaxInt32))
}

// putResult is what put did with a message.
type putResult uint8

const (
	putQueued       putResult = iota
	putStopped                // the call or connection ended while put waited: dropped
	putFullMessages           // still full after the wait: the call must end
	putFullBytes
)

// fits says whether n more bytes can be queued now; q.mu is held.
func (q *inQueue) fits(n, maxBytes int) putResult {
	if q.bytes != 0 && q.bytes+n > maxBytes {
		return putFullBytes // a message larger than the bound still goes into an empty queue
	}
	if q.n >= q.max {
		return putFullMessages
	}
	return putQueued
}

// put queues b, which the queue then owns. It waits while the queue holds
// maxBytes bytes or its bound in messages, at most wait (<= 0: not at all),
// and gives up when stop or closed is closed. Only one goroutine puts.
func (q *inQueue) put(b []byte, maxBytes int, wait time.Duration, stop, closed <-chan struct{}) putResult {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		q.mu.Lock()
		r := q.fits(len(b), maxBytes)
		if r == putQueued {
			q.push(b)
			q.wantRoom = false
			if q.rdy != nil {
				select {
				case q.rdy <- struct{}{}:
				default:
				}
			}
			q.mu.Unlock()
			return putQueued
		}
		if wait <= 0 {
			q.wantRoom = false
			q.mu.Unlock()
			return r
		}
		if q.room == nil {
			q.room = make(chan struct{}, 1)
		}
		q.wantRoom = true
		room := q.room
		q.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
		}
		select {
		case <-room: // look again
		case <-timer.C:
			wait = 0 // one last look, then give up
		case <-stop:
			q.stopWaiting()
			return putStopped
		case <-closed:
			q.stopWaiting()
			return putStopped
		}
	}
}

func (q *inQueue) stopWaiting() {
	q.mu.Lock()
	q.wantRoom = false
	q.mu.Unlock()
}

// push appends b to the ring, growing it; q.mu is held and there is room.
func (q *inQueue) push(b []byte) {
	if q.n == int32(len(q.buf)) {
		nb := make([][]byte, min(max(2*len(q.buf), 4), int(q.max)))
		k := copy(nb, q.buf[q.head:])
		copy(nb[k:], q.buf[:q.head])
		q.buf, q.head = nb, 0
	}
	i := q.head + q.n
	if i >= int32(len(q.buf)) {
		i -= int32(len(q.buf))
	}
	q.buf[i] = b
	q.n++
	q.bytes += len(b)
}

// take removes and returns the next message (ok). When none is queued,
// eof reports that none will be (END_STREAM). One goroutine takes at a
// time.
func (q *inQueue) take() (b []byte, ok, eof bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n > 0 {
		b = q.buf[q.head]
		q.buf[q.head] = nil
		q.head++
		if q.head == int32(len(q.buf)) {
			q.head = 0
		}
		q.n--
		q.bytes -= len(b)
		if q.wantRoom {
			select {
			case q.room <- struct{}{}:
			default:
			}
		}
		return b, true, false
	}
	return nil, false, q.closed
}

// ready returns a channel that receives when a message is put or the queue
// closes, at once if either happened already (since the last take, or
// before: a wake-up may find nothing new, so callers take again).
func (q *inQueue) ready() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.rdy == nil {
		q.rdy = make(chan struct{}, 1)
	}
	if q.n > 0 || q.closed {
		select {
		case q.rdy <- struct{}{}:
		default:
		}
	}
	return q.rdy
}

// close marks the end of the messages (END_STREAM): take returns eof once
// the queued ones are taken. Called by the putter.
func (q *inQueue) close() {
	q.mu.Lock()
	q.closed = true
	if q.rdy != nil {
		select {
		case q.rdy <- struct{}{}:
		default:
		}
	}
	q.mu.Unlock()
}

// overflowMsg says why a call whose inbound queue overflowed ended.
func overflowMsg(who string, limit int, unit string, wait time.Duration) string {
	msg := "the call's inbound queue overflowed (" + strconv.Itoa(limit) + " " + unit + " queued"
	if wait > 0 {
		msg += ", no room after " + wait.String()
	}
	return msg + "): " + who + " reads too slowly"
}
