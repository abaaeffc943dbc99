// Package inbox is the bounded per-subscription queue shared by the pubsub
// bus implementations: a buffered channel that publishers fill without ever
// blocking, a drop counter, and a one-shot end with a reason.
//
// Every method is safe for concurrent use. Offer never blocks: it either
// queues the value, reports that the queue is full, or reports that the inbox
// has ended. End closes the channel returned by C (values already queued stay
// readable) and the channel returned by Done; only the first End counts.
package inbox

import (
	"sync"
	"sync/atomic"
)

// Result is what Offer did with a value.
type Result uint8

const (
	// Queued: the value is in the queue.
	Queued Result = iota
	// Full: the queue was full; the value was not queued and nothing was
	// counted. The caller applies its slow-consumer policy.
	Full
	// Ended: the inbox has ended; the value was not queued.
	Ended
)

// Inbox is a bounded, non-blocking queue of T with an end reason.
type Inbox[T any] struct {
	ch   chan T
	done chan struct{}

	// mu orders Offer's send against End's close: a send on a closed
	// channel would panic. It is held only for a non-blocking send.
	mu    sync.Mutex
	ended bool
	err   error // set once, under mu, before done is closed

	dropped atomic.Uint64
}

// New returns an inbox that queues at most size values (size ≥ 1).
func New[T any](size int) *Inbox[T] {
	return &Inbox[T]{ch: make(chan T, size), done: make(chan struct{})}
}

// C returns the receive side of the queue. It is closed after End, once the
// values queued before End have been received.
func (in *Inbox[T]) C() <-chan T { return in.ch }

// Done returns a channel closed by End.
func (in *Inbox[T]) Done() <-chan struct{} { return in.done }

// Err returns nil until End, then the reason given to the first End.
func (in *Inbox[T]) Err() error {
	select {
	case <-in.done:
	default:
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.err
}

// Offer queues v if there is room. It never blocks.
func (in *Inbox[T]) Offer(v T) Result {
	in.mu.Lock()
	if in.ended {
		in.mu.Unlock()
		return Ended
	}
	select {
	case in.ch <- v:
		in.mu.Unlock()
		return Queued
	default:
		in.mu.Unlock()
		return Full
	}
}

// Drop counts n values that were not queued.
func (in *Inbox[T]) Drop(n uint64) { in.dropped.Add(n) }

// Dropped returns the number of values counted by Drop.
func (in *Inbox[T]) Dropped() uint64 { return in.dropped.Load() }

// End ends the inbox with err (which should not be nil) and reports whether
// this call was the one that ended it.
func (in *Inbox[T]) End(err error) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.ended {
		return false
	}
	in.ended = true
	in.err = err
	close(in.ch)
	close(in.done)
	return true
}

// Ended reports whether End has been called.
func (in *Inbox[T]) Ended() bool {
	select {
	case <-in.done:
		return true
	default:
		return false
	}
}
