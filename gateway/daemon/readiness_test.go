package daemon_test

import (
	"net"
	"testing"
)

// TestReadiness: by default the gateway is ready only when every upstream
// has a healthy endpoint; with server.readiness: listening, once its
// listeners are up.
func TestReadiness(t *testing.T) {
	// An address nothing listens on: the upstream never gets healthy.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	upstreams := `
upstreams:
  gone:
    endpoints: ["` + dead + `"]
    health_check: {interval: 50ms, timeout: 20ms, unhealthy_threshold: 1}
routes:
  - id: all
    uri: lb://gone
`
	t.Run("upstreams", func(t *testing.T) {
		g := startDaemon(t, upstreams)
		waitFor(t, "not ready", func() bool { ok, _ := g.d.Ready(); return !ok })
		if _, reason := g.d.Ready(); reason != "upstream gone: no healthy endpoint" {
			t.Errorf("reason = %q", reason)
		}
	})
	t.Run("listening", func(t *testing.T) {
		g := startDaemon(t, "server: {readiness: listening}\n"+upstreams)
		waitFor(t, "the endpoint unhealthy", func() bool { return !g.endpointHealthy("gone", dead) })
		if ok, reason := g.d.Ready(); !ok {
			t.Errorf("Ready = false (%s), want true with readiness: listening", reason)
		}
	})
}
