package mcp_test

import (
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestClientStreamReplyWaitsForEnd: a server that sends a client-streaming
// call's reply as a STREAM frame and ends the call later (a proxy that does
// not know the method's shape) — RecvMsg returns only once the call has
// ended, as grpc-go's does, so Trailer is there when it returns.
func TestClientStreamReplyWaitsForEnd(t *testing.T) {
	sent := make(chan struct{})
	release := make(chan struct{})
	ts := startServer(t, nil, mcp.WithUnknownHandler(func(rs *mcp.RawStream) error {
		for {
			if _, err := rs.RecvMsg(); err != nil {
				break // io.EOF: the client half-closed
			}
		}
		reply, _ := proto.Marshal(wrapperspb.String("total"))
		if err := rs.SendMsg(reply); err != nil {
			return err
		}
		close(sent)
		<-release
		rs.SetTrailer(metadata.Pairs("x-count", "2"))
		return nil
	}))
	ctx := guardCtx(t)
	conn := dial(t, ts.addr)
	s, err := openStream(ctx, conn, "Import", true, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"a", "b"} {
		if err := s.SendMsg(wrapperspb.String(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	// The handler ends the call a while after it sent the reply. With a
	// correct client the timing does not matter (RecvMsg waits for the end
	// however long it takes); a client that returns at the reply would
	// return long before and miss the trailer.
	go func() {
		<-sent
		time.AfterFunc(50*time.Millisecond, func() { close(release) })
	}()
	out, err := recvString(s)
	if err != nil || out != "total" {
		t.Fatalf("RecvMsg = %q, %v", out, err)
	}
	if tr := s.Trailer().Get("x-count"); len(tr) != 1 || tr[0] != "2" {
		t.Fatalf("Trailer = %v, want x-count: 2", s.Trailer())
	}
}
