package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway/metrics"
	"github.com/mcpbridge/mcpbridge/pubsub"
	"google.golang.org/grpc/codes"
)

func TestMetrics(t *testing.T) {
	m := metrics.New(func() []metrics.Endpoint {
		return []metrics.Endpoint{{Upstream: "u", Addr: "10.0.0.1:1", Healthy: true, InFlight: 2, Calls: 7, Failures: 1}}
	}, metrics.Bus(func() pubsub.Stats { return pubsub.Stats{Published: 3, Delivered: 6, Dropped: 1, Subscriptions: 2} }))
	for range 3 {
		m.Observe("mcp", "r1", codes.OK, 2*time.Millisecond)
	}
	m.Observe("grpc", "", codes.Unimplemented, time.Millisecond)
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(w.Body)
	body := string(b)
	for _, want := range []string{
		`mcpbridge_calls_total{code="OK",front="mcp",route="r1"} 3`,
		`mcpbridge_calls_total{code="Unimplemented",front="grpc",route="unrouted"} 1`,
		`mcpbridge_call_duration_seconds_bucket{front="mcp",route="r1",le="0.0025"} 3`,
		`mcpbridge_call_duration_seconds_bucket{front="mcp",route="r1",le="0.001"} 0`,
		`mcpbridge_upstream_endpoint_healthy{endpoint="10.0.0.1:1",upstream="u"} 1`,
		`mcpbridge_upstream_endpoint_in_flight{endpoint="10.0.0.1:1",upstream="u"} 2`,
		`mcpbridge_upstream_endpoint_calls_total{endpoint="10.0.0.1:1",upstream="u"} 7`,
		`mcpbridge_upstream_endpoint_failures_total{endpoint="10.0.0.1:1",upstream="u"} 1`,
		`mcpbridge_pubsub_published_total 3`,
		`mcpbridge_pubsub_delivered_total 6`,
		`mcpbridge_pubsub_dropped_total 1`,
		`mcpbridge_pubsub_subscriptions 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
