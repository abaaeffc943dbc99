package gateway_test

import (
	"context"
	"fmt"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/filter"
	"github.com/mcpbridge/mcpbridge/gateway/predicate"
	"google.golang.org/grpc/status"
)

// A table with one route, served through a Router, then replaced.
func ExampleRouter() {
	path, _ := predicate.NewPath("/tenant/*/user.v1.UserService/*")
	strip, _ := filter.StripPrefix(2)
	users := gateway.HandlerFunc(func(req *gateway.Request, s gateway.Stream) error {
		fmt.Println("users got", req.Path)
		return nil
	})
	table, err := gateway.NewTable([]gateway.Route{{
		ID:         "users",
		Upstream:   "users",
		Predicates: []gateway.Predicate{path},
		Filters:    []gateway.Middleware{strip},
		Handler:    users,
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	router := gateway.NewRouter(table)

	req := &gateway.Request{Protocol: gateway.ProtocolGRPC, Method: "POST", Path: "/tenant/acme/user.v1.UserService/GetUser"}
	_ = router.Serve(req, newStream(context.Background()))

	empty, _ := gateway.NewTable(nil)
	router.Swap(empty)
	err = router.Serve(req, newStream(context.Background()))
	fmt.Println(status.Code(err))
	// Output:
	// users got /user.v1.UserService/GetUser
	// Unimplemented
}
