package pubsub_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/mcpbridge/mcpbridge/pubsub"
)

func Example() {
	ctx := context.Background()
	bus := pubsub.NewLocal()
	defer bus.Close()

	sub, err := bus.Subscribe(ctx, "orders/+/created")
	if err != nil {
		fmt.Println(err)
		return
	}
	bus.Publish(ctx, &pubsub.Message{Topic: "orders/eu/created", Payload: []byte("#1")})
	bus.Publish(ctx, &pubsub.Message{Topic: "orders/eu/paid", Payload: []byte("#1")})
	bus.Publish(ctx, &pubsub.Message{Topic: "orders/us/created", Payload: []byte("#2")})
	sub.Unsubscribe()

	for m := range sub.C() { // the messages queued before Unsubscribe, then the end
		fmt.Printf("%s %s\n", m.Topic, m.Payload)
	}
	fmt.Println(errors.Is(sub.Err(), pubsub.ErrUnsubscribed))
	// Output:
	// orders/eu/created #1
	// orders/us/created #2
	// true
}

func ExampleValidateFilter() {
	fmt.Println(pubsub.ValidateFilter("orders/#/eu"))
	fmt.Println(pubsub.ValidateFilter("orders/eu+/x"))
	fmt.Println(pubsub.ValidateFilter("orders/+/x"))
	// Output:
	// pubsub: invalid topic filter "orders/#/eu": '#' at level 2 is not the last level; '#' may only end a filter
	// pubsub: invalid topic filter "orders/eu+/x": level 2 "eu+" mixes wildcard '+' with other characters; a wildcard must be a whole level
	// <nil>
}

func ExampleMatch() {
	fmt.Println(pubsub.Match("a/#", "a"))
	fmt.Println(pubsub.Match("a/+", "a/"))
	fmt.Println(pubsub.Match("#", "$SYS/uptime"))
	fmt.Println(pubsub.Match("$SYS/#", "$SYS/uptime"))
	// Output:
	// true
	// true
	// false
	// true
}
