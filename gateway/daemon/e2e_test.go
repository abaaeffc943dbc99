package daemon_test

// End-to-end tests of the gateway as cmd/mcpbridge runs it: a daemon built
// from a YAML configuration, real gRPC and MCP backends serving the example
// UserService on loopback, and real clients of both front doors.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	rpbalpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"
)

var fronts = []string{"grpc", "mcp"}

// shapesConfig routes UserService calls to a gRPC backend, or to an MCP one
// when the call carries x-upstream: mcp.
func shapesConfig(g, m *backend) string {
	return fmt.Sprintf(`
upstreams:
  users-grpc: {endpoints: [%s]}
  users-mcp: {protocol: mcp, endpoints: [%s]}
routes:
  - id: to-mcp
    uri: lb://users-mcp
    predicates: [Path=/user.v1.UserService/**, "Header=x-upstream, mcp"]
  - id: to-grpc
    uri: lb://users-grpc
    predicates: [Path=/user.v1.UserService/**]
`, g.addr, m.addr)
}

// TestFourShapes carries every call shape of the UserService through each
// front door to each kind of backend: messages, request metadata, response
// headers and trailers, and a NOT_FOUND status.
func TestFourShapes(t *testing.T) {
	gb := startBackend(t, "grpc", "g1")
	mb := startBackend(t, "mcp", "m1")
	g := startDaemon(t, shapesConfig(gb, mb))
	for _, front := range fronts {
		c := g.client(front)
		for _, up := range []string{"grpc", "mcp"} {
			t.Run(front+"-to-"+up, func(t *testing.T) {
				wantBackend := map[string]string{"grpc": "g1", "mcp": "m1"}[up]
				ctx := metadata.AppendToOutgoingContext(guardCtx(t), "x-upstream", up, "x-echo", "hello-"+front)
				checkMD := func(what string, h, tr metadata.MD) {
					t.Helper()
					if got := h.Get("x-backend"); !slices.Equal(got, []string{wantBackend}) {
						t.Errorf("%s: header x-backend = %q, want %q (header %v)", what, got, wantBackend, h)
					}
					if got := h.Get("x-echo"); !slices.Equal(got, []string{"hello-" + front}) {
						t.Errorf("%s: header x-echo = %q (header %v)", what, got, h)
					}
					if got := tr.Get("x-trailer"); !slices.Equal(got, []string{"t-" + wantBackend}) {
						t.Errorf("%s: trailer x-trailer = %q (trailer %v)", what, got, tr)
					}
					if got := tr.Get("x-echo-trailer"); !slices.Equal(got, []string{"hello-" + front}) {
						t.Errorf("%s: trailer x-echo-trailer = %q (trailer %v)", what, got, tr)
					}
				}

				// Unary.
				var h, tr metadata.MD
				u, err := c.GetUser(ctx, &userv1.UserRequest{UserId: "1"}, grpc.Header(&h), grpc.Trailer(&tr))
				if err != nil {
					t.Fatal(err)
				}
				if u.GetName() != "Alice" || u.GetAge() != 30 || u.GetUserId() != "1" {
					t.Errorf("GetUser(1) = %v", u)
				}
				checkMD("GetUser", h, tr)

				// A status from the backend, with its headers and trailers.
				h, tr = nil, nil
				_, err = c.GetUser(ctx, &userv1.UserRequest{UserId: "nobody"}, grpc.Header(&h), grpc.Trailer(&tr))
				wantCode(t, err, codes.NotFound)
				if msg := status.Convert(err).Message(); msg != "user nobody not found" {
					t.Errorf("NOT_FOUND message %q", msg)
				}
				checkMD("GetUser NOT_FOUND", h, tr)
				_, err = c.GetUser(ctx, &userv1.UserRequest{})
				wantCode(t, err, codes.InvalidArgument)

				// Client streaming.
				prefix := front + "-" + up + "-"
				is, err := c.ImportUsers(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for i := range 3 {
					if err := is.Send(&userv1.ImportUserRequest{UserId: prefix + fmt.Sprint(i), Name: "N" + fmt.Sprint(i), Age: int32(40 + i)}); err != nil {
						t.Fatal(err)
					}
				}
				ir, err := is.CloseAndRecv()
				if err != nil {
					t.Fatal(err)
				}
				if ir.GetImported() != 3 {
					t.Errorf("imported %d, want 3", ir.GetImported())
				}
				h, _ = is.Header()
				checkMD("ImportUsers", h, is.Trailer())
				if u, err := c.GetUser(ctx, &userv1.UserRequest{UserId: prefix + "2"}); err != nil || u.GetName() != "N2" || u.GetAge() != 42 {
					t.Errorf("GetUser of an imported user = %v, %v", u, err)
				}

				// Server streaming.
				ls, err := c.ListUsers(ctx, &userv1.ListUsersRequest{})
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for {
					u, err := ls.Recv()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					ids = append(ids, u.GetUserId())
				}
				if len(ids) < 5 || ids[0] != "1" || ids[1] != "2" || !slices.Contains(ids, prefix+"0") {
					t.Errorf("ListUsers = %q", ids)
				}
				h, _ = ls.Header()
				checkMD("ListUsers", h, ls.Trailer())

				// Bidirectional streaming, message by message.
				cs, err := c.Chat(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for i := range 5 {
					text := fmt.Sprintf("msg %d", i)
					if err := cs.Send(&userv1.ChatMessage{From: front, Text: text}); err != nil {
						t.Fatal(err)
					}
					m, err := cs.Recv()
					if err != nil {
						t.Fatal(err)
					}
					if m.GetText() != text || m.GetFrom() != front {
						t.Errorf("Chat echo %v, want %q from %q", m, text, front)
					}
				}
				if err := cs.CloseSend(); err != nil {
					t.Fatal(err)
				}
				if _, err := cs.Recv(); err != io.EOF {
					t.Errorf("Chat after half-close: %v, want EOF", err)
				}
				h, _ = cs.Header()
				checkMD("Chat", h, cs.Trailer())
			})
		}
	}
}

// TestDeadlineAndCancel: a client's deadline travels to the backend and a
// shorter one than the backend takes answers DEADLINE_EXCEEDED; a client's
// cancel cancels the backend's call.
func TestDeadlineAndCancel(t *testing.T) {
	gb := startBackend(t, "grpc", "g1")
	mb := startBackend(t, "mcp", "m1")
	g := startDaemon(t, shapesConfig(gb, mb))
	for _, front := range fronts {
		c := g.client(front)
		for _, b := range []*backend{gb, mb} {
			t.Run(front+"-to-"+b.proto, func(t *testing.T) {
				md := metadata.Pairs("x-upstream", b.proto)

				// The deadline reaches the backend.
				ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), 5*time.Second)
				u, err := c.GetUser(ctx, &userv1.UserRequest{UserId: idDeadline})
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				if u.GetAge() <= 0 || u.GetAge() > 5000 {
					t.Errorf("the backend saw %d ms left, want a deadline within the client's 5s", u.GetAge())
				}

				// A deadline shorter than the backend takes.
				ctx, cancel = context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), 200*time.Millisecond)
				start := time.Now()
				_, err = c.GetUser(ctx, &userv1.UserRequest{UserId: idBlock})
				cancel()
				wantCode(t, err, codes.DeadlineExceeded)
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("DEADLINE_EXCEEDED after %v", took)
				}
				<-b.svc.started
				select {
				case err := <-b.svc.ended:
					if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
						t.Errorf("backend call ended with %v", err)
					}
				case <-time.After(hangGuard):
					t.Fatal("the backend call never ended")
				}

				// A client's cancel reaches the backend.
				ctx, cancel = context.WithCancel(metadata.NewOutgoingContext(context.Background(), md))
				defer cancel()
				errc := make(chan error, 1)
				go func() {
					_, err := c.GetUser(ctx, &userv1.UserRequest{UserId: idBlock})
					errc <- err
				}()
				select {
				case <-b.svc.started:
				case <-time.After(hangGuard):
					t.Fatal("the call never reached the backend")
				}
				cancel()
				select {
				case err := <-b.svc.ended:
					if !errors.Is(err, context.Canceled) {
						t.Errorf("backend call ended with %v, want canceled", err)
					}
				case <-time.After(hangGuard):
					t.Fatal("the client's cancel never reached the backend")
				}
				wantCode(t, <-errc, codes.Canceled)
			})
		}
	}
}

