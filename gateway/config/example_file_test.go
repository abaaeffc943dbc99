package config_test

import (
	"context"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/builtin"
	"github.com/mcpbridge/mcpbridge/gateway/config"
)

// TestExampleFile: the example configuration in the repository is valid and
// compiles, and routes the way its comments say.
func TestExampleFile(t *testing.T) {
	reg := builtin.NewRegistry()
	cfg, err := config.Load("../../examples/config/gateway.yaml", config.WithRegistry(reg))
	if err != nil {
		t.Fatalf("Load() errors:\n%v", err)
	}
	table, err := config.Compile(cfg, reg, stubHandlers)
	if err != nil {
		t.Fatalf("Compile() errors:\n%v", err)
	}
	tests := []struct {
		name string
		req  *gateway.Request
		want string // route id
	}{
		{"pinned canary", &gateway.Request{Protocol: "grpc", Method: "POST", Path: "/user.v1.UserService/GetUser", Header: map[string][]string{"x-canary": {"true"}}}, "users-canary-pinned"},
		{"tenant prefix", &gateway.Request{Protocol: "grpc", Method: "POST", Path: "/acme/user.v1.UserService/GetUser"}, "users-tenant-prefix"},
		{"device", &gateway.Request{Protocol: "mcp", Method: "POST", Path: "/device.v1.Device/Read", DstAddr: 0x0201}, "devices"},
		{"http", &gateway.Request{Protocol: "http", Method: "GET", Path: "/api/v1/users/1"}, "users-http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := table.Lookup(context.Background(), tt.req)
			if err != nil || r.ID != tt.want {
				t.Fatalf("Lookup() = %v, %v; want %s", r, err, tt.want)
			}
		})
	}
}
