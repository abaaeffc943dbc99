package mcp_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/mcp"
	"github.com/mcpbridge/mcpbridge/pubsub"
)

// BenchmarkPubSub publishes b.N messages from one connection to fanout
// subscribers, each on its own connection, through an mcp.Server serving
// the in-process bus. The publisher stays at most 512 messages ahead of the
// slowest subscriber (half the queues), so nothing is dropped; ns/op is per
// published message with all its deliveries. The side-by-side comparison
// with NATS is bench/pubsubvsnats (go test -bench . ./bench/pubsubvsnats).
func BenchmarkPubSub(b *testing.B) {
	for _, fanout := range []int{1, 10} {
		for _, size := range []int{16, 128} {
			b.Run(fmt.Sprintf("fanout=%d/payload=%d", fanout, size), func(b *testing.B) {
				benchPubSub(b, fanout, size)
			})
		}
	}
}

func benchPubSub(b *testing.B, fanout, size int) {
	const window = 512
	bus := pubsub.NewLocal()
	defer bus.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := mcp.NewServer(mcp.WithBus(bus))
	go srv.Serve(lis)
	defer srv.Close()
	ctx := context.Background()
	received := make([]atomic.Int64, fanout)
	progress := make(chan struct{}, 1) // a subscriber got 32 more messages
	var wg sync.WaitGroup
	var conns []*mcp.Conn
	defer func() {
		for _, c := range conns { // ends the subscriptions, then their readers
			c.Close()
		}
		wg.Wait()
	}()
	for i := range fanout {
		conn, err := mcp.Dial(ctx, lis.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, conn)
		sub, err := conn.Subscribe(ctx, "bench/+/created")
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			for range sub.C() {
				if received[i].Add(1)%32 == 0 {
					select {
					case progress <- struct{}{}:
					default:
					}
				}
			}
		})
	}
	pub, err := mcp.Dial(ctx, lis.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	conns = append(conns, pub)
	payload := make([]byte, size)
	// behind waits, without spinning on the cores the pipeline needs, until
	// every subscriber is within window of sent.
	behind := func(sent, window int64) {
		for i := range received {
			for received[i].Load()+window < sent {
				select {
				case <-progress:
				case <-time.After(time.Millisecond): // the last few messages
				}
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		if err := pub.Publish(ctx, "bench/eu/created", payload); err != nil {
			b.Fatal(err)
		}
		if i%32 == 0 {
			behind(int64(i), window)
		}
	}
	behind(int64(b.N), 0)
	b.StopTimer()
	if st := bus.Stats(); st.Dropped != 0 {
		b.Fatalf("%d dropped", st.Dropped)
	}
	b.ReportMetric(float64(b.N*fanout)/b.Elapsed().Seconds(), "delivered/s")
}
