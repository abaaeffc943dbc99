package httpfront_test

// End-to-end tests of the HTTP/JSON front door and JSON transcoding: a real
// daemon on loopback in front of a real gRPC backend (the example
// UserService) that exposes server reflection, called with net/http.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/examples/userservice/users"
	"github.com/mcpbridge/mcpbridge/gateway/builtin"
	"github.com/mcpbridge/mcpbridge/gateway/config"
	"github.com/mcpbridge/mcpbridge/gateway/daemon"
	"github.com/mcpbridge/mcpbridge/gateway/descriptors"
	"github.com/mcpbridge/mcpbridge/gateway/upstream"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/descriptorpb"
)

const hangGuard = 15 * time.Second

// svc is the example UserService with a few test hooks in GetUser and
// ListUsers.
type svc struct{ *users.Service }

func (s svc) GetUser(ctx context.Context, req *userv1.UserRequest) (*userv1.UserResponse, error) {
	id := req.GetUserId()
	switch {
	case strings.HasPrefix(id, "code-"):
		n, _ := strconv.Atoi(strings.TrimPrefix(id, "code-"))
		return nil, status.Errorf(codes.Code(n), "asked for code %d", n)
	case id == "details":
		st, _ := status.New(codes.InvalidArgument, "bad name").WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "name", Description: "too short"}},
		})
		return nil, st.Err()
	case id == "meta":
		// Name lists the metadata keys received; the answer carries a
		// header and a trailer.
		md, _ := metadata.FromIncomingContext(ctx)
		var keys []string
		for k := range md {
			if k != "user-agent" && k != ":authority" && k != "content-type" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-resp-header", "h1"))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("x-resp-trailer", "t1"))
		return &userv1.UserResponse{UserId: id, Name: strings.Join(keys, ",")}, nil
	case id == "deadline":
		dl, ok := ctx.Deadline()
		if !ok {
			return &userv1.UserResponse{UserId: id, Age: -1}, nil
		}
		return &userv1.UserResponse{UserId: id, Age: int32(time.Until(dl).Milliseconds())}, nil
	}
	return s.Service.GetUser(ctx, req)
}

// ListUsers with limit 99 sends one user, then fails.
func (s svc) ListUsers(req *userv1.ListUsersRequest, st grpc.ServerStreamingServer[userv1.UserResponse]) error {
	if req.GetLimit() == 99 {
		if err := st.Send(&userv1.UserResponse{UserId: "1", Name: "first"}); err != nil {
			return err
		}
		return status.Error(codes.DataLoss, "stream broke")
	}
	return s.Service.ListUsers(req, st)
}

