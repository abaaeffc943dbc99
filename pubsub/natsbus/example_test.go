package natsbus_test

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/mcpbridge/mcpbridge/pubsub"
	"github.com/mcpbridge/mcpbridge/pubsub/natsbus"
)

func ExampleNew() {
	// An embedded NATS server stands in for the cluster a deployment dials.
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	go srv.Start()
	defer srv.WaitForShutdown()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		fmt.Println("server not ready")
		return
	}

	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close() // the caller owns the connection

	bus, err := natsbus.New(nc, natsbus.WithSubjectPrefix("mcp"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bus.Close()

	ctx := context.Background()
	sub, err := bus.Subscribe(ctx, "orders/#", pubsub.WithQueue("billing"))
	if err != nil {
		fmt.Println(err)
		return
	}
	bus.Publish(ctx, &pubsub.Message{Topic: "orders/eu/created", Payload: []byte("#1")})
	m := <-sub.C()
	fmt.Printf("%s %s (subject %s)\n", m.Topic, m.Payload, natsbus.SubjectForTopic(m.Topic))
	// Output: orders/eu/created #1 (subject orders.eu.created)
}
