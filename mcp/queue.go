package mcp

import (
	"strconv"
	"sync/atomic"
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
type inQueue struct {
	ch       chan []byte   // the messages; its capacity bounds their number
	room     chan struct{} // cap 1: the consumer freed bytes while wantRoom
	bytes    atomic.Int64  // bytes queued
	wantRoom atomic.Bool   // the reader waits for bytes to be taken
}

func newInQueue(messages int) inQueue {
	return inQueue{ch: make(chan []byte, messages), room: make(chan struct{}, 1)}
}

// putResult is what put did with a message.
type putResult uint8

const (
	putQueued       putResult = iota
	putStopped                // the call or connection ended while put waited: dropped
	putFullMessages           // still full after the wait: the call must end
	putFullBytes
)

// put queues b, which the queue then owns. It waits while the queue holds
// maxBytes bytes or its capacity in messages, at most wait (0: not at all),
// and gives up when stop or closed is closed. Only one goroutine puts.
func (q *inQueue) put(b []byte, maxBytes int, wait time.Duration, stop, closed <-chan struct{}) putResult {
	n := int64(len(b))
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		cur := q.bytes.Load()
		if cur == 0 || cur+n <= int64(maxBytes) {
			break // only put adds: the room cannot shrink behind our back
		}
		if wait <= 0 {
			return putFullBytes
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		}
		q.wantRoom.Store(true)
		// take stores bytes before it reads wantRoom, we store wantRoom
		// before reading bytes: one of us sees the other.
		if cur := q.bytes.Load(); cur == 0 || cur+n <= int64(maxBytes) {
			q.wantRoom.Store(false)
			break
		}
		select {
		case <-q.room:
		case <-timer.C:
			q.wantRoom.Store(false)
			return putFullBytes
		case <-stop:
			q.wantRoom.Store(false)
			return putStopped
		case <-closed:
			q.wantRoom.Store(false)
			return putStopped
		}
		q.wantRoom.Store(false)
	}
	q.bytes.Add(n)
	select {
	case q.ch <- b:
		return putQueued
	default:
	}
	if wait <= 0 {
		q.bytes.Add(-n)
		return putFullMessages
	}
	if timer == nil {
		timer = time.NewTimer(wait)
	}
	select {
	case q.ch <- b:
		return putQueued
	case <-timer.C:
		q.bytes.Add(-n)
		return putFullMessages
	case <-stop:
	case <-closed:
	}
	q.bytes.Add(-n)
	return putStopped
}

// took accounts for a message the consumer took from ch.
func (q *inQueue) took(b []byte) {
	q.bytes.Add(-int64(len(b)))
	if q.wantRoom.Load() {
		select {
		case q.room <- struct{}{}:
		default:
		}
	}
}

// overflowMsg says why a call whose inbound queue overflowed ended.
func overflowMsg(who string, limit int, unit string, wait time.Duration) string {
	msg := "the call's inbound queue overflowed (" + strconv.Itoa(limit) + " " + unit + " queued"
	if wait > 0 {
		msg += ", no room after " + wait.String()
	}
	return msg + "): " + who + " reads too slowly"
}