// startBackend serves the UserService (and, withHealth, grpc.health.v1)
// with reflection on lis, or on a new loopback listener.
func startBackend(t testing.TB, lis net.Listener, withHealth bool) (*grpc.Server, string) {
	t.Helper()
	if lis == nil {
		var err error
		if lis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	s := grpc.NewServer()
	userv1.RegisterUserServiceServer(s, svc{users.New()})
	if withHealth {
		healthpb.RegisterHealthServer(s, health.NewServer())
	}
	reflection.Register(s)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return s, lis.Addr().String()
}

// startGateway runs a daemon from yaml, where BACKEND stands for addr.
func startGateway(t *testing.T, yaml, addr string) *daemon.Daemon {
	t.Helper()
	d, _ := startGatewayReg(t, yaml, addr)
	return d
}

func parse(t testing.TB, yaml, addr string, reg *config.Registry) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(strings.ReplaceAll(yaml, "BACKEND", addr)), config.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startGatewayReg(t testing.TB, yaml, addr string) (*daemon.Daemon, *config.Registry) {
	t.Helper()
	reg := builtin.NewRegistry()
	d, err := daemon.New(parse(t, yaml, addr, reg), daemon.Options{
		Registry:        reg,
		UpstreamOptions: []upstream.Option{upstream.WithReconnectBackoff(10*time.Millisecond, 100*time.Millisecond)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d, reg
}

const baseYAML = `
listeners:
  http: {addr: "127.0.0.1:0"}
  mcp:  {addr: "127.0.0.1:0"}
  grpc: {addr: "127.0.0.1:0"}
upstreams:
  users:
    endpoints: ["BACKEND"]
routes:
  - id: api
    uri: lb://users
    predicates: [Path=/api/**]
    filters: [StripPrefix=1]
  - id: rest
    uri: lb://users
`

var client = &http.Client{Timeout: hangGuard}

type answer struct {
	code    int
	header  http.Header
	trailer http.Header
	body    string
}

func do(t *testing.T, method, url, ct, body string, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, resp.Trailer, string(b)}
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not a JSON object: %q: %v", s, err)
	}
	return m
}

func base(d *daemon.Daemon) string { return "http://" + d.Addr("http").String() }

func TestUnaryMappings(t *testing.T) {
	_, addr := startBackend(t, nil, false)
	d := startGateway(t, baseYAML, addr)
	u := base(d)
	for _, tc := range []struct{ name, method, path, body string }{
		{"annotation", "GET", "/v1/users/1", ""},
		{"strip prefix", "GET", "/api/v1/users/1", ""},
		{"connect style", "POST", "/user.v1.UserService/GetUser", `{"userId":"1"}`},
		{"connect style, proto names", "POST", "/user.v1.UserService/GetUser", `{"user_id":"1"}`},
		{"connect style under /api", "POST", "/api/user.v1.UserService/GetUser", `{"user_id":"1"}`},
		{"escaped path variable", "GET", "/v1/users/%31", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, tc.method, u+tc.path, "application/json", tc.body)
			if a.code != 200 {
				t.Fatalf("status %d: %s", a.code, a.body)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			m := decode(t, a.body)
			if m["userId"] != "1" || m["name"] != "Alice" || m["age"] != float64(30) {
				t.Errorf("got %v", m)
			}
		})
	}
}

func TestQueryAndPathParams(t *testing.T) {
	_, addr := startBackend(t, nil, false)
	d := startGateway(t, baseYAML, addr)
	a := do(t, "GET", base(d)+"/v1/users?limit=2", "", "")
	if a.code != 200 {
		t.Fatalf("status %d: %s", a.code, a.body)
	}
	lines := strings.Split(strings.TrimSpace(a.body), "\n")
	if len(lines) != 2 {
		t.Fatalf("limit=2 gave %d lines: %q", len(lines), a.body)
	}
	// A path variable with a reserved character, escaped.
	a = do(t, "GET", base(d)+"/v1/users/no%2Fone", "", "")
	if a.code != 404 || !strings.Contains(a.body, "no/one") {
		t.Errorf("escaped slash: %d %s", a.code, a.body)
	}
}

func TestServerStreamingNDJSON(t *testing.T) {
	_, addr := startBackend(t, nil, false)
	d := startGateway(t, baseYAML, addr)
	resp, err := client.Get(base(d) + "/v1/users")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var ids []string
	for sc.Scan() {
		m := decode(t, sc.Text())
		ids = append(ids, m["userId"].(string))
	}
	if len(ids) < 2 || ids[0] != "1" || ids[1] != "2" {
		t.Errorf("ids %v", ids)
	}
	if got := resp.Trailer.Get("Grpc-Status"); got != "0" {
		t.Errorf("Grpc-Status trailer %q", got)
	}

	// An error after the first message: a last {"error": ...} line and
	// the status in the trailer.
	a := do(t, "GET", base(d)+"/v1/users?limit=99", "", "")
	lines := strings.Split(strings.TrimSpace(a.body), "\n")
	if a.code != 200 || len(lines) != 2 {
		t.Fatalf("status %d, body %q", a.code, a.body)
	}
	last := decode(t, lines[1])
	e, _ := last["error"].(map[string]any)
	if e == nil || e["code"] != float64(codes.DataLoss) || e["message"] != "stream broke" {
		t.Errorf("last line %s", lines[1])
	}
	if a.trailer.Get("Grpc-Status") != strconv.Itoa(int(codes.DataLoss)) || a.trailer.Get("Grpc-Message") != "stream broke" {
		t.Errorf("trailer %v", a.trailer)
	}
}

func TestServerStreamingSSE(t *testing.T) {
	_, addr := startBackend(t, nil, false)
	d := startGateway(t, baseYAML, addr)
	for _, tc := range []struct {
		query    string
		messages int
		code     codes.Code
	}{{"?limit=2", 2, codes.OK}, {"?limit=99", 1, codes.DataLoss}} {
		req, _ := http.NewRequest("GET", base(d)+"/v1/users"+tc.query, nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("Content-Type %q", ct)
		}
		// Parse the events.
		type event struct{ name, data string }
		var evs []event
		var cur event
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				evs = append(evs, cur)
				cur = event{}
			case strings.HasPrefix(line, "event: "):
				cur.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				cur.data = strings.TrimPrefix(line, "data: ")
			}
		}
		resp.Body.Close()
		if len(evs) != tc.messages+1 {
			t.Fatalf("%s: %d events: %v", tc.query, len(evs), evs)
		}
		for _, ev := range evs[:tc.messages] {
			if ev.name != "" || decode(t, ev.data)["userId"] == nil {
				t.Errorf("message event %v", ev)
			}
		}
		st := evs[len(evs)-1]
		if st.name != "status" || decode(t, st.data)["code"] != float64(tc.code) {
			t.Errorf("status event %v", st)
		}
	}
}