// TestReflectionThroughGateway lists and describes services through the
// gRPC front door with the reflection client grpcurl uses.
func TestReflectionThroughGateway(t *testing.T) {
	gb := startBackend(t, "grpc", "g1")
	g := startDaemon(t, fmt.Sprintf(`
upstreams:
  users: {endpoints: [%s]}
routes:
  - id: reflection
    uri: lb://users
    predicates: ["Path=/grpc.reflection.v1.ServerReflection/**, /grpc.reflection.v1alpha.ServerReflection/**"]
`, gb.addr))
	ctx := guardCtx(t)
	st, err := rpb.NewServerReflectionClient(g.grpcConn()).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"user.v1.UserService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "pubsub.v1.PubSub"} {
		if !slices.Contains(names, want) {
			t.Errorf("services %q lack %s (the backend's and the gateway's own, merged)", names, want)
		}
	}
	// The gateway's own service is described by the gateway.
	if err := st.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "pubsub.v1.PubSub.Publish"}}); err != nil {
		t.Fatal(err)
	}
	if resp, err = st.Recv(); err != nil {
		t.Fatal(err)
	}
	if fds := resp.GetFileDescriptorResponse().GetFileDescriptorProto(); len(fds) == 0 {
		t.Errorf("no file descriptor for pubsub.v1.PubSub.Publish: %v", resp)
	} else {
		var fd descriptorpb.FileDescriptorProto
		if err := proto.Unmarshal(fds[0], &fd); err != nil || fd.GetPackage() != "pubsub.v1" {
			t.Errorf("first file: %v, %v", fd.GetName(), err)
		}
	}
	if err := st.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "user.v1.UserService"}}); err != nil {
		t.Fatal(err)
	}
	if resp, err = st.Recv(); err != nil {
		t.Fatal(err)
	}
	if fds := resp.GetFileDescriptorResponse().GetFileDescriptorProto(); len(fds) == 0 {
		t.Errorf("no file descriptor for user.v1.UserService: %v", resp)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != io.EOF {
		t.Errorf("after half-close: %v, want EOF", err)
	}

	// The same merged view over v1alpha, which older clients use.
	ast, err := rpbalpha.NewServerReflectionClient(g.grpcConn()).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ast.Send(&rpbalpha.ServerReflectionRequest{MessageRequest: &rpbalpha.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	aresp, err := ast.Recv()
	if err != nil {
		t.Fatal(err)
	}
	names = names[:0]
	for _, s := range aresp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !slices.Contains(names, "user.v1.UserService") || !slices.Contains(names, "pubsub.v1.PubSub") {
		t.Errorf("v1alpha services %q", names)
	}
	_ = ast.CloseSend()

	// The MCP front door gives the same view.
	mst, err := rpb.NewServerReflectionClient(g.mcpConn()).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := mst.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	if resp, err = mst.Recv(); err != nil {
		t.Fatal(err)
	}
	names = names[:0]
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !slices.Contains(names, "user.v1.UserService") || !slices.Contains(names, "pubsub.v1.PubSub") {
		t.Errorf("services over MCP %q", names)
	}
	_ = mst.CloseSend()

	// Without a route for reflection: the gateway's own services only, and
	// a clear error for the rest.
	g.reload(fmt.Sprintf(`
upstreams:
  users: {endpoints: [%s]}
routes:
  - id: users
    uri: lb://users
    predicates: [Path=/user.v1.UserService/**]
`, gb.addr))
	st, err = rpb.NewServerReflectionClient(g.grpcConn()).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}})
	if resp, err = st.Recv(); err != nil {
		t.Fatal(err)
	}
	names = names[:0]
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !slices.Contains(names, "pubsub.v1.PubSub") || slices.Contains(names, "user.v1.UserService") {
		t.Errorf("services without a reflection route: %q", names)
	}
	_ = st.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "user.v1.UserService"}})
	if resp, err = st.Recv(); err != nil {
		t.Fatal(err)
	}
	if e := resp.GetErrorResponse(); codes.Code(e.GetErrorCode()) != codes.Unimplemented {
		t.Errorf("a backend symbol without a reflection route: %v, want an UNIMPLEMENTED error response", resp)
	}
	_ = st.CloseSend()
}

