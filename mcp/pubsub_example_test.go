package mcp_test

import (
	"context"
	"fmt"
	"net"

	"github.com/mcpbridge/mcpbridge/mcp"
	"github.com/mcpbridge/mcpbridge/pubsub"
)

// A server serves an in-process bus; a client subscribes with a wildcard
// filter and publishes.
func ExampleConn_Subscribe() {
	bus := pubsub.NewLocal()
	defer bus.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := mcp.NewServer(mcp.WithBus(bus))
	go srv.Serve(lis)
	defer srv.Close()

	ctx := context.Background()
	conn, err := mcp.Dial(ctx, lis.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	sub, err := conn.Subscribe(ctx, "orders/+/created")
	if err != nil {
		fmt.Println(err)
		return
	}
	// Confirmed: Publish returns once the server's bus has the message.
	if err := conn.Publish(ctx, "orders/eu/created", []byte("#1"), mcp.WithConfirm()); err != nil {
		fmt.Println(err)
		return
	}
	m := <-sub.C()
	fmt.Printf("%s %s\n", m.Topic, m.Payload)
	if err := sub.Unsubscribe(ctx); err != nil {
		fmt.Println(err)
	}
	_, open := <-sub.C()
	fmt.Println(open, sub.Err())
	// Output:
	// orders/eu/created #1
	// false pubsub: unsubscribed
}
