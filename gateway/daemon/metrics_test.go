package daemon_test

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"github.com/mcpbridge/mcpbridge/mcp"
	pubsubv1 "github.com/mcpbridge/mcpbridge/proto/pubsub/v1"
	"google.golang.org/grpc/metadata"
)

// TestMetrics: /metrics on the admin listener counts every call by front
// door, route and code: MCP calls forwarded asynchronously and as streams,
// gRPC calls, HTTP calls, calls no route matched, and the gateway's own
// services; and shows the endpoints.
func TestMetrics(t *testing.T) {
	gb := startBackend(t, "grpc", "g1")
	mb := startBackend(t, "mcp", "m1")
	cfg := parseConfig(t, `
listeners:
  mcp: 127.0.0.1:0
  grpc: 127.0.0.1:0
  http: 127.0.0.1:0
  admin: 127.0.0.1:0
`+shapesConfig(gb, mb)[1:])
	d := startConfig(t, cfg)
	g := &gw{t: t, d: d}
	ctx := guardCtx(t)
	mcpc := g.client("mcp")
	grpcc := g.client("grpc")
	toMCP := metadata.AppendToOutgoingContext(ctx, "x-upstream", "mcp")

	for range 3 {
		if _, _, err := getUser(toMCP, mcpc, "1"); err != nil { // async
			t.Fatal(err)
		}
	}
	st, err := mcpc.ImportUsers(toMCP) // streamed
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := getUser(ctx, grpcc, "1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := getUser(ctx, grpcc, "404"); err == nil {
		t.Fatal("GetUser(404) succeeded")
	}
	if _, err := pubsubv1.NewPubSubClient(g.grpcConn()).Publish(ctx, &pubsubv1.PublishRequest{Topic: "a/b", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.mcpConn().InvokeRaw(ctx, mcp.RawRequest{Path: "/no.Such/Method"}, []byte{}); err == nil {
		t.Fatal("a call to no route succeeded")
	}
	if code, body := httpGet(t, "http://"+d.Addr("http").String()+"/user.v1.UserService/GetUser"); code == 0 {
		t.Fatalf("HTTP: %d %s", code, body)
	}

	_, body := g.adminGet("/metrics")
	count := func(front, route, code string) int {
		re := regexp.MustCompile(fmt.Sprintf(`(?m)^mcpbridge_calls_total\{code="%s",front="%s",route="%s"\} (\d+)`, code, front, route))
		m := re.FindSubmatch(body)
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	for _, c := range []struct {
		front, route, code string
		min                int
	}{
		{"mcp", "to-mcp", "OK", 4},
		{"mcp", "unrouted", "Unimplemented", 1},
		{"grpc", "to-grpc", "OK", 1},
		{"grpc", "to-grpc", "NotFound", 1},
		{"grpc", "gateway", "OK", 1},
	} {
		if n := count(c.front, c.route, c.code); n < c.min {
			t.Errorf("mcpbridge_calls_total{front=%q,route=%q,code=%q} = %d, want at least %d", c.front, c.route, c.code, n, c.min)
		}
	}
	if !regexp.MustCompile(`(?m)^mcpbridge_calls_total\{code="[A-Za-z]+",front="http",route="to-grpc"\} [1-9]`).Match(body) {
		t.Errorf("no HTTP call counted:\n%s", grep(body, "mcpbridge_calls_total"))
	}
	for _, want := range []string{
		`mcpbridge_call_duration_seconds_count{front="mcp",route="to-mcp"}`,
		fmt.Sprintf(`mcpbridge_upstream_endpoint_healthy{endpoint=%q,upstream="users-mcp"} 1`, mb.addr),
		fmt.Sprintf(`mcpbridge_upstream_endpoint_calls_total{endpoint=%q,upstream="users-grpc"}`, gb.addr),
		`mcpbridge_mcp_dropped_notifies_total 0`,
		`mcpbridge_pubsub_published_total 1`,
		`mcpbridge_pubsub_subscriptions 0`,
		`go_goroutines`,
	} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).Match(body) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// grep returns the lines of b that contain s.
func grep(b []byte, s string) string {
	var out []byte
	for _, l := range regexp.MustCompile(`(?m)^.*`+regexp.QuoteMeta(s)+`.*$`).FindAll(b, -1) {
		out = append(append(out, l...), '\n')
	}
	return string(out)
}