// TestDstRouting: an MCP call with dst_addr 0x0102 goes to the MCP upstream
// its Dst route names; calls without it, and gRPC calls, follow the Path
// route.
func TestDstRouting(t *testing.T) {
	gb := startBackend(t, "grpc", "by-path")
	mb := startBackend(t, "mcp", "node-0102")
	g := startDaemon(t, fmt.Sprintf(`
upstreams:
  node: {protocol: mcp, endpoints: [%s]}
  users: {endpoints: [%s]}
routes:
  - id: node
    uri: lb://node
    predicates: [Dst=0x0102]
  - id: users
    uri: lb://users
    predicates: [Path=/user.v1.UserService/**]
`, mb.addr, gb.addr))
	ctx := guardCtx(t)
	mc := userv1.NewUserServiceClient(g.mcpConn())
	gc := userv1.NewUserServiceClient(g.grpcConn())
	for _, tc := range []struct {
		name string
		c    userv1.UserServiceClient
		opts []grpc.CallOption
		want string
	}{
		{"mcp dst 0x0102", mc, []grpc.CallOption{mcp.DstAddr{Addr: 0x0102}}, "node-0102"},
		{"mcp dst 0x0103", mc, []grpc.CallOption{mcp.DstAddr{Addr: 0x0103}}, "by-path"},
		{"mcp no dst", mc, nil, "by-path"},
		{"grpc", gc, nil, "by-path"},
	} {
		for range 3 {
			b, u, err := getUser(ctx, tc.c, "2", tc.opts...)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if b != tc.want || u.GetName() != "Bob" {
				t.Errorf("%s: answered by %q (%v), want %q", tc.name, b, u, tc.want)
			}
		}
	}
	// A stream with a dst_addr follows the Dst route too.
	ls, err := mc.ListUsers(ctx, &userv1.ListUsersRequest{}, mcp.DstAddr{Addr: 0x0102})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		if _, err := ls.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if h, _ := ls.Header(); n != 2 || !slices.Equal(h.Get("x-backend"), []string{"node-0102"}) {
		t.Errorf("ListUsers to 0x0102: %d users, header %v", n, h)
	}
}

