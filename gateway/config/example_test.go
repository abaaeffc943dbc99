package config_test

import (
	"context"
	"fmt"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/builtin"
	"github.com/mcpbridge/mcpbridge/gateway/config"
)

func ExampleCompile() {
	reg := builtin.NewRegistry()
	cfg, err := config.Parse("gateway.yaml", []byte(`
upstreams:
  user-service:
    endpoints: ["127.0.0.1:50051"]
routes:
  - id: user-service-route
    uri: lb://user-service
    predicates:
      - Path=/user.v1.UserService/**
`), config.WithRegistry(reg))
	if err != nil {
		fmt.Println(err)
		return
	}
	table, err := config.Compile(cfg, reg, func(upstream string) gateway.Handler {
		return gateway.HandlerFunc(func(*gateway.Request, gateway.Stream) error { return nil })
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, _ := table.Lookup(context.Background(), &gateway.Request{Protocol: "mcp", Method: "POST", Path: "/user.v1.UserService/GetUser"})
	fmt.Println(r.ID, "→", r.Upstream)
	// Output: user-service-route → user-service
}

func ExampleParse_errors() {
	_, err := config.Parse("gateway.yaml", []byte(`
upstreams:
  user-service:
    endpoints: ["127.0.0.1:50051"]
    balancer: fastest
routes:
  - id: r
    uri: lb://user-servise
    predicates:
      - Hedaer=x-canary, true
`), config.WithRegistry(builtin.NewRegistry()))
	fmt.Println(err)
	// Output:
	// gateway.yaml:5:15: upstreams.user-service.balancer: unknown balancer "fastest" (known: round_robin, weighted_round_robin, least_request, random)
	// gateway.yaml:8:10: routes[0].uri: unknown upstream "user-servise" (known: user-service)
	// gateway.yaml:10:9: routes[0].predicates[0]: unknown predicate "Hedaer" (known: Dst, Header, Method, Path, Weight)
}
