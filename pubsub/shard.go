package pubsub

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Publishers on many cores must not contend. A single sync.RWMutex makes
// every RLock and RUnlock write one shared cache line, and shared counters do
// the same; with a few cores publishing, that line's ping-pong costs more
// than the whole match. So the bus's read lock and its counters are split
// into shards, one cache line each: a publisher read-locks and counts on one
// shard only (the one recorded in the matchSet it got from its P's sync.Pool
// cache, so each P tends to keep its own), while a writer (Subscribe,
// Unsubscribe, Close: rare next to publishes) locks every shard in index
// order.

const maxShards = 64

type shard struct {
	mu        sync.RWMutex
	published atomic.Uint64
	delivered atomic.Uint64
	dropped   atomic.Uint64
	_         [128 - 24 - 24]byte // pad to two cache lines (adjacent-line prefetch)
}

type shards struct {
	list []shard
	next atomic.Uint32 // hands out shard indexes to new matchSets
}

func newShards() shards {
	n := 1
	for n < runtime.GOMAXPROCS(0) && n < maxShards {
		n *= 2
	}
	return shards{list: make([]shard, n)}
}

// pick returns a shard index for a new matchSet.
func (s *shards) pick() int {
	return int(s.next.Add(1)-1) & (len(s.list) - 1)
}

// lock write-locks every shard.
func (s *shards) lock() {
	for i := range s.list {
		s.list[i].mu.Lock()
	}
}

// unlock undoes lock.
func (s *shards) unlock() {
	for i := range s.list {
		s.list[i].mu.Unlock()
	}
}

// sums returns the counters summed over the shards.
func (s *shards) sums() (published, delivered, dropped uint64) {
	for i := range s.list {
		published += s.list[i].published.Load()
		delivered += s.list[i].delivered.Load()
		dropped += s.list[i].dropped.Load()
	}
	return published, delivered, dropped
}
