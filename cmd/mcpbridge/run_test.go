package main

// Tests of the command as a process runs it: run with a configuration file
// on free loopback ports, SIGHUP reloads (good and bad), a graceful stop,
// and the validate subcommand on the shipped configurations.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/examples/userservice/users"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const hangGuard = 15 * time.Second

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logLines decodes the JSON log lines written so far.
func logLines(buf *syncBuffer) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(buf.String()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// countMsg counts the log lines whose msg is msg.
func countMsg(buf *syncBuffer, msg string) int {
	n := 0
	for _, l := range logLines(buf) {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	// Write and rename, as deployment tools do, so a reader never sees half
	// a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// startRun runs the command on the configuration file at path (which must
// log in JSON) and returns once its listeners are up.
func startRun(t *testing.T, path string, hup chan os.Signal) (map[string]string, *syncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"--config", path}, &stdout, &stderr, hup) }()
	var exit struct {
		once sync.Once
		code int
	}
	stop := func() int {
		exit.once.Do(func() {
			cancel()
			select {
			case exit.code = <-code:
			case <-time.After(hangGuard):
				t.Error("run did not return")
				exit.code = -1
			}
		})
		return exit.code
	}
	addrs := map[string]string{}
	deadline := time.Now().Add(hangGuard)
	for len(addrs) < 3 {
		for _, l := range logLines(&stderr) {
			if l["msg"] == "listening" {
				name, _ := l["listener"].(string)
				addr, _ := l["addr"].(string)
				addrs[name] = addr
			}
		}
		if strings.Contains(stderr.String(), `"level":"ERROR"`) || time.Now().After(deadline) {
			stop()
			t.Fatalf("the listeners did not come up:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return addrs, &stderr, stop
}

// TestRunServesReloadsAndStops runs the command on a configuration file:
// it serves on both front doors, reloads on SIGHUP, rejects a bad file and
// keeps serving, and stops with exit code 0 when its context ends.
func TestRunServesReloadsAndStops(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := grpc.NewServer()
	userv1.RegisterUserServiceServer(backend, users.New())
	served := make(chan struct{})
	go func() { defer close(served); _ = backend.Serve(lis) }()
	defer func() { backend.Stop(); <-served }()

	head := `
server:
  shutdown_grace: 5s
  watch_interval: 0s
  log: {format: json, level: debug}
listeners:
  mcp: 127.0.0.1:0
  grpc: 127.0.0.1:0
  admin: 127.0.0.1:0
upstreams:
  users: {endpoints: ["` + lis.Addr().String() + `"]}
`
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, head+`
routes:
  - id: users
    uri: lb://users
    predicates: [Path=/user.v1.UserService/**]
`)

	hup := make(chan os.Signal, 1)
	addrs, stderr, stop := startRun(t, path, hup)
	defer stop()

	cc, err := grpc.NewClient(addrs["grpc"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	dctx, dcancel := context.WithTimeout(context.Background(), hangGuard)
	defer dcancel()
	mc, err := mcp.Dial(dctx, addrs["mcp"])
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	clients := map[string]userv1.UserServiceClient{"grpc": userv1.NewUserServiceClient(cc), "mcp": userv1.NewUserServiceClient(mc)}
	get := func(md ...string) error {
		t.Helper()
		for front, c := range clients {
			ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), md...), hangGuard)
			u, err := c.GetUser(ctx, &userv1.UserRequest{UserId: "1"})
			cancel()
			if err != nil {
				return err
			}
			if u.GetName() != "Alice" {
				t.Errorf("%s: GetUser(1) = %v", front, u)
			}
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}

	// A good reload on SIGHUP: the route now needs a header.
	writeFile(t, path, head+`
routes:
  - id: users-v2
    uri: lb://users
    predicates: [Path=/user.v1.UserService/**, Header=x-v2]
`)
	hup <- syscall.SIGHUP
	waitFor(t, "the reload", func() bool { return countMsg(stderr, "configuration reloaded") == 1 })
	if err := get(); status.Code(err) != codes.Unimplemented {
		t.Errorf("after the reload, a call without x-v2: %v, want UNIMPLEMENTED", err)
	}
	if err := get("x-v2", "1"); err != nil {
		t.Errorf("after the reload, a call with x-v2: %v", err)
	}

	// A bad file is rejected with its line, and the running routes stay.
	writeFile(t, path, head+`
routes:
  - id: users-v3
    uri: lb://users
    predicates: [Hedaer=x-v3]
`)
	hup <- syscall.SIGHUP
	waitFor(t, "the rejection", func() bool { return countMsg(stderr, "configuration rejected; the running one stays") == 1 })
	for _, l := range logLines(stderr) {
		if l["msg"] != "configuration rejected; the running one stays" {
			continue
		}
		// FILE:LINE:COL: KEY.PATH: message
		want := regexp.MustCompile(`^` + regexp.QuoteMeta(path) + `:16:\d+: routes\[0\]\.predicates\[0\]: unknown predicate "Hedaer"`)
		if err, _ := l["err"].(string); !want.MatchString(err) {
			t.Errorf("the rejection does not name the problem with its place: %q", err)
		}
	}
	if err := get("x-v2", "1"); err != nil {
		t.Errorf("after the rejected reload: %v", err)
	}

	if c := stop(); c != 0 {
		t.Errorf("exit code %d:\n%s", c, stderr.String())
	}
	if countMsg(stderr, "stopped") != 1 {
		t.Errorf("no \"stopped\" in the log:\n%s", stderr.String())
	}
}

// TestValidate checks the shipped configurations and a bad one.
func TestValidate(t *testing.T) {
	dir := t.TempDir()
	embedded := filepath.Join(dir, "default.yaml")
	if err := os.WriteFile(embedded, defaultConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(`upstreams:
  user-service:
    endpoints: ["127.0.0.1:50051"]
    balancer: fastest
routes:
  - id: r
    uri: lb://user-servise
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  []string
	}{
		{"example", []string{"validate", "--config", "../../examples/config/gateway.yaml"}, 0, []string{": ok ("}},
		{"embedded default", []string{"validate", "--config", embedded}, 0, []string{": ok ("}},
		{"bad", []string{"validate", "--config", bad}, 1, []string{
			bad + `:4:15: upstreams.user-service.balancer: unknown balancer "fastest"`,
			bad + `:7:10: routes[0].uri: unknown upstream "user-servise" (known: user-service)`,
			"2 error(s)",
		}},
		{"missing file", []string{"validate", "--config", filepath.Join(dir, "nope.yaml")}, 1, []string{"nope.yaml"}},
		{"no --config", []string{"validate"}, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			code := run(context.Background(), tc.args, &stdout, &stderr, nil)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			for _, want := range tc.out {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
		})
	}
}

// TestRunReloadsOnFileChange: with server.watch_interval set, a change to
// the file reloads it, and an invalid change is logged and ignored.
func TestRunReloadsOnFileChange(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := grpc.NewServer()
	userv1.RegisterUserServiceServer(backend, users.New())
	served := make(chan struct{})
	go func() { defer close(served); _ = backend.Serve(lis) }()
	defer func() { backend.Stop(); <-served }()

	head := `
server:
  watch_interval: 10ms
  log: {format: json}
listeners:
  grpc: 127.0.0.1:0
  mcp: 127.0.0.1:0
  admin: 127.0.0.1:0
upstreams:
  users: {endpoints: ["` + lis.Addr().String() + `"]}
`
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, head+"routes: [{id: none, uri: lb://users, predicates: [Path=/nothing]}]\n")
	addrs, stderr, stop := startRun(t, path, nil)
	defer stop()
	cc, err := grpc.NewClient(addrs["grpc"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := userv1.NewUserServiceClient(cc)
	get := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		_, err := c.GetUser(ctx, &userv1.UserRequest{UserId: "1"})
		return err
	}
	if err := get(); status.Code(err) != codes.Unimplemented {
		t.Fatalf("before the change: %v, want UNIMPLEMENTED", err)
	}

	writeFile(t, path, head+"routes: [{id: users, uri: lb://users}]\n")
	waitFor(t, "the reload", func() bool { return countMsg(stderr, "configuration reloaded") == 1 })
	if err := get(); err != nil {
		t.Errorf("after the change: %v", err)
	}

	writeFile(t, path, head+"routes: [{id: users, uri: lb://nowhere}]\n")
	waitFor(t, "the rejection", func() bool {
		return countMsg(stderr, "configuration file changed but is invalid; the running one stays") == 1
	})
	if err := get(); err != nil {
		t.Errorf("after the invalid change: %v", err)
	}
	if c := stop(); c != 0 {
		t.Errorf("exit code %d:\n%s", c, stderr.String())
	}
}
