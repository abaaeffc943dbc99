package config_test

import (
	"slices"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway/config"
)

func TestStaticChanges(t *testing.T) {
	old := config.Default()
	new := config.Default()
	if got := config.StaticChanges(old, new); len(got) != 0 {
		t.Fatalf("StaticChanges(same) = %v", got)
	}
	new.Server.ShutdownGrace = config.Duration(time.Second)
	new.Server.Limits.MaxConnections = 1
	new.Listeners.MCP = &config.Listener{Addr: "127.0.0.1:7171"}
	new.Listeners.HTTP = &config.Listener{Addr: "127.0.0.1:8080"}
	new.Listeners.Admin = nil
	new.Upstreams = append(new.Upstreams, config.Upstream{Name: "dynamic"})
	want := []string{
		"server.shutdown_grace",
		"server.limits.max_connections",
		"listeners.mcp.addr",
		"listeners.http",
		"listeners.admin",
	}
	if got := config.StaticChanges(old, new); !slices.Equal(got, want) {
		t.Fatalf("StaticChanges() = %v, want %v", got, want)
	}
}
