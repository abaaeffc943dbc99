package mcp_test

// Tests of NOTIFY's framing and concurrency bound, GOAWAY refusals
// (IsRefused), streams longer than the inbound queue, and Backoff's jitter.

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mcpbridge/mcpbridge/examples/userservice/users"
	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// acceptRaw listens on loopback, dials a Conn there and returns the Conn
// and the raw server end of its connection.
func acceptRaw(t *testing.T, opts ...mcp.DialOption) (*mcp.Conn, *rawPeer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	conn := dial(t, l.Addr().String(), opts...)
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return conn, newRawPeer(t, nc)
}

// A NOTIFY is one message: like a unary REQUEST it carries END_STREAM, with
// seq_id 0 (PROTOCOL.md §2, §4).
func TestNotifyOnTheWire(t *testing.T) {
	conn, server := acceptRaw(t)
	if err := conn.Notify(guardCtx(t), testPath("Note"), wrapperspb.String("n"), mcp.DstAddr{Addr: 7}); err != nil {
		t.Fatal(err)
	}
	f := server.nextNonPing()
	if f.Type != frame.TypeNotify || f.Flags != frame.FlagEndStream || f.SeqID != 0 || f.DstAddr != 7 {
		t.Fatalf("got %v flags %#x seq %d dst %d; want NOTIFY flags END_STREAM seq 0 dst 7", f.Type, f.Flags, f.SeqID, f.DstAddr)
	}
	if got := metaString(f.Meta, frame.KeyPath); got != testPath("Note") {
		t.Fatalf(":path = %q", got)
	}
}

// NOTIFY handlers count against WithMaxConcurrentCalls: past the bound a
// NOTIFY is dropped (it cannot be answered) and counted, and while notifies
// hold the bound a REQUEST is answered RESOURCE_EXHAUSTED.
func TestNotifyBoundedByMaxConcurrentCalls(t *testing.T) {
	entered := make(chan string, 20)
	release := make(chan struct{})
	ts := startServer(t, registerTest(map[string]unaryFunc{
		"Hold": func(_ context.Context, in string) (string, error) {
			entered <- in
			<-release
			return "", nil
		},
		"Echo": echoFunc,
	}), mcp.WithMaxConcurrentCalls(2))
	conn := dial(t, ts.addr)
	ctx := guardCtx(t)
	for i := range 10 {
		if err := conn.Notify(ctx, testPath("Hold"), wrapperspb.String(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	// The server's reader answers the PING after it has handled every
	// NOTIFY before it.
	if _, err := conn.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if n := ts.DroppedNotifies(); n != 8 {
		t.Fatalf("DroppedNotifies = %d, want 8 (10 notifies, bound 2)", n)
	}
	recv(t, entered)
	recv(t, entered)
	if _, err := callString(ctx, conn, "Echo", "x"); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("call while 2 notifies run = %v, want RESOURCE_EXHAUSTED", err)
	}
	close(release)
	waitFor(t, "the notify handlers to end", func() bool {
		out, err := callString(ctx, conn, "Echo", "x")
		return err == nil && out == "x"
	})
	if len(entered) != 0 {
		t.Fatalf("%d more notify handlers ran", len(entered))
	}
	// The bound is free again for notifies too.
	if err := conn.Notify(ctx, testPath("Hold"), wrapperspb.String("after")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, entered); got != "after" {
		t.Fatalf("handler got %q", got)
	}
	if n := ts.DroppedNotifies(); n != 8 {
		t.Fatalf("DroppedNotifies = %d, want 8", n)
	}
}

// Calls above a GOAWAY's last accepted id end with an error IsRefused
// recognises (and ErrRefused matches), an UNAVAILABLE status: unary calls
// in flight and streams just opened alike. Run with -race, it also checks
// that a stream ended by the connection right after it opened does not race
// with NewStream setting it up.
func TestGoAwayRefusal(t *testing.T) {
	conn, server := acceptRaw(t)
	ctx := guardCtx(t)
	unary := make(chan error, 1)
	go func() {
		_, err := callString(ctx, conn, "Echo", "x")
		unary <- err
	}()
	if f := server.nextNonPing(); f.Type != frame.TypeRequest || f.SeqID != 1 {
		t.Fatalf("got %v seq %d, want REQUEST 1", f.Type, f.SeqID)
	}
	var streams []grpc.ClientStream
	for range 20 {
		s, err := openStream(ctx, conn, "Hold", true, true)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	// Streams keep opening while the GOAWAY arrives: with -race this checks
	// that a stream the GOAWAY ends as NewStream registers it is set up
	// before it can be ended (its context watcher).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := openStream(ctx, conn, "Hold", true, true); err != nil && !mcp.IsRefused(err) {
					t.Errorf("NewStream = %v", err)
					return
				}
			}
		})
	}
	server.send(frame.Header{Type: frame.TypeGoAway, SeqID: 0}, frame.Metadata(nil).Append(frame.KeyErrorMessage, "draining"), nil)
	defer func() {
		close(stop)
		wg.Wait()
	}()
	check := func(what string, err error) {
		t.Helper()
		if !mcp.IsRefused(err) || !errors.Is(err, mcp.ErrRefused) || status.Code(err) != codes.Unavailable {
			t.Fatalf("%s = %v (IsRefused %v), want a refused UNAVAILABLE", what, err, mcp.IsRefused(err))
		}
	}
	check("unary call", recv(t, unary))
	for i, s := range streams {
		_, err := recvString(s)
		check("stream "+strconv.Itoa(i), err)
	}
	for _, err := range []error{nil, io.EOF, status.Error(codes.Unavailable, "mcp: connection closed"),
		status.Error(codes.Unavailable, "call 3 was not processed and is safe to retry")} {
		if mcp.IsRefused(err) {
			t.Errorf("IsRefused(%v) = true", err)
		}
	}
}

