package config_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway/builtin"
	"github.com/mcpbridge/mcpbridge/gateway/config"
)

const (
	watchA   = "upstreams: {users: {endpoints: [\"127.0.0.1:50051\"]}}\nroutes: [{id: a, uri: lb://users}]\n"
	watchB   = "upstreams: {users: {endpoints: [\"127.0.0.1:50051\"]}}\nroutes: [{id: b, uri: lb://users}]\n" // same size as A
	watchC   = "upstreams: {users: {endpoints: [\"127.0.0.1:50051\"]}}\nroutes: [{id: c, uri: lb://users, predicates: [Path=/c/**]}]\n"
	watchBad = "routes: [{id: bad, uri: lb://missing, predicates: [Hedaer=x]}]\n"
)

// event is one call of Watch's callback: a route id, or an error.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) fn(cfg *config.Config, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case err != nil:
		e.got = append(e.got, "error: "+err.Error())
	case len(cfg.Routes) > 0:
		e.got = append(e.got, "config: "+cfg.Routes[0].ID)
	default:
		e.got = append(e.got, "config: no routes")
	}
}

// take returns the events since the last take.
func (e *events) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	got := e.got
	e.got = nil
	return got
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replace writes content to a temporary file and renames it over path, as
// editors and deployment tools do.
func replace(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	write(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestWatch drives Watch through edits, in fake time: after each change one
// poll interval passes and the callback has seen exactly what changed.
func TestWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 5 * time.Second
		dir := t.TempDir()
		path := filepath.Join(dir, "gateway.yaml")
		write(t, path, watchA)
		reg := builtin.NewRegistry()
		current, err := config.Load(path, config.WithRegistry(reg))
		if err != nil {
			t.Fatal(err)
		}

		ev := &events{}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- config.Watch(ctx, path, current, ev.fn, config.WithRegistry(reg), config.WithPollInterval(interval))
		}()
		step := func(what string, want ...string) {
			t.Helper()
			time.Sleep(interval)
			synctest.Wait()
			got := ev.take()
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("%s: callbacks = %q, want %q", what, got, want)
			}
		}

		synctest.Wait()
		if got := ev.take(); len(got) != 0 {
			t.Fatalf("callbacks at start, with the current config: %q", got)
		}
		step("nothing changed")

		now := time.Now().Add(time.Hour)
		if err := os.Chtimes(path, now, now); err != nil {
			t.Fatal(err)
		}
		step("touched, same content")

		write(t, path, watchB)
		step("same size, new content", "config: b")

		replace(t, path, watchC)
		step("replaced by rename", "config: c")

		write(t, path, watchBad)
		step("bad config", "error: "+strings.Join([]string{
			path + `:1:25: routes[0].uri: unknown upstream "missing" (known: none)`,
			path + `:1:52: routes[0].predicates[0]: unknown predicate "Hedaer" (known: Dst, Header, Method, Path, Weight)`,
		}, "\n"))
		step("still bad, nothing new")

		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		time.Sleep(interval)
		synctest.Wait()
		if got := ev.take(); len(got) != 1 || !strings.Contains(got[0], "no such file") {
			t.Fatalf("removed: callbacks = %q, want one error", got)
		}
		step("still missing, reported once")

		write(t, path, watchA)
		step("back", "config: a")

		cancel()
		synctest.Wait()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Watch() = %v, want context.Canceled", err)
		}
	})
}

// TestWatchNoCurrent: without a current Config, the first poll delivers the
// file as it is.
func TestWatchNoCurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "gateway.yaml")
		write(t, path, watchA)
		ev := &events{}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- config.Watch(ctx, path, nil, ev.fn) }()
		synctest.Wait()
		if got := ev.take(); len(got) != 1 || got[0] != "config: a" {
			t.Fatalf("callbacks = %q, want the file's config", got)
		}
		cancel()
		<-done
	})
}

func TestWatchNilFunc(t *testing.T) {
	if err := config.Watch(context.Background(), "x.yaml", nil, nil); err == nil {
		t.Fatal("Watch(nil fn) succeeded")
	}
}
