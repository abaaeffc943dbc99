package pubsub_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mcpbridge/mcpbridge/pubsub"
)

// benchFanout publishes b.N messages to fanout subscribers, each read by its
// own goroutine. The publisher stays at most window messages ahead of the
// slowest reader, less than a queue, so nothing is dropped and ns/op is the
// cost of a publish including its deliveries.
func benchFanout(b *testing.B, bus pubsub.Bus, fanout int) {
	const window = pubsub.DefaultQueueSize / 2
	received := make([]atomic.Uint64, fanout)
	var wg sync.WaitGroup
	for i := range fanout {
		s := mustSubscribe(b, bus, "bench/+/created")
		wg.Go(func() {
			for range s.C() {
				received[i].Add(1)
			}
		})
	}
	m := &pubsub.Message{Topic: "bench/eu/created", Payload: make([]byte, 128)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		if err := bus.Publish(ctx, m); err != nil {
			b.Fatal(err)
		}
		if i%64 == 0 {
			waitBehind(received, uint64(i), window)
		}
	}
	waitBehind(received, uint64(b.N), 0)
	b.StopTimer()
	st := bus.Stats()
	bus.Close()
	wg.Wait()
	if st.Dropped != 0 || st.Delivered != uint64(b.N*fanout) {
		b.Fatalf("Stats = %+v, want %d delivered and none dropped", st, b.N*fanout)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*fanout), "ns/delivery")
}

// waitBehind yields until every counter is within window of sent.
func waitBehind(received []atomic.Uint64, sent, window uint64) {
	for i := range received {
		for received[i].Load()+window < sent {
			runtime.Gosched()
		}
	}
}

func BenchmarkPublish1to1(b *testing.B)  { benchFanout(b, pubsub.NewLocal(), 1) }
func BenchmarkPublish1to10(b *testing.B) { benchFanout(b, pubsub.NewLocal(), 10) }

// BenchmarkPublishNoSubscribers is the fixed cost of a publish: validation,
// matching, counters.
func BenchmarkPublishNoSubscribers(b *testing.B) {
	bus := pubsub.NewLocal()
	defer bus.Close()
	mustSubscribe(b, bus, "other/#")
	m := &pubsub.Message{Topic: "bench/eu/created"}
	b.ReportAllocs()
	for b.Loop() {
		if err := bus.Publish(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishParallel publishes from every P to one subscriber each
// P's messages are dropped for (a stalled reader), the contention case.
func BenchmarkPublishParallel(b *testing.B) {
	bus := pubsub.NewLocal()
	defer bus.Close()
	mustSubscribe(b, bus, "bench/#", pubsub.WithQueueSize(1))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		m := &pubsub.Message{Topic: "bench/eu/created"}
		for pb.Next() {
			if err := bus.Publish(ctx, m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
