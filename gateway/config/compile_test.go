package config_test

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/builtin"
	"github.com/mcpbridge/mcpbridge/gateway/config"
	"google.golang.org/grpc/metadata"
)

// stubHandlers gives every upstream a handler that answers with its name
// and the path and headers it got.
func stubHandlers(upstream string) gateway.Handler {
	return gateway.HandlerFunc(func(req *gateway.Request, s gateway.Stream) error {
		return s.SendMsg([]byte(upstream + " " + req.Path + " " + strings.Join(req.Header["x-added"], ",")))
	})
}

type stream struct {
	out [][]byte
}

func (s *stream) Context() context.Context     { return context.Background() }
func (s *stream) RecvMsg() ([]byte, error)     { return nil, io.EOF }
func (s *stream) SendHeader(metadata.MD) error { return nil }
func (s *stream) SendMsg(m []byte) error       { s.out = append(s.out, m); return nil }
func (s *stream) SetTrailer(metadata.MD)       {}

const routing = `
upstreams:
  users: {endpoints: ["127.0.0.1:50051"]}
  canary: {endpoints: ["127.0.0.1:50052"]}
routes:
  - id: api
    uri: lb://users
    predicates:
      - Path=/api/{service}/{method}
    filters:
      - SetPath=/user.v1.{service}/{method}
      - AddRequestHeader=x-added, api
  - id: prefixed
    uri: lb://users
    predicates: [Path=/tenant/*/user.v1.UserService/*]
    filters: [StripPrefix=2]
  - id: stable
    uri: lb://users
    predicates: [Path=/user.v1.UserService/**, "Weight=users, 90"]
  - id: canary
    uri: lb://canary
    predicates: [Path=/user.v1.UserService/**, "Weight=users, 10"]
`

func TestCompileServes(t *testing.T) {
	reg := builtin.NewRegistry()
	cfg, err := config.Parse("routing.yaml", []byte(routing), config.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	table, err := config.Compile(cfg, reg, stubHandlers)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want string
	}{
		{"/api/UserService/GetUser", "users /user.v1.UserService/GetUser api"},
		{"/tenant/acme/user.v1.UserService/GetUser", "users /user.v1.UserService/GetUser "},
	}
	for _, tt := range tests {
		s := &stream{}
		if err := table.Serve(&gateway.Request{Protocol: "grpc", Method: "POST", Path: tt.path}, s); err != nil {
			t.Fatalf("Serve(%s) error = %v", tt.path, err)
		}
		if got := string(s.out[0]); got != tt.want {
			t.Errorf("Serve(%s) reached %q, want %q", tt.path, got, tt.want)
		}
	}
}

