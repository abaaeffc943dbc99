package upstream_test

import (
	"io"
	"net"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/config"
	"github.com/mcpbridge/mcpbridge/gateway/mcpfront"
	"github.com/mcpbridge/mcpbridge/mcp"
)

type notified struct {
	path   string
	body   string
	notify bool
}

// TestNotifyForwardedAsNotify: an MCP client's NOTIFY through the MCP front
// door reaches an MCP backend as a NOTIFY, with its body and path, and
// nothing is answered.
func TestNotifyForwardedAsNotify(t *testing.T) {
	got := make(chan notified, 4)
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := mcp.NewServer(mcp.WithUnknownHandler(func(rs *mcp.RawStream) error {
		b, err := rs.RecvMsg()
		if err != nil {
			return err
		}
		got <- notified{path: rs.Path(), body: string(b), notify: rs.IsNotify()}
		return nil
	}))
	go func() { _ = backend.Serve(bl) }()
	defer backend.Close()

	u := newUpstream(t, config.Upstream{
		Name: "events", Protocol: "mcp", Balancer: "round_robin",
		Endpoints: []config.Endpoint{{Addr: bl.Addr().String(), Weight: 1}},
	})
	table, err := gateway.NewTable([]gateway.Route{{ID: "all", Upstream: "events", Handler: u}})
	if err != nil {
		t.Fatal(err)
	}
	fl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := mcpfront.NewServer(gateway.NewRouter(table))
	go func() { _ = front.Serve(fl) }()
	defer front.Close()

	ctx := guardCtx(t)
	mc, err := mcp.Dial(ctx, fl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	if err := mc.NotifyRaw(ctx, mcp.RawRequest{Path: "/events.v1.Events/Emit"}, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		want := notified{path: "/events.v1.Events/Emit", body: "hello", notify: true}
		if n != want {
			t.Fatalf("backend saw %+v, want %+v", n, want)
		}
	case <-ctx.Done():
		t.Fatal("the NOTIFY never reached the backend")
	}
}

// TestHalfClosedCallForwardedHalfClosed: a call whose client sent its one
// message with the half-close (an MCP unary call) reaches an MCP backend the
// same way, the message and END_STREAM in the REQUEST, so the backend's
// handler sees it half-closed, and the reply comes back.
func TestHalfClosedCallForwardedHalfClosed(t *testing.T) {
	type seenCall struct {
		halfClosed bool
		msgs       string
	}
	got := make(chan seenCall, 4)
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := mcp.NewServer(mcp.WithUnknownHandler(func(rs *mcp.RawStream) error {
		c := seenCall{halfClosed: rs.HalfClosed()}
		for {
			b, err := rs.RecvMsg()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			c.msgs += "[" + string(b) + "]"
		}
		got <- c
		return rs.SendMsg([]byte("re:" + c.msgs))
	}))
	go func() { _ = backend.Serve(bl) }()
	defer backend.Close()

	u := newUpstream(t, config.Upstream{
		Name: "svc", Protocol: "mcp", Balancer: "round_robin",
		Endpoints: []config.Endpoint{{Addr: bl.Addr().String(), Weight: 1}},
	})
	table, err := gateway.NewTable([]gateway.Route{{ID: "all", Upstream: "svc", Handler: u}})
	if err != nil {
		t.Fatal(err)
	}
	fl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := mcpfront.NewServer(gateway.NewRouter(table))
	go func() { _ = front.Serve(fl) }()
	defer front.Close()

	ctx := guardCtx(t)
	mc, err := mcp.Dial(ctx, fl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	out, err := mc.InvokeRaw(ctx, mcp.RawRequest{Path: "/svc.v1.Svc/Do"}, []byte("hello"))
	if err != nil || string(out) != "re:[hello]" {
		t.Fatalf("InvokeRaw = %q, %v", out, err)
	}
	if c := <-got; !c.halfClosed || c.msgs != "[hello]" {
		t.Fatalf("backend saw %+v, want half-closed with [hello]", c)
	}
}
