package mcp_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
)

// 10,000 calls are open at once on one connection, from 10,000 goroutines,
// and each gets its own answer. The handler holds every call until all of
// them have arrived, so the server really has 10,000 calls open on the
// connection at the same moment.
func TestTenThousandConcurrentCalls(t *testing.T) {
	const n = 10_000
	var arrived atomic.Int64
	all := make(chan struct{})
	ts := startServer(t, registerTest(map[string]unaryFunc{
		"Echo": func(ctx context.Context, in string) (string, error) {
			if arrived.Add(1) == n {
				close(all)
			}
			select {
			case <-all:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			return "re:" + in, nil
		},
	}))
	conn := dial(t, ts.addr)
	ctx := guardCtx(t)

	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			in := strconv.Itoa(i)
			out, err := callString(ctx, conn, "Echo", in)
			if err != nil || out != "re:"+in {
				errs <- fmt.Errorf("call %d = %q, %v", i, out, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	bad := 0
	for err := range errs {
		if bad++; bad <= 5 {
			t.Error(err)
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d calls failed", bad, n)
	}
	if got := ts.lis.accepted.Load(); got != 1 {
		t.Fatalf("server accepted %d connections, want 1", got)
	}
}

// The same through the generated client of the example service, with
// streams mixed in: imported users are read back by many goroutines, each
// asking for a different id, while Chat streams run beside them.
func TestConcurrentGeneratedCalls(t *testing.T) {
	addr, _ := startUsers(t)
	conn := dial(t, addr)
	cl := userv1.NewUserServiceClient(conn)
	ctx := guardCtx(t)

	// Imported in batches below the server's inbound queue bound
	// (DefaultStreamQueue): MCP/1 has no per-call flow control, so a client
	// that streams faster than the handler reads overruns the queue and the
	// call ends RESOURCE_EXHAUSTED (PROTOCOL.md §8).
	const users, batch = 1000, 200
	for start := 0; start < users; start += batch {
		imp, err := cl.ImportUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := start; i < start+batch; i++ {
			id := strconv.Itoa(100 + i)
			if err := imp.Send(&userv1.ImportUserRequest{UserId: id, Name: "user-" + id, Age: int32(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if res, err := imp.CloseAndRecv(); err != nil || res.Imported != batch {
			t.Fatalf("ImportUsers = %v, %v", res, err)
		}
	}

	const callers = 50
	var wg sync.WaitGroup
	errs := make(chan error, callers*2)
	for c := range callers {
		wg.Go(func() {
			for i := c; i < users; i += callers {
				id := strconv.Itoa(100 + i)
				u, err := cl.GetUser(ctx, &userv1.UserRequest{UserId: id})
				if err != nil || u.UserId != id || u.Name != "user-"+id || u.Age != int32(i) {
					errs <- fmt.Errorf("GetUser(%s) = %v, %v", id, u, err)
					return
				}
			}
		})
		wg.Go(func() {
			chat, err := cl.Chat(ctx)
			if err != nil {
				errs <- err
				return
			}
			for i := range 20 {
				txt := fmt.Sprintf("%d/%d", c, i)
				if err := chat.Send(&userv1.ChatMessage{From: "c", Text: txt}); err != nil {
					errs <- err
					return
				}
				m, err := chat.Recv()
				if err != nil || m.Text != txt {
					errs <- fmt.Errorf("chat %s = %v, %v", txt, m, err)
					return
				}
			}
			chat.CloseSend()
			if _, err := chat.Recv(); err == nil {
				errs <- fmt.Errorf("chat %d: a message after the end", c)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
