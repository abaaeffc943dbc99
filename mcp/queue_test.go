package mcp

import (
	"strconv"
	"testing"
	"time"
)

// The inbound queue's ring keeps the order of the messages while it grows
// from its inline storage to the bound, also when its head has wrapped.
func TestInQueueOrderAcrossGrowth(t *testing.T) {
	var q inQueue
	q.init(8)
	never := make(chan struct{})
	next, want := 0, 0
	put := func(k int) {
		t.Helper()
		for range k {
			if r := q.put([]byte(strconv.Itoa(next)), 1<<20, 0, never, never); r != putQueued {
				t.Fatalf("put %d = %v", next, r)
			}
			next++
		}
	}
	take := func(k int) {
		t.Helper()
		for range k {
			b, ok, eof := q.take()
			if !ok || eof || string(b) != strconv.Itoa(want) {
				t.Fatalf("take = %q, %v, %v; want %d", b, ok, eof, want)
			}
			want++
		}
	}
	put(2)
	take(1)
	put(1) // wraps in the inline ring
	put(3) // grows from a wrapped ring
	take(2)
	put(5) // 8 queued: the bound
	if r := q.put([]byte("x"), 1<<20, 0, never, never); r != putFullMessages {
		t.Fatalf("put beyond the bound = %v, want putFullMessages", r)
	}
	take(8)
	if _, ok, eof := q.take(); ok || eof {
		t.Fatalf("empty queue: ok %v, eof %v", ok, eof)
	}
	put(1)
	q.close()
	take(1)
	if _, ok, eof := q.take(); ok || !eof {
		t.Fatalf("after close: ok %v, eof %v; want eof", ok, eof)
	}
	if q.bytes != 0 {
		t.Fatalf("%d bytes counted in an empty queue", q.bytes)
	}
}

// The byte bound: a message that does not fit waits or fails, except in an
// empty queue, which takes a message of any size.
func TestInQueueBytes(t *testing.T) {
	var q inQueue
	q.init(100)
	never := make(chan struct{})
	if r := q.put(make([]byte, 50), 10, 0, never, never); r != putQueued {
		t.Fatalf("large message into an empty queue = %v", r)
	}
	if r := q.put(make([]byte, 1), 10, 0, never, never); r != putFullBytes {
		t.Fatalf("put over the byte bound = %v, want putFullBytes", r)
	}
	if r := q.put(make([]byte, 1), 10, 20*time.Millisecond, never, never); r != putFullBytes {
		t.Fatalf("put over the byte bound after a wait = %v, want putFullBytes", r)
	}
	q.take()
	if r := q.put(make([]byte, 6), 10, 0, never, never); r != putQueued {
		t.Fatalf("put = %v", r)
	}
	if r := q.put(make([]byte, 4), 10, 0, never, never); r != putQueued {
		t.Fatalf("put up to the bound = %v", r)
	}
	if r := q.put(make([]byte, 1), 10, 0, never, never); r != putFullBytes {
		t.Fatalf("put past the bound = %v, want putFullBytes", r)
	}
}

// A full queue's put waits for the consumer: it queues once a message is
// taken, gives up after its wait, and stops when the call ends.
func TestInQueueWait(t *testing.T) {
	never := make(chan struct{})
	for _, bytes := range []bool{false, true} {
		name := "messages"
		full, maxBytes := putFullMessages, 1<<20
		if bytes {
			name, full, maxBytes = "bytes", putFullBytes, 1
		}
		t.Run(name, func(t *testing.T) {
			var q inQueue
			q.init(1)
			q.put([]byte("a"), maxBytes, 0, never, never)

			done := make(chan putResult, 1)
			go func() { done <- q.put([]byte("b"), maxBytes, 10*time.Second, never, never) }()
			time.Sleep(20 * time.Millisecond)
			select {
			case r := <-done:
				t.Fatalf("put into a full queue returned %v without waiting", r)
			default:
			}
			if b, ok, _ := q.take(); !ok || string(b) != "a" {
				t.Fatalf("take = %q, %v", b, ok)
			}
			if r := <-done; r != putQueued {
				t.Fatalf("put after room = %v, want putQueued", r)
			}

			start := time.Now()
			if r := q.put([]byte("c"), maxBytes, 30*time.Millisecond, never, never); r != full {
				t.Fatalf("put with no room = %v, want %v", r, full)
			}
			if d := time.Since(start); d < 30*time.Millisecond {
				t.Fatalf("put gave up after %v, before its wait", d)
			}

			stop := make(chan struct{})
			go func() { done <- q.put([]byte("d"), maxBytes, 10*time.Second, stop, never) }()
			time.Sleep(10 * time.Millisecond)
			close(stop)
			if r := <-done; r != putStopped {
				t.Fatalf("put when the call ended = %v, want putStopped", r)
			}
			if b, ok, _ := q.take(); !ok || string(b) != "b" {
				t.Fatalf("take = %q, %v", b, ok)
			}
			if _, ok, _ := q.take(); ok {
				t.Fatal("a dropped message was queued")
			}
		})
	}
}

// ready wakes a waiting consumer for a message and for the end of the
// messages, and is ready at once when either came before it was asked for.
func TestInQueueReady(t *testing.T) {
	var q inQueue
	q.init(4)
	never := make(chan struct{})
	wait := func(what string) {
		t.Helper()
		select {
		case <-q.ready():
		case <-time.After(10 * time.Second):
			t.Fatal("no wake-up for " + what)
		}
	}
	go q.put([]byte("m"), 1<<20, 0, never, never)
	wait("a message")
	if b, ok, _ := q.take(); !ok || string(b) != "m" {
		t.Fatalf("take = %q, %v", b, ok)
	}
	select { // a stale wake-up is allowed; drain it
	case <-q.ready():
	default:
	}
	q.put([]byte("n"), 1<<20, 0, never, never)
	wait("a message put before the wait")
	q.take()
	select {
	case <-q.ready():
	default:
	}
	go q.close()
	wait("the close")
	if _, ok, eof := q.take(); ok || !eof {
		t.Fatalf("after close: ok %v, eof %v", ok, eof)
	}
	wait("a close before the wait")
}
