package gateway_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/predicate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// upstream answers with its name, so a test sees which route served.
func upstream(name string) gateway.Handler {
	return gateway.HandlerFunc(func(req *gateway.Request, s gateway.Stream) error {
		return s.SendMsg([]byte(name + " " + req.Path))
	})
}

func mustPath(t testing.TB, patterns ...string) gateway.Predicate {
	t.Helper()
	p, err := predicate.NewPath(patterns...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustWeight(t testing.TB, group string, w int) gateway.Predicate {
	t.Helper()
	p, err := predicate.NewWeight(group, w)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func grpcReq(path string) *gateway.Request {
	return &gateway.Request{Protocol: gateway.ProtocolGRPC, Method: "POST", Path: path}
}

func TestLookupOrder(t *testing.T) {
	table, err := gateway.NewTable([]gateway.Route{
		{ID: "specific", Predicates: []gateway.Predicate{mustPath(t, "/user.v1.UserService/GetUser")}, Handler: upstream("a")},
		{ID: "service", Predicates: []gateway.Predicate{mustPath(t, "/user.v1.UserService/**")}, Handler: upstream("b")},
		{ID: "other", Predicates: []gateway.Predicate{mustPath(t, "/other.v1.*/*")}, Handler: upstream("c")},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"first match wins", "/user.v1.UserService/GetUser", "specific"},
		{"second", "/user.v1.UserService/ListUsers", "service"},
		{"glob in segment", "/other.v1.Thing/Do", "other"},
		{"none", "/nope.v1.Nope/Do", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := table.Lookup(context.Background(), grpcReq(tt.path))
			if tt.want == "" {
				if !errors.Is(err, gateway.ErrNoRoute) || status.Code(err) != codes.Unimplemented {
					t.Fatalf("Lookup() = %v, %v; want ErrNoRoute with Unimplemented", r, err)
				}
				if !strings.Contains(err.Error(), tt.path) {
					t.Fatalf("error %q does not name the path", err)
				}
				return
			}
			if err != nil || r.ID != tt.want {
				t.Fatalf("Lookup() = %v, %v; want route %q", r, err, tt.want)
			}
		})
	}
}

func TestLookupEmptyAndNil(t *testing.T) {
	var nilTable *gateway.Table
	for _, tb := range []*gateway.Table{nilTable, {}} {
		if _, err := tb.Lookup(context.Background(), grpcReq("/a/b")); status.Code(err) != codes.Unimplemented {
			t.Fatalf("Lookup on empty table: %v", err)
		}
	}
}

func TestLookupPredicateError(t *testing.T) {
	boom := status.Error(codes.Unavailable, "auth backend down")
	table, err := gateway.NewTable([]gateway.Route{
		{ID: "a", Predicates: []gateway.Predicate{gateway.PredicateFunc(func(context.Context, *gateway.Request) (bool, error) {
			return false, boom
		})}, Handler: upstream("a")},
		{ID: "b", Handler: upstream("b")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := table.Lookup(context.Background(), grpcReq("/x/y")); err != boom {
		t.Fatalf("Lookup() error = %v, want the predicate's error as is", err)
	}
}

func TestNewTableErrors(t *testing.T) {
	h := upstream("x")
	_, err := gateway.NewTable([]gateway.Route{
		{ID: "", Handler: h},
		{ID: "a", Handler: h},
		{ID: "a", Handler: h},
		{ID: "b"},
		{ID: "c", Handler: h, Predicates: []gateway.Predicate{mustWeight(t, "g", 1), mustWeight(t, "g", 2)}},
		{ID: "d", Handler: h, Predicates: []gateway.Predicate{nil}},
		{ID: "e", Handler: h, Filters: []gateway.Middleware{nil}},
	})
	want := []string{
		`route 0 (""): empty route id`,
		`route 2 ("a"): duplicate route id (first at index 1)`,
		`route 3 ("b"): no handler`,
		`route 4 ("c"): more than one Weight predicate`,
		`route 5 ("d"): predicate 0 is nil`,
		`route 6 ("e"): filter 0 is nil`,
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("NewTable() error = %v; want it to contain %q", err, w)
		}
	}
	var re *gateway.RouteError
	if !errors.As(err, &re) || re.Index != 0 {
		t.Errorf("errors.As(RouteError) = %v", re)
	}
}

func TestTableCopiesRoutes(t *testing.T) {
	routes := []gateway.Route{{ID: "a", Predicates: []gateway.Predicate{mustPath(t, "/a/**")}, Handler: upstream("a")}}
	table, err := gateway.NewTable(routes)
	if err != nil {
		t.Fatal(err)
	}
	routes[0].ID = "changed"
	routes[0].Predicates[0] = mustPath(t, "/b/**")
	r, err := table.Lookup(context.Background(), grpcReq("/a/x"))
	if err != nil || r.ID != "a" {
		t.Fatalf("Lookup() after changing the input = %v, %v; want route a", r, err)
	}
}

// TestWeightedSplit is the 90/10 canary split: 10,000 lookups with a seeded
// random source land within ±3% of the weights.
func TestWeightedSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	table, err := gateway.NewTable([]gateway.Route{
		{ID: "stable", Predicates: []gateway.Predicate{mustPath(t, "/user.v1.UserService/**"), mustWeight(t, "users", 90)}, Handler: upstream("stable")},
		{ID: "canary", Predicates: []gateway.Predicate{mustPath(t, "/user.v1.UserService/**"), mustWeight(t, "users", 10)}, Handler: upstream("canary")},
	}, gateway.WithRandom(rng.IntN))
	if err != nil {
		t.Fatal(err)
	}
	const n = 10_000
	counts := map[string]int{}
	for range n {
		r, err := table.Lookup(context.Background(), grpcReq("/user.v1.UserService/GetUser"))
		if err != nil {
			t.Fatalf("Lookup() error = %v: one member of the group must always match", err)
		}
		counts[r.ID]++
	}
	for id, want := range map[string]float64{"stable": 0.90, "canary": 0.10} {
		got := float64(counts[id]) / n
		if got < want-0.03 || got > want+0.03 {
			t.Errorf("route %s got %.3f of the calls, want %.2f±0.03 (counts %v)", id, got, want, counts)
		}
	}
}

// TestWeightedDrawOncePerGroup: the draw is per group and per lookup, so a
// group's members never both match, and a drawn member whose other
// predicates fail sends the call past the group, not to another member.
func TestWeightedDrawOncePerGroup(t *testing.T) {
	calls := 0
	draws := []int{0, 5}      // first lookup draws "a" (weight 5), second draws "b"
	intN := func(n int) int { // deterministic source
		if n != 10 {
			t.Fatalf("intN(%d), want the group total 10", n)
		}
		d := draws[calls%len(draws)]
		calls++
		return d
	}
	onlyHeader := gateway.PredicateFunc(func(_ context.Context, r *gateway.Request) (bool, error) {
		return len(r.Header["x-b"]) > 0, nil
	})
	table, err := gateway.NewTable([]gateway.Route{
		{ID: "a", Predicates: []gateway.Predicate{mustWeight(t, "g", 5)}, Handler: upstream("a")},
		{ID: "b", Predicates: []gateway.Predicate{onlyHeader, mustWeight(t, "g", 5)}, Handler: upstream("b")},
		{ID: "fallback", Handler: upstream("fallback")},
	}, gateway.WithRandom(intN))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a", "fallback"} {
		r, err := table.Lookup(context.Background(), grpcReq("/x/y"))
		if err != nil || r.ID != want {
			t.Fatalf("Lookup() = %v, %v; want %s", r, err, want)
		}
	}
	if calls != 2 {
		t.Fatalf("intN called %d times for 2 lookups, want once per lookup", calls)
	}
}

func TestWeightZeroTotal(t *testing.T) {
	table, err := gateway.NewTable([]gateway.Route{
		{ID: "off", Predicates: []gateway.Predicate{mustWeight(t, "g", 0)}, Handler: upstream("off")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := table.Lookup(context.Background(), grpcReq("/x/y")); !errors.Is(err, gateway.ErrNoRoute) {
		t.Fatalf("Lookup() error = %v, want ErrNoRoute", err)
	}
}

func TestServeCapturesVars(t *testing.T) {
	var got map[string]string
	h := gateway.HandlerFunc(func(req *gateway.Request, s gateway.Stream) error {
		got = req.Vars
		return nil
	})
	table, err := gateway.NewTable([]gateway.Route{
		{ID: "a", Predicates: []gateway.Predicate{mustPath(t, "/api/{service}/{method}")}, Handler: h},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := &gateway.Request{Path: "/api/Users/Get"}
	if err := table.Serve(req, newStream(context.Background())); err != nil {
		t.Fatal(err)
	}
	if got["service"] != "Users" || got["method"] != "Get" || len(got) != 2 {
		t.Fatalf("Vars = %v", got)
	}
	if req.Vars != nil {
		t.Fatalf("Serve modified the caller's request: Vars = %v", req.Vars)
	}
}

func TestChainOrder(t *testing.T) {
	var order []string
	mw := func(name string) gateway.Middleware {
		return func(next gateway.Handler) gateway.Handler {
			return gateway.HandlerFunc(func(req *gateway.Request, s gateway.Stream) error {
				order = append(order, name)
				return next.Serve(req, s)
			})
		}
	}
	table, err := gateway.NewTable([]gateway.Route{{
		ID:      "a",
		Filters: []gateway.Middleware{mw("first"), mw("second")},
		Handler: gateway.HandlerFunc(func(*gateway.Request, gateway.Stream) error {
			order = append(order, "upstream")
			return nil
		}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := table.Serve(grpcReq("/a/b"), newStream(context.Background())); err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "first,second,upstream" {
		t.Fatalf("order = %v", order)
	}
}

func TestRequestClone(t *testing.T) {
	r := &gateway.Request{Path: "/a", Header: metadata.Pairs("k", "v"), Vars: map[string]string{"x": "1"}}
	c := r.Clone()
	c.Header["k"][0] = "changed"
	c.Header.Append("k2", "v2")
	c.Vars["x"] = "2"
	if r.Header["k"][0] != "v" || len(r.Header) != 1 || r.Vars["x"] != "1" {
		t.Fatalf("Clone shares state: %+v", r)
	}
}

func TestLookupConcurrent(t *testing.T) {
	table, err := gateway.NewTable([]gateway.Route{
		{ID: "a", Predicates: []gateway.Predicate{mustPath(t, "/a/**"), mustWeight(t, "g", 1)}, Handler: upstream("a")},
		{ID: "b", Predicates: []gateway.Predicate{mustPath(t, "/a/**"), mustWeight(t, "g", 1)}, Handler: upstream("b")},
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if _, err := table.Lookup(context.Background(), grpcReq("/a/x")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkLookup(b *testing.B) {
	routes := []gateway.Route{}
	for _, svc := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		routes = append(routes, gateway.Route{ID: svc, Predicates: []gateway.Predicate{mustPath(b, "/"+svc+".v1.Service/**")}, Handler: upstream(svc)})
	}
	table, err := gateway.NewTable(routes)
	if err != nil {
		b.Fatal(err)
	}
	req := grpcReq("/h.v1.Service/Method")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := table.Lookup(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
