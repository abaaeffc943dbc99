package gateway_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
)

func TestRouterZero(t *testing.T) {
	var r gateway.Router
	if r.Load() != nil {
		t.Fatal("zero Router has a table")
	}
	if err := r.Serve(grpcReq("/a/b"), newStream(context.Background())); !errors.Is(err, gateway.ErrNoRoute) {
		t.Fatalf("Serve() = %v, want ErrNoRoute", err)
	}
}

// TestRouterSwapInFlight: a call that started on the old table finishes on
// it, while calls after Swap see the new one.
func TestRouterSwapInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	slow := gateway.HandlerFunc(func(req *gateway.Request, s gateway.Stream) error {
		close(entered)
		<-release
		return s.SendMsg([]byte("old"))
	})
	oldTable, err := gateway.NewTable([]gateway.Route{{ID: "old", Handler: slow}})
	if err != nil {
		t.Fatal(err)
	}
	newTable, err := gateway.NewTable([]gateway.Route{{ID: "new", Handler: upstream("new")}})
	if err != nil {
		t.Fatal(err)
	}
	router := gateway.NewRouter(oldTable)

	s := newStream(context.Background())
	done := make(chan error, 1)
	go func() { done <- router.Serve(grpcReq("/a/b"), s) }()
	<-entered

	if prev := router.Swap(newTable); prev != oldTable {
		t.Fatalf("Swap returned %p, want the old table %p", prev, oldTable)
	}
	s2 := newStream(context.Background())
	if err := router.Serve(grpcReq("/a/b"), s2); err != nil || string(s2.out[0]) != "new /a/b" {
		t.Fatalf("call after Swap: %v, %q", err, s2.out)
	}
	close(release)
	if err := <-done; err != nil || string(s.out[0]) != "old" {
		t.Fatalf("in-flight call: %v, %q", err, s.out)
	}
}

// TestRouterSwapConcurrent runs lookups against continuous swaps (for -race):
// every call finds a route.
func TestRouterSwapConcurrent(t *testing.T) {
	tables := make([]*gateway.Table, 2)
	for i, id := range []string{"one", "two"} {
		tb, err := gateway.NewTable([]gateway.Route{{ID: id, Predicates: []gateway.Predicate{mustPath(t, "/**")}, Handler: upstream(id)}})
		if err != nil {
			t.Fatal(err)
		}
		tables[i] = tb
	}
	router := gateway.NewRouter(tables[0])
	ctx, cancel := context.WithCancel(context.Background())
	var swapper, callers sync.WaitGroup
	swapper.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			router.Swap(tables[i%2])
		}
	})
	for range 4 {
		callers.Go(func() {
			for range 2000 {
				if _, err := router.Lookup(ctx, grpcReq("/a/b")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	callers.Wait()
	cancel()
	swapper.Wait()
}