func TestClientStreamingNDJSON(t *testing.T) {
	_, addr := startBackend(t, nil, false)
	d := startGateway(t, baseYAML, addr)
	// An io.Pipe body: the gateway reads the lines as they come.
	pr, pw := io.Pipe()
	go func() {
		for _, l := range []string{`{"user_id":"70","name":"Seventy","age":70}`, "", `{"userId":"71","name":"Seventy-one"}`} {
			fmt.Fprintln(pw, l)
		}
		pw.Close()
	}()
	resp, err := client.Post(base(d)+"/v1/users:import", "application/x-ndjson", pr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || decode(t, string(b))["imported"] != float64(2) {
		t.Fatalf("import: %d %s", resp.StatusCode, b)
	}
	a := do(t, "GET", base(d)+"/v1/users/71", "", "")
	if a.code != 200 || decode(t, a.body)["name"] != "Seventy-one" {
		t.Errorf("imported user: %d %s", a.code, a.body)
	}
	// Connect style too.
	a = do(t, "POST", base(d)+"/user.v1.UserService/ImportUsers", "application/x-ndjson", `{"userId":"72"}`+"\n")
	if a.code != 200 || decode(t, a.body)["imported"] != float64(1) {
		t.Errorf("connect-style import: %d %s", a.code, a.body)
	}
	// Bidirectional: NDJSON both ways.
	a = do(t, "POST", base(d)+"/user.v1.UserService/Chat", "application/x-ndjson", "{\"from\":\"a\",\"text\":\"1\"}\n{\"from\":\"b\",\"text\":\"2\"}\n")
	if lines := strings.Split(strings.TrimSpace(a.body), "\n"); a.code != 200 || len(lines) != 2 || decode(t, lines[1])["from"] != "b" {
		t.Errorf("chat: %d %q", a.code, a.body)
	}
}

func TestErrorMapping(t *testing.T) {
	_, addr := startBackend(t, nil, false)
	d := startGateway(t, baseYAML, addr)
	want := map[codes.Code]int{
		codes.Canceled: 499, codes.Unknown: 500, codes.InvalidArgument: 400, codes.DeadlineExceeded: 504,
		codes.NotFound: 404, codes.AlreadyExists: 409, codes.PermissionDenied: 403, codes.ResourceExhausted: 429,
		codes.FailedPrecondition: 400, codes.Aborted: 409, codes.OutOfRange: 400, codes.Unimplemented: 501,
		codes.Internal: 500, codes.Unavailable: 503, codes.DataLoss: 500, codes.Unauthenticated: 401,
	}
	for c, httpCode := range want {
		a := do(t, "GET", fmt.Sprintf("%s/v1/users/code-%d", base(d), c), "", "")
		if a.code != httpCode {
			t.Errorf("%v: HTTP %d, want %d", c, a.code, httpCode)
		}
		m := decode(t, a.body)
		if m["code"] != float64(c) || m["message"] != fmt.Sprintf("asked for code %d", c) {
			t.Errorf("%v: body %s", c, a.body)
		}
		if _, ok := m["details"].([]any); !ok {
			t.Errorf("%v: no details array: %s", c, a.body)
		}
	}
	a := do(t, "GET", base(d)+"/v1/users/details", "", "")
	if a.code != 400 || !strings.Contains(a.body, `"type.googleapis.com/google.rpc.BadRequest"`) || !strings.Contains(a.body, "too short") {
		t.Errorf("details: %d %s", a.code, a.body)
	}
	for _, tc := range []struct {
		method, path string
		code         int
		msg          string
	}{
		{"GET", "/nowhere", 404, "no method for GET /nowhere"},
		{"DELETE", "/v1/users/1", 405, "DELETE is not bound to /v1/users/1 (methods bound to it: [GET])"},
		{"POST", "/user.v1.UserService/Nope", 404, "no method for POST /user.v1.UserService/Nope"},
	} {
		a := do(t, tc.method, base(d)+tc.path, "", "")
		if a.code != tc.code || !strings.Contains(a.body, tc.msg) {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, a.code, a.body)
		}
	}
}

