package natsbus_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/mcpbridge/mcpbridge/pubsub"
)

// Side by side, in one process and on one embedded server: the same fan-out
// through natsbus and through raw nats.go. The publisher is one connection
// ("node" a) and the subscribers share another (node b). The publisher stays
// at most window messages ahead of the slowest subscriber, so nothing is
// dropped, and ns/op is the cost per published message with its deliveries.
// Divide a natsbus result by the raw one of the same fan-out for the ratio.

const window = pubsub.DefaultQueueSize / 2

var payload = make([]byte, 128)

func BenchmarkNATSBusPublish1to1(b *testing.B)  { benchNATSBus(b, 1) }
func BenchmarkNATSBusPublish1to10(b *testing.B) { benchNATSBus(b, 10) }
func BenchmarkRawNATSPublish1to1(b *testing.B)  { benchRawNATS(b, 1) }
func BenchmarkRawNATSPublish1to10(b *testing.B) { benchRawNATS(b, 10) }

func benchNATSBus(b *testing.B, fanout int) {
	srv := runServer(b)
	pub, sub := newNode(b, srv), newNode(b, srv)
	received := make([]atomic.Uint64, fanout)
	var wg sync.WaitGroup
	for i := range fanout {
		s := sub.subscribe(b, "bench/+/created")
		wg.Go(func() {
			for range s.C() {
				received[i].Add(1)
			}
		})
	}
	m := &pubsub.Message{Topic: "bench/eu/created", Payload: payload}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		if err := pub.bus.Publish(ctx, m); err != nil {
			b.Fatal(err)
		}
		if i%64 == 0 {
			waitBehind(b, pub.nc, received, uint64(i), window)
		}
	}
	waitBehind(b, pub.nc, received, uint64(b.N), 0)
	b.StopTimer()
	st := sub.bus.Stats()
	sub.bus.Close()
	wg.Wait()
	if st.Dropped != 0 || st.Delivered != uint64(b.N*fanout) {
		b.Fatalf("Stats = %+v, want %d delivered, none dropped", st, b.N*fanout)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*fanout), "ns/delivery")
}

func benchRawNATS(b *testing.B, fanout int) {
	srv := runServer(b)
	pub, sub := connect(b, srv), connect(b, srv)
	received := make([]atomic.Uint64, fanout)
	for i := range fanout {
		if _, err := sub.Subscribe("bench.*.created", func(*nats.Msg) { received[i].Add(1) }); err != nil {
			b.Fatal(err)
		}
	}
	if err := sub.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		if err := pub.Publish("bench.eu.created", payload); err != nil {
			b.Fatal(err)
		}
		if i%64 == 0 {
			waitBehind(b, pub, received, uint64(i), window)
		}
	}
	waitBehind(b, pub, received, uint64(b.N), 0)
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*fanout), "ns/delivery")
}

// waitBehind yields until every counter is within window of sent, flushing
// the publisher first so that what it buffered is on its way.
func waitBehind(b *testing.B, pub *nats.Conn, received []atomic.Uint64, sent, window uint64) {
	flushed := false
	for i := range received {
		for received[i].Load()+window < sent {
			if !flushed {
				if err := pub.Flush(); err != nil {
					b.Fatal(err)
				}
				flushed = true
			}
			runtime.Gosched()
		}
	}
}