// TestCompileWeightedSplit: the 90/10 split of a compiled configuration,
// 10,000 lookups with a seeded random source, within ±3%.
func TestCompileWeightedSplit(t *testing.T) {
	reg := builtin.NewRegistry()
	cfg, err := config.Parse("routing.yaml", []byte(routing), config.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	table, err := config.Compile(cfg, reg, stubHandlers, gateway.WithRandom(rng.IntN))
	if err != nil {
		t.Fatal(err)
	}
	const n = 10_000
	counts := map[string]int{}
	req := &gateway.Request{Protocol: "mcp", Method: "POST", Path: "/user.v1.UserService/GetUser"}
	for range n {
		r, err := table.Lookup(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		counts[r.ID]++
	}
	if got := float64(counts["canary"]) / n; got < 0.07 || got > 0.13 {
		t.Fatalf("canary got %.3f of the calls, want 0.10±0.03 (%v)", got, counts)
	}
	if counts["stable"]+counts["canary"] != n {
		t.Fatalf("calls went elsewhere: %v", counts)
	}
}

func TestCompileErrors(t *testing.T) {
	reg := builtin.NewRegistry()
	// Parsed without the registry: Compile finds the predicate problems, with
	// their lines.
	cfg, err := config.Parse("late.yaml", []byte(`
upstreams:
  users: {endpoints: ["127.0.0.1:50051"]}
  gone: {endpoints: ["127.0.0.1:50052"]}
routes:
  - id: a
    uri: lb://users
    predicates: [Hedaer=x]
  - id: b
    uri: lb://gone
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = config.Compile(cfg, reg, stubHandlers)
	want := `late.yaml:8:18: routes[0].predicates[0]: unknown predicate "Hedaer" (known: Dst, Header, Method, Path, Weight)`
	if err == nil || err.Error() != want {
		t.Fatalf("Compile() error = %v, want %s", err, want)
	}

	cfg.Routes[0].Predicates[0].Name = "Header"
	onlyUsers := func(name string) gateway.Handler {
		if name != "users" {
			return nil
		}
		return stubHandlers(name)
	}
	_, err = config.Compile(cfg, reg, onlyUsers)
	want = `late.yaml:10:10: routes[1].uri: no handler for upstream "gone"`
	if err == nil || err.Error() != want {
		t.Fatalf("Compile() error = %v, want %s", err, want)
	}
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Line != 10 || errs[0].Col != 10 || errs[0].Path != "routes[1].uri" {
		t.Fatalf("errors.As(Errors) = %+v", errs)
	}

	if _, err := config.Compile(nil, reg, stubHandlers); err == nil {
		t.Fatal("Compile(nil) succeeded")
	}
	if _, err := config.Compile(cfg, nil, stubHandlers); err == nil {
		t.Fatal("Compile without a registry succeeded")
	}
}

// TestCompileBuiltInCode: a Config built in code, without positions.
func TestCompileBuiltInCode(t *testing.T) {
	reg := builtin.NewRegistry()
	cfg := config.Default()
	cfg.Upstreams = []config.Upstream{{Name: "users", Protocol: "grpc", Balancer: "random", Endpoints: []config.Endpoint{{Addr: "127.0.0.1:1", Weight: 1}}}}
	cfg.Routes = []config.Route{
		{ID: "a", URI: "lb://users", Predicates: []config.Spec{{Name: "path", Args: gateway.ShorthandArgs("/a/**")}}},
		{ID: "a", URI: "lb://nobody"},
	}
	_, err := config.Compile(cfg, reg, stubHandlers)
	want := "routes[1].id: duplicate route id \"a\" (first at routes[0].id)\n" +
		"routes[1].uri: unknown upstream \"nobody\" (known: users)"
	if err == nil || err.Error() != want {
		t.Fatalf("Compile() error =\n%v\nwant\n%s", err, want)
	}
	cfg.Routes = cfg.Routes[:1]
	table, err := config.Compile(cfg, reg, stubHandlers)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := table.Lookup(context.Background(), &gateway.Request{Path: "/a/b"}); err != nil || r.ID != "a" || r.Upstream != "users" {
		t.Fatalf("Lookup() = %+v, %v", r, err)
	}
}

func TestDefaultIsValid(t *testing.T) {
	if err := config.Default().Validate(builtin.NewRegistry()); err != nil {
		t.Fatal(err)
	}
}

func TestParseWithoutRegistry(t *testing.T) {
	cfg, err := config.Parse("x.yaml", []byte(`
upstreams: {users: {endpoints: ["127.0.0.1:1"]}}
routes: [{id: a, uri: lb://users, predicates: [path=/a, Nonsense=1]}]
`))
	if err != nil {
		t.Fatalf("Parse() without a registry checks no predicate: %v", err)
	}
	if got := cfg.Routes[0].Predicates[0].Name; got != "path" {
		t.Fatalf("name = %q, want it as written", got)
	}
	if cfg.Digest() == "" || cfg.File() != "x.yaml" {
		t.Fatalf("Digest() = %q, File() = %q", cfg.Digest(), cfg.File())
	}
}

func TestParseTooBig(t *testing.T) {
	data := make([]byte, config.MaxFileSize+1)
	if _, err := config.Parse("big.yaml", data); err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Fatalf("Parse() error = %v", err)
	}
}

func TestLoadMissing(t *testing.T) {
	if _, err := config.Load("testdata/does-not-exist.yaml"); err == nil {
		t.Fatal("Load() of a missing file succeeded")
	}
}