// manyUsers is the example UserService with n users besides its two seeds,
// imported through its own API.
func manyUsers(t *testing.T, n int) *users.Service {
	t.Helper()
	svc := users.New()
	seed := &seedStream{}
	for i := range n {
		seed.reqs = append(seed.reqs, &userv1.ImportUserRequest{UserId: "u" + strconv.Itoa(i), Name: "User " + strconv.Itoa(i), Age: int32(i % 100)})
	}
	if err := svc.ImportUsers(seed); err != nil || seed.res.GetImported() != int32(n) {
		t.Fatalf("seeding: %v, %v", seed.res, err)
	}
	return svc
}

// A stream far longer than the inbound queue (DefaultStreamQueue) works
// with the defaults, both ways: 10,000 ListUsers replies to a client that
// reads as fast as it can, and 10,000 ImportUsers requests to a handler that
// does.
func TestLongStreamsWithDefaults(t *testing.T) {
	const n = 10_000
	svc := manyUsers(t, n)
	ts := startServer(t, func(s *mcp.Server) { userv1.RegisterUserServiceServer(s, svc) })
	conn := dial(t, ts.addr)
	client := userv1.NewUserServiceClient(conn)
	ctx := guardCtx(t)

	stream, err := client.ListUsers(ctx, &userv1.ListUsersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for {
		_, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d messages: %v", got, err)
		}
		got++
	}
	if got != n+2 {
		t.Fatalf("ListUsers streamed %d users, want %d", got, n+2)
	}

	up, err := client.ImportUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := up.Send(&userv1.ImportUserRequest{UserId: "v" + strconv.Itoa(i), Name: "V"}); err != nil {
			break // the status comes from CloseAndRecv
		}
	}
	res, err := up.CloseAndRecv()
	if err != nil || res.GetImported() != n {
		t.Fatalf("ImportUsers = %v, %v; want %d imported", res, err, n)
	}
}

// A client that never reads its server stream: the connection's reader
// waits DefaultStreamQueueWait for room, then ends the call with
// RESOURCE_EXHAUSTED (cancelling the handler); what was queued is still
// delivered, and a unary call on the same connection, held up by the wait,
// goes on after it. On a fake clock.
func TestStreamQueueWaitThenOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		handlerErr := make(chan error, 1)
		srv := mcp.NewServer()
		registerTest(map[string]unaryFunc{"Echo": echoFunc},
			streamMethod{name: "Flood", server: true, fn: func(ss grpc.ServerStream) error {
				if err := ss.RecvMsg(new(wrapperspb.StringValue)); err != nil {
					return err
				}
				for i := range 1000 {
					if err := ss.SendMsg(wrapperspb.String(strconv.Itoa(i))); err != nil {
						break
					}
				}
				<-ss.Context().Done()
				handlerErr <- ss.Context().Err()
				return nil
			}})(srv)
		lis, stop := servePipe(t, srv)
		defer stop()
		conn, err := mcp.Dial(t.Context(), "pipe", mcp.WithContextDialer(lis.Dial))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()

		s, err := openStream(t.Context(), conn, "Flood", false, true)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := s.SendMsg(wrapperspb.String("go")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the client's queue is full; its reader waits
		if out, err := callString(t.Context(), conn, "Echo", "fine"); err != nil || out != "fine" {
			t.Fatalf("Echo = %q, %v", out, err)
		}
		if d := time.Since(start); d != mcp.DefaultStreamQueueWait {
			t.Fatalf("Echo answered %v after the flood began, want %v (the reader's wait)", d, mcp.DefaultStreamQueueWait)
		}
		if err := <-handlerErr; err == nil {
			t.Fatal("handler not cancelled")
		}
		for i := range mcp.DefaultStreamQueue {
			if got, err := recvString(s); err != nil || got != strconv.Itoa(i) {
				t.Fatalf("message %d = %q, %v", i, got, err)
			}
		}
		if _, err := recvString(s); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("after the queue overflowed: %v, want RESOURCE_EXHAUSTED", err)
		}
	})
}

// Backoff{Jitter: NoJitter} redials on the exact schedule; Jitter 0 keeps
// the default. On a fake clock.
func TestBackoffNoJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := mcp.NewServer()
		lis, stop := servePipe(t, srv)
		defer stop()
		fn := &flakyNet{lis: lis}
		b := mcp.Backoff{Base: time.Second, Multiplier: 2, Jitter: mcp.NoJitter, Max: 8 * time.Second}
		conn, err := mcp.Dial(t.Context(), "pipe", mcp.WithContextDialer(fn.dial), mcp.WithBackoff(b))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		lost := time.Now()
		fn.kill()
		time.Sleep(25 * time.Second) // the outage, on the fake clock
		synctest.Wait()
		at := fn.attempts()[1:]
		want := []time.Duration{b.Base / 8} // the first redial after a loss
		for _, d := range []time.Duration{1, 2, 4, 8, 8} {
			want = append(want, d*time.Second)
		}
		var gaps []time.Duration
		prev := lost
		for _, a := range at {
			gaps = append(gaps, a.Sub(prev))
			prev = a
		}
		if !durationsEqual(gaps, want) {
			t.Fatalf("gaps between attempts %v, want exactly %v", gaps, want)
		}
	})
}
