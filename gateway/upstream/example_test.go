package upstream_test

import (
	"fmt"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/config"
	"github.com/mcpbridge/mcpbridge/gateway/upstream"
)

// A Set holds the configured upstreams; route tables take their handlers
// from it, and a reload updates it in place.
func ExampleSet() {
	set := upstream.NewSet(upstream.WithObserver(func(e upstream.Event) {
		fmt.Println(e.Kind, e.Upstream, e.Endpoint) // or log it
	}))
	defer set.Close()

	cfgs := []config.Upstream{{
		Name:        "user-service",
		Protocol:    "grpc",
		Balancer:    "least_request",
		Endpoints:   []config.Endpoint{{Addr: "127.0.0.1:50051", Weight: 1}},
		HealthCheck: &config.HealthCheck{Interval: config.Duration(5 * time.Second), Timeout: config.Duration(time.Second), UnhealthyThreshold: 3, HealthyThreshold: 1},
		Passive:     config.Passive{ConsecutiveFailures: 5, EjectionTime: config.Duration(30 * time.Second)},
	}}
	if err := set.Update(cfgs); err != nil {
		fmt.Println(err)
		return
	}
	var h gateway.Handler = set.Handler("user-service") // what config.Compile's handlerFor returns
	_ = h
	ready, reason := set.Ready()
	_, _ = ready, reason
}