func TestHeadersAndMetadata(t *testing.T) {
	_, addr := startBackend(t, nil, false)
	d := startGateway(t, baseYAML, addr)
	hdr := []string{"Authorization", "Bearer x", "X-Custom", "1", "Traceparent", "00-abc-def-01", "Cookie", "c=1", "Accept-Language", "fr"}
	a := do(t, "GET", base(d)+"/v1/users/meta", "", "", hdr...)
	if a.code != 200 {
		t.Fatalf("%d %s", a.code, a.body)
	}
	if got := decode(t, a.body)["name"]; got != "authorization,traceparent,x-custom" {
		t.Errorf("forwarded metadata keys %q", got)
	}
	if a.header.Get("X-Resp-Header") != "h1" || a.header.Get("X-Resp-Trailer") != "t1" {
		t.Errorf("response headers %v", a.header)
	}

	// A custom allow-list.
	d2 := startGateway(t, strings.Replace(baseYAML, "listeners:", "server:\n  http: {forward_headers: [cookie, \"accept-*\"]}\nlisteners:", 1), addr)
	a = do(t, "GET", base(d2)+"/v1/users/meta", "", "", hdr...)
	if got := decode(t, a.body)["name"]; got != "accept-encoding,accept-language,cookie" {
		t.Errorf("forwarded metadata keys with a custom list %q", got)
	}
}

func TestDeadlineHeaders(t *testing.T) {
	_, addr := startBackend(t, nil, false)
	d := startGateway(t, baseYAML, addr)
	for _, tc := range []struct {
		hdr, val string
		max      float64
	}{{"X-Timeout-Ms", "5000", 5000}, {"Grpc-Timeout", "3S", 3000}, {"", "", -1}} {
		var hdr []string
		if tc.hdr != "" {
			hdr = []string{tc.hdr, tc.val}
		}
		a := do(t, "GET", base(d)+"/v1/users/deadline", "", "", hdr...)
		age := decode(t, a.body)["age"]
		if tc.max < 0 {
			if age != float64(-1) {
				t.Errorf("no deadline header: age %v", age)
			}
			continue
		}
		if f, _ := age.(float64); f <= 0 || f > tc.max {
			t.Errorf("%s: %s: deadline left %v ms", tc.hdr, tc.val, age)
		}
	}
	a := do(t, "GET", base(d)+"/v1/users/1", "", "", "Grpc-Timeout", "1n")
	if a.code != 504 {
		t.Errorf("expired deadline: %d %s", a.code, a.body)
	}
}