// TestNoRoute: a call no route matches answers UNIMPLEMENTED on both front
// doors.
func TestNoRoute(t *testing.T) {
	gb := startBackend(t, "grpc", "g1")
	g := startDaemon(t, fmt.Sprintf(`
upstreams:
  users: {endpoints: [%s]}
routes:
  - id: get-only
    uri: lb://users
    predicates: [Path=/user.v1.UserService/GetUser]
`, gb.addr))
	ctx := guardCtx(t)
	for _, front := range fronts {
		c := g.client(front)
		if _, _, err := getUser(ctx, c, "1"); err != nil {
			t.Fatalf("%s: routed call: %v", front, err)
		}
		ls, err := c.ListUsers(ctx, &userv1.ListUsersRequest{})
		if err == nil {
			_, err = ls.Recv()
		}
		wantCode(t, err, codes.Unimplemented)
	}
	err := g.grpcConn().Invoke(ctx, "/other.v1.Service/Do", &emptypb.Empty{}, &emptypb.Empty{})
	wantCode(t, err, codes.Unimplemented)
	err = g.mcpConn().Invoke(ctx, "/other.v1.Service/Do", &emptypb.Empty{}, &emptypb.Empty{})
	wantCode(t, err, codes.Unimplemented)
	if gb.svc.calls.Load() != 2 {
		t.Errorf("the backend saw %d calls, want the 2 routed ones", gb.svc.calls.Load())
	}
}