func TestMalformedInput(t *testing.T) {
	_, addr := startBackend(t, nil, false)
	d := startGateway(t, strings.Replace(baseYAML, "listeners:", "server:\n  http: {max_body_size: 1KiB}\nlisteners:", 1), addr)
	u := base(d)
	big := `{"userId":"` + strings.Repeat("x", 2000) + `"}`
	for _, tc := range []struct {
		name, method, path, ct, body string
		code                         int
		msg                          string
	}{
		{"syntax", "POST", "/user.v1.UserService/GetUser", "application/json", `{"userId":`, 400, "request body: unexpected EOF"},
		{"not an object", "POST", "/user.v1.UserService/GetUser", "application/json", `[1]`, 400, "unexpected token ["},
		{"unknown field", "POST", "/user.v1.UserService/GetUser", "application/json", `{"nope":1}`, 400, `unknown field \"nope\"`},
		{"wrong type", "POST", "/user.v1.UserService/GetUser", "application/json", `{"userId":5}`, 400, "invalid value for string field userId: 5"},
		{"wrong type int", "POST", "/user.v1.UserService/ListUsers", "application/json", `{"limit":"ten"}`, 400, "invalid value for int32 field limit"},
		{"over the limit", "POST", "/user.v1.UserService/GetUser", "application/json", big, 413, "request body larger than the limit of 1024 bytes"},
		{"content type", "POST", "/user.v1.UserService/GetUser", "text/xml", `<a/>`, 415, `unsupported content type \"text/xml\"`},
		{"query type", "GET", "/v1/users?limit=ten", "", "", 400, `query parameter \"limit\": invalid value \"ten\" for int32 field limit`},
		{"query twice", "GET", "/v1/users?limit=1&limit=2", "", "", 400, `query parameter \"limit\": given 2 times for a singular field`},
		{"unknown query", "GET", "/v1/users?bogus=1", "", "", 400, `query parameter \"bogus\": no field \"bogus\" in user.v1.ListUsersRequest`},
		{"stream line", "POST", "/v1/users:import", "application/x-ndjson", "{\"userId\":\"80\"}\n{\"userId\":\n", 400, "request message 2: unexpected EOF"},
		{"stream line over the limit", "POST", "/v1/users:import", "application/x-ndjson", big + "\n", 413, "request message larger than the limit of 1024 bytes"},
		{"bad timeout", "GET", "/v1/users/1", "", "", 400, `Grpc-Timeout \"soon\"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.name == "bad timeout" {
				hdr = []string{"Grpc-Timeout", "soon"}
			}
			a := do(t, tc.method, u+tc.path, tc.ct, tc.body, hdr...)
			if a.code != tc.code || !strings.Contains(a.body, tc.msg) {
				t.Errorf("got %d %s, want %d with %q", a.code, a.body, tc.code, tc.msg)
			}
			if decode(t, a.body)["code"] == nil {
				t.Errorf("no code in %s", a.body)
			}
		})
	}
}

func TestJSONOptions(t *testing.T) {
	_, addr := startBackend(t, nil, false)
	d := startGateway(t, strings.Replace(baseYAML, "listeners:", "server:\n  json: {use_proto_names: true, emit_defaults: true, unknown_fields: discard}\nlisteners:", 1), addr)
	a := do(t, "POST", base(d)+"/user.v1.UserService/GetUser?x=1", "application/json", `{"userId":"1","extra":true}`)
	m := decode(t, a.body)
	if a.code != 200 || m["user_id"] != "1" {
		t.Fatalf("%d %s", a.code, a.body)
	}
	a = do(t, "GET", base(d)+"/v1/users/deadline?ignored=1", "", "")
	if m := decode(t, a.body); a.code != 200 || m["name"] != "" {
		t.Errorf("emit_defaults: %d %s", a.code, a.body)
	}
}

// TestDescriptorsRefresh: a method the backend did not have when the
// descriptors were loaded becomes callable after a refresh, on reload and
// on the configured interval.
func TestDescriptorsRefresh(t *testing.T) {
	healthCall := func(d *daemon.Daemon) answer {
		return do(t, "POST", base(d)+"/grpc.health.v1.Health/Check", "application/json", `{}`)
	}
	t.Run("reload", func(t *testing.T) {
		_, addr1 := startBackend(t, nil, false)
		_, addr2 := startBackend(t, nil, true)
		d, reg := startGatewayReg(t, baseYAML, addr1)
		if a := healthCall(d); a.code != 404 {
			t.Fatalf("before: %d %s", a.code, a.body)
		}
		if _, err := d.Reload(parse(t, baseYAML, addr2, reg)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return healthCall(d).code == 200 })
		if m := decode(t, healthCall(d).body); m["status"] != "SERVING" {
			t.Errorf("after: %v", m)
		}
	})
	t.Run("interval", func(t *testing.T) {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := lis.Addr().String()
		s1, _ := startBackend(t, lis, false)
		yaml := strings.Replace(baseYAML, `endpoints: ["BACKEND"]`, `endpoints: ["BACKEND"]
    descriptors: {reflection: true, refresh: 50ms}`, 1)
		d := startGateway(t, yaml, addr)
		if a := healthCall(d); a.code != 404 {
			t.Fatalf("before: %d %s", a.code, a.body)
		}
		// The backend restarts with one more service.
		s1.Stop()
		lis2, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("cannot listen again on %s: %v", addr, err)
		}
		startBackend(t, lis2, true)
		waitFor(t, func() bool { return healthCall(d).code == 200 })
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestJSONOverMCP(t *testing.T) {
	_, addr := startBackend(t, nil, false)
	d := startGateway(t, baseYAML, addr)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	c, err := mcp.Dial(ctx, d.Addr("mcp").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, err := c.InvokeRaw(ctx, mcp.RawRequest{Path: "/user.v1.UserService/GetUser", ContentType: "application/json"}, []byte(`{"userId":"2"}`))
	if err != nil {
		t.Fatal(err)
	}
	if m := decode(t, string(out)); m["name"] != "Bob" || m["userId"] != "2" {
		t.Errorf("GetUser: %s", out)
	}
	// Errors keep their status.
	_, err = c.InvokeRaw(ctx, mcp.RawRequest{Path: "/user.v1.UserService/GetUser", ContentType: "application/json"}, []byte(`{"userId":5}`))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "invalid value for string field userId") {
		t.Errorf("malformed: %v", err)
	}
	// Server streaming, message by message.
	rs, err := c.NewRawStream(ctx, mcp.RawRequest{Path: "/user.v1.UserService/ListUsers", ContentType: "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.SendMsg([]byte(`{"limit":2}`)); err != nil {
		t.Fatal(err)
	}
	_ = rs.CloseSend()
	var n int
	for {
		b, err := rs.RecvMsg()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if decode(t, string(b))["userId"] == nil {
			t.Errorf("message %s", b)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d messages", n)
	}
	// Protobuf calls still pass through untouched.
	b, err := c.InvokeRaw(ctx, mcp.RawRequest{Path: "/user.v1.UserService/GetUser"}, mustMarshal(t, &userv1.UserRequest{UserId: "1"}))
	if err != nil {
		t.Fatal(err)
	}
	var resp userv1.UserResponse
	if err := protoUnmarshal(b, &resp); err != nil || resp.GetName() != "Alice" {
		t.Errorf("protobuf call: %v %v", &resp, err)
	}
}

func startBackendB(b *testing.B) (*grpc.Server, string) { return startBackend(b, nil, false) }

func startGatewayB(b *testing.B, yaml, addr string) *daemon.Daemon {
	d, _ := startGatewayReg(b, yaml, addr)
	return d
}

// rawJSON is a gRPC codec named "json" that carries bytes as they are: a
// gRPC client that speaks JSON (content type application/grpc+json).
type rawJSON struct{}

func (rawJSON) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawJSON) Unmarshal(b []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), b...)
	return nil
}
func (rawJSON) Name() string { return "json" }

func TestJSONOverGRPC(t *testing.T) {
	_, addr := startBackend(t, nil, false)
	d := startGateway(t, baseYAML, addr)
	cc, err := grpc.NewClient("passthrough:///"+d.Addr("grpc").String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawJSON{})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	in := []byte(`{"userId":"1"}`)
	var out []byte
	if err := cc.Invoke(ctx, "/user.v1.UserService/GetUser", &in, &out); err != nil {
		t.Fatal(err)
	}
	if m := decode(t, string(out)); m["name"] != "Alice" {
		t.Errorf("GetUser over gRPC in JSON: %s", out)
	}
}

// TestMCPUpstream: HTTP/JSON to an MCP backend, whose descriptors come by
// reflection over MCP.
func TestMCPUpstream(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms := mcp.NewServer()
	userv1.RegisterUserServiceServer(ms, svc{users.New()})
	reflection.Register(ms)
	go func() { _ = ms.Serve(lis) }()
	t.Cleanup(func() { _ = ms.Close() })
	yaml := strings.Replace(baseYAML, `endpoints: ["BACKEND"]`, `protocol: mcp
    endpoints: ["BACKEND"]
    descriptors: {reflection: true}`, 1)
	d := startGateway(t, yaml, lis.Addr().String())
	a := do(t, "GET", base(d)+"/api/v1/users/2", "", "")
	if a.code != 200 || decode(t, a.body)["name"] != "Bob" {
		t.Fatalf("%d %s", a.code, a.body)
	}
	a = do(t, "GET", base(d)+"/v1/users?limit=2", "", "")
	if lines := strings.Split(strings.TrimSpace(a.body), "\n"); a.code != 200 || len(lines) != 2 {
		t.Errorf("stream: %d %q", a.code, a.body)
	}
	a = do(t, "GET", base(d)+"/v1/users/code-7", "", "")
	if a.code != 403 {
		t.Errorf("error: %d %s", a.code, a.body)
	}
}

// TestNoReflection: a backend without server reflection answers 503, with
// the reason, and protobuf calls are unaffected.
func TestNoReflection(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	userv1.RegisterUserServiceServer(s, svc{users.New()})
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	withAdmin := strings.Replace(baseYAML, "listeners:", "listeners:\n  admin: {addr: \"127.0.0.1:0\"}", 1)
	d := startGateway(t, withAdmin, lis.Addr().String())
	for range 2 { // the second answers from the remembered failure
		a := do(t, "GET", base(d)+"/v1/users/1", "", "")
		if a.code != 503 || !strings.Contains(a.body, "descriptors not loaded") || !strings.Contains(a.body, "ServerReflection") {
			t.Errorf("%d %s", a.code, a.body)
		}
	}
	// The admin endpoint says why.
	if ds := adminDescriptors(t, d); ds["loaded"] != false || !strings.Contains(fmt.Sprint(ds["last_error"]), "ServerReflection") || ds["from"] != "reflection" {
		t.Errorf("/upstreams descriptors %v", ds)
	}
	// A file instead of reflection: a descriptor set written by the test.
	path := t.TempDir() + "/users.binpb"
	if err := os.WriteFile(path, mustMarshal(t, exampleSet()), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := strings.Replace(baseYAML, `endpoints: ["BACKEND"]`, `endpoints: ["BACKEND"]
    descriptors: {reflection: false, file: "`+path+`"}`, 1)
	d2 := startGateway(t, strings.Replace(yaml, "listeners:", "listeners:\n  admin: {addr: \"127.0.0.1:0\"}", 1), lis.Addr().String())
	if a := do(t, "GET", base(d2)+"/v1/users/1", "", ""); a.code != 200 || decode(t, a.body)["name"] != "Alice" {
		t.Errorf("from a file: %d %s", a.code, a.body)
	}
	ds := adminDescriptors(t, d2)
	if ds["loaded"] != true || ds["from"] != "file" || ds["loaded_at"] == nil || ds["methods"].(float64) < 4 ||
		!strings.Contains(fmt.Sprint(ds["services"]), "user.v1.UserService") || ds["last_error"] != nil {
		t.Errorf("/upstreams descriptors %v", ds)
	}
}

// adminDescriptors returns the descriptors of upstream "users" from the
// admin endpoint's /upstreams.
func adminDescriptors(t *testing.T, d *daemon.Daemon) map[string]any {
	t.Helper()
	a := do(t, "GET", "http://"+d.Addr("admin").String()+"/upstreams", "", "")
	var ups []map[string]any
	if err := json.Unmarshal([]byte(a.body), &ups); err != nil || a.code != 200 {
		t.Fatalf("/upstreams: %d %s (%v)", a.code, a.body, err)
	}
	for _, u := range ups {
		if u["name"] == "users" {
			ds, _ := u["descriptors"].(map[string]any)
			return ds
		}
	}
	t.Fatalf("/upstreams lacks users: %s", a.body)
	return nil
}

// exampleSet is the example UserService's file and its dependencies.
func exampleSet() *descriptorpb.FileDescriptorSet {
	return descriptors.FileSet(userv1.File_proto_user_v1_user_proto)
}