// TestNoHealthyEndpoint: once its only endpoint fails its health checks, an
// upstream answers UNAVAILABLE at once, and /readyz says so.
func TestNoHealthyEndpoint(t *testing.T) {
	gb := startBackend(t, "grpc", "g1")
	dead := deadAddr(t)
	g := startDaemon(t, fmt.Sprintf(`
upstreams:
  users: {endpoints: [%s]}
  dead:
    endpoints: [%s]
    health_check: {interval: 50ms, timeout: 50ms, unhealthy_threshold: 1}
routes:
  - id: dead
    uri: lb://dead
    predicates: [Path=/user.v1.UserService/**, Header=x-dead]
  - id: users
    uri: lb://users
    predicates: [Path=/user.v1.UserService/**]
`, gb.addr, dead))
	waitFor(t, "the dead endpoint is out", func() bool { return !g.endpointHealthy("dead", dead) })
	code, body := g.adminGet("/readyz")
	var rz struct {
		Ready  bool   `json:"ready"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(body, &rz); err != nil || code != http.StatusServiceUnavailable || rz.Ready || !strings.Contains(rz.Reason, "dead") {
		t.Errorf("/readyz = %d %s (%v)", code, body, err)
	}
	for _, front := range fronts {
		c := g.client(front)
		ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-dead", "1"), 10*time.Second)
		start := time.Now()
		_, _, err := getUser(ctx, c, "1")
		took := time.Since(start)
		cancel()
		wantCode(t, err, codes.Unavailable)
		if !strings.Contains(status.Convert(err).Message(), "no healthy endpoint") {
			t.Errorf("%s: %v", front, err)
		}
		if took > 2*time.Second {
			t.Errorf("%s: UNAVAILABLE after %v, want at once", front, took)
		}
		// The healthy upstream still serves.
		if b, _, err := getUser(guardCtx(t), c, "1"); err != nil || b != "g1" {
			t.Errorf("%s: healthy upstream: %q, %v", front, b, err)
		}
	}
}

// TestAdminEndpoints reads every admin endpoint over HTTP.
func TestAdminEndpoints(t *testing.T) {
	gb := startBackend(t, "grpc", "g1")
	g := startDaemon(t, fmt.Sprintf(`
upstreams:
  users: {endpoints: [%s], balancer: least_request}
routes:
  - id: users
    uri: lb://users
    predicates: [Path=/user.v1.UserService/**, "Header=x-canary, true"]
    filters: ["AddRequestHeader=x-gw, mcpbridge"]
`, gb.addr))

	code, body := g.adminGet("/healthz")
	if code != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}

	getJSON := func(path string, v any) {
		t.Helper()
		code, body := g.adminGet(path)
		if code != http.StatusOK {
			t.Fatalf("%s = %d %s", path, code, body)
		}
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, body)
		}
	}
	var rz struct {
		Ready bool `json:"ready"`
	}
	getJSON("/readyz", &rz)
	if !rz.Ready {
		t.Errorf("/readyz: not ready")
	}

	type route struct {
		ID         string   `json:"id"`
		Upstream   string   `json:"upstream"`
		Predicates []string `json:"predicates"`
		Filters    []string `json:"filters"`
	}
	var routes []route
	getJSON("/routes", &routes)
	want := []route{{ID: "users", Upstream: "users", Predicates: []string{"Path=/user.v1.UserService/**", "Header=x-canary, true"}, Filters: []string{"AddRequestHeader=x-gw, mcpbridge"}}}
	if len(routes) != 1 || routes[0].ID != want[0].ID || routes[0].Upstream != want[0].Upstream ||
		!slices.Equal(routes[0].Predicates, want[0].Predicates) || !slices.Equal(routes[0].Filters, want[0].Filters) {
		t.Errorf("/routes = %+v, want %+v", routes, want)
	}

	var ups []struct {
		Name      string `json:"name"`
		Protocol  string `json:"protocol"`
		Balancer  string `json:"balancer"`
		Ready     bool   `json:"ready"`
		Endpoints []struct {
			Addr    string `json:"addr"`
			Healthy bool   `json:"healthy"`
			Calls   int    `json:"calls"`
		} `json:"endpoints"`
	}
	ctx := metadata.AppendToOutgoingContext(guardCtx(t), "x-canary", "true")
	if _, _, err := getUser(ctx, g.client("grpc"), "1"); err != nil {
		t.Fatal(err)
	}
	getJSON("/upstreams", &ups)
	if len(ups) != 1 || ups[0].Name != "users" || ups[0].Protocol != "grpc" || ups[0].Balancer != "least_request" || !ups[0].Ready ||
		len(ups[0].Endpoints) != 1 || ups[0].Endpoints[0].Addr != gb.addr || !ups[0].Endpoints[0].Healthy || ups[0].Endpoints[0].Calls != 1 {
		t.Errorf("/upstreams = %+v", ups)
	}

	var cfg map[string]any
	getJSON("/config", &cfg)
	for _, k := range []string{"server", "listeners", "upstreams", "routes"} {
		if _, ok := cfg[k]; !ok {
			t.Errorf("/config lacks %q: %v", k, cfg)
		}
	}

	// The endpoints show what is in force after a reload.
	g.reload(fmt.Sprintf(`
upstreams:
  users2: {endpoints: [%s]}
routes:
  - id: a
    uri: lb://users2
    predicates: [Path=/a/**]
  - id: b
    uri: lb://users2
`, gb.addr))
	routes = nil
	getJSON("/routes", &routes)
	if len(routes) != 2 || routes[0].ID != "a" || routes[1].ID != "b" || routes[1].Upstream != "users2" || len(routes[1].Predicates) != 0 {
		t.Errorf("/routes after reload = %+v", routes)
	}
	ups = nil
	getJSON("/upstreams", &ups)
	if len(ups) != 1 || ups[0].Name != "users2" {
		t.Errorf("/upstreams after reload = %+v", ups)
	}

	// Anything but GET (or HEAD) is refused; unknown paths are 404.
	resp, err := http.Post("http://"+g.d.Addr("admin").String()+"/routes", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /routes = %d", resp.StatusCode)
	}
	if code, _ := g.adminGet("/nothing"); code != http.StatusNotFound {
		t.Errorf("/nothing = %d", code)
	}
}
