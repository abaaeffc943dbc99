package users_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/mcpbridge/mcpbridge/examples/userservice/users"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every RPC so that a bug fails the test instead of
// hanging it.
const testTimeout = 10 * time.Second

// serve runs svc on a real grpc-go server over an in-memory bufconn listener
// and returns a client connected to it. Everything is torn down when the test
// ends.
func serve(t *testing.T, svc userv1.UserServiceServer) userv1.UserServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	userv1.RegisterUserServiceServer(srv, svc)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return lis.DialContext(ctx)
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		srv.Stop()
		<-served
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Errorf("conn.Close: %v", err)
		}
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return userv1.NewUserServiceClient(conn)
}

func newClient(t *testing.T) userv1.UserServiceClient {
	t.Helper()
	return serve(t, users.New())
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails the test unless err carries the status code want
// (codes.OK meaning no error) and, if msg is non-empty, a message containing
// msg.
func wantCode(t *testing.T, err error, want codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v is not a gRPC status", err)
	}
	if st.Code() != want {
		t.Fatalf("code = %v (%v), want %v", st.Code(), err, want)
	}
	if msg != "" && !strings.Contains(st.Message(), msg) {
		t.Fatalf("message = %q, want it to contain %q", st.Message(), msg)
	}
}

type userRow struct {
	ID   string
	Name string
	Age  int32
}

func (r userRow) String() string { return fmt.Sprintf("%s=%s/%d", r.ID, r.Name, r.Age) }

func row(u *userv1.UserResponse) userRow {
	return userRow{ID: u.GetUserId(), Name: u.GetName(), Age: u.GetAge()}
}

// importUsers runs ImportUsers with the given entries and returns its
// result.
func importUsers(ctx context.Context, c userv1.UserServiceClient, entries []*userv1.ImportUserRequest) (*userv1.ImportUsersResponse, error) {
	stream, err := c.ImportUsers(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := stream.Send(e); err != nil {
			// The server ended the call early; CloseAndRecv reports why.
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
	}
	return stream.CloseAndRecv()
}

// listUsers runs ListUsers and collects the whole stream.
func listUsers(ctx context.Context, c userv1.UserServiceClient, limit int32) ([]userRow, error) {
	stream, err := c.ListUsers(ctx, &userv1.ListUsersRequest{Limit: limit})
	if err != nil {
		return nil, err
	}
	var rows []userRow
	for {
		u, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, row(u))
	}
}

func equalRows(a, b []userRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var (
	alice = userRow{"1", "Alice", 30}
	bob   = userRow{"2", "Bob", 25}
)

func TestGetUser(t *testing.T) {
	c := newClient(t)
	tests := []struct {
		name     string
		id       string
		want     userRow
		wantCode codes.Code
		wantMsg  string
	}{
		{name: "alice", id: "1", want: alice},
		{name: "bob", id: "2", want: bob},
		{name: "unknown", id: "3", wantCode: codes.NotFound, wantMsg: "user 3 not found"},
		{name: "unknown non-numeric", id: "nobody", wantCode: codes.NotFound, wantMsg: "user nobody not found"},
		{name: "leading zero is a different id", id: "01", wantCode: codes.NotFound},
		{name: "empty id", id: "", wantCode: codes.InvalidArgument, wantMsg: "user_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.GetUser(testContext(t), &userv1.UserRequest{UserId: tt.id})
			wantCode(t, err, tt.wantCode, tt.wantMsg)
			if err != nil {
				return
			}
			if row(got) != tt.want {
				t.Fatalf("GetUser(%q) = %v, want %v", tt.id, row(got), tt.want)
			}
		})
	}
}

func TestGetUserNotFoundExactMessage(t *testing.T) {
	c := newClient(t)
	_, err := c.GetUser(testContext(t), &userv1.UserRequest{UserId: "42"})
	if got, want := status.Convert(err).Message(), "user 42 not found"; got != want {
		t.Fatalf("message = %q, want %q", got, want)
	}
}

func TestListUsers(t *testing.T) {
	// Ids deliberately imported out of order, mixing numeric and
	// non-numeric ids.
	extra := []*userv1.ImportUserRequest{
		{UserId: "10", Name: "Judy", Age: 41},
		{UserId: "abc", Name: "Mallory", Age: 33},
		{UserId: "9", Name: "Ivan", Age: 22},
		{UserId: "B", Name: "Trent", Age: 50},
		{UserId: "007", Name: "Bond", Age: 45},
		{UserId: "100", Name: "Peggy", Age: 28},
		{UserId: "1a", Name: "Victor", Age: 19},
	}
	ordered := []userRow{
		alice, bob,
		{"007", "Bond", 45},
		{"9", "Ivan", 22},
		{"10", "Judy", 41},
		{"100", "Peggy", 28},
		{"1a", "Victor", 19},
		{"B", "Trent", 50},
		{"abc", "Mallory", 33},
	}
	tests := []struct {
		name     string
		seed     []*userv1.ImportUserRequest
		limit    int32
		want     []userRow
		wantCode codes.Code
	}{
		{name: "seed users, no limit", want: []userRow{alice, bob}},
		{name: "seed users, limit 1", limit: 1, want: []userRow{alice}},
		{name: "seed users, limit equals count", limit: 2, want: []userRow{alice, bob}},
		{name: "seed users, limit above count", limit: 100, want: []userRow{alice, bob}},
		{name: "mixed ids, no limit", seed: extra, want: ordered},
		{name: "mixed ids, limit 5", seed: extra, limit: 5, want: ordered[:5]},
		{name: "negative limit", limit: -1, wantCode: codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t)
			ctx := testContext(t)
			if len(tt.seed) > 0 {
				if _, err := importUsers(ctx, c, tt.seed); err != nil {
					t.Fatalf("ImportUsers: %v", err)
				}
			}
			got, err := listUsers(ctx, c, tt.limit)
			wantCode(t, err, tt.wantCode, "")
			if err != nil {
				return
			}
			if !equalRows(got, tt.want) {
				t.Fatalf("ListUsers(limit=%d) = %v, want %v", tt.limit, got, tt.want)
			}
		})
	}
}

func TestImportUsers(t *testing.T) {
	tests := []struct {
		name         string
		maxUsers     int // 0 = users.New()
		entries      []*userv1.ImportUserRequest
		wantImported int32
		wantCode     codes.Code
		wantMsg      string
		wantList     []userRow // the directory afterwards
	}{
		{
			name:     "empty stream",
			wantList: []userRow{alice, bob},
		},
		{
			name: "adds users",
			entries: []*userv1.ImportUserRequest{
				{UserId: "3", Name: "Carol", Age: 35},
				{UserId: "4", Name: "Dave", Age: 40},
			},
			wantImported: 2,
			wantList:     []userRow{alice, bob, {"3", "Carol", 35}, {"4", "Dave", 40}},
		},
		{
			name: "replaces existing and counts every entry",
			entries: []*userv1.ImportUserRequest{
				{UserId: "1", Name: "Alicia", Age: 31},
				{UserId: "3", Name: "Carol", Age: 35},
				{UserId: "3", Name: "Caroline", Age: 36},
			},
			wantImported: 3,
			wantList:     []userRow{{"1", "Alicia", 31}, bob, {"3", "Caroline", 36}},
		},
		{
			name: "empty user_id names the index",
			entries: []*userv1.ImportUserRequest{
				{UserId: "3", Name: "Carol", Age: 35},
				{UserId: "", Name: "Nobody"},
				{UserId: "4", Name: "Dave", Age: 40},
			},
			wantCode: codes.InvalidArgument,
			wantMsg:  "entry 1",
			wantList: []userRow{alice, bob, {"3", "Carol", 35}},
		},
		{
			name:     "capacity reached",
			maxUsers: 3,
			entries: []*userv1.ImportUserRequest{
				{UserId: "3", Name: "Carol", Age: 35},
				{UserId: "4", Name: "Dave", Age: 40},
			},
			wantCode: codes.ResourceExhausted,
			wantMsg:  "entry 1",
			wantList: []userRow{alice, bob, {"3", "Carol", 35}},
		},
		{
			name:     "replacing at capacity is allowed",
			maxUsers: 2,
			entries: []*userv1.ImportUserRequest{
				{UserId: "2", Name: "Robert", Age: 26},
			},
			wantImported: 1,
			wantList:     []userRow{alice, {"2", "Robert", 26}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := users.New()
			if tt.maxUsers > 0 {
				svc = users.NewWithMaxUsers(tt.maxUsers)
			}
			c := serve(t, svc)
			ctx := testContext(t)
			got, err := importUsers(ctx, c, tt.entries)
			wantCode(t, err, tt.wantCode, tt.wantMsg)
			if err == nil && got.GetImported() != tt.wantImported {
				t.Fatalf("imported = %d, want %d", got.GetImported(), tt.wantImported)
			}
			list, err := listUsers(ctx, c, 0)
			if err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			if !equalRows(list, tt.wantList) {
				t.Fatalf("after import, ListUsers = %v, want %v", list, tt.wantList)
			}
		})
	}
}

func TestChat(t *testing.T) {
	tests := []struct {
		name string
		msgs []*userv1.ChatMessage
	}{
		{name: "no messages"},
		{name: "one message", msgs: []*userv1.ChatMessage{{From: "alice", Text: "hi"}}},
		{name: "several messages", msgs: []*userv1.ChatMessage{
			{From: "alice", Text: "hi"},
			{From: "bob", Text: "hello"},
			{From: "", Text: ""},
			{From: "alice", Text: strings.Repeat("x", 64<<10)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/lockstep", func(t *testing.T) {
			c := newClient(t)
			stream, err := c.Chat(testContext(t))
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			for i, m := range tt.msgs {
				if err := stream.Send(m); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
				got, err := stream.Recv()
				if err != nil {
					t.Fatalf("Recv %d: %v", i, err)
				}
				if got.GetFrom() != m.GetFrom() || got.GetText() != m.GetText() {
					t.Fatalf("echo %d = (%q, %d bytes), want (%q, %d bytes)", i, got.GetFrom(), len(got.GetText()), m.GetFrom(), len(m.GetText()))
				}
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatalf("CloseSend: %v", err)
			}
			if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
				t.Fatalf("Recv after CloseSend = %v, want io.EOF", err)
			}
		})
		t.Run(tt.name+"/send all then receive", func(t *testing.T) {
			c := newClient(t)
			stream, err := c.Chat(testContext(t))
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			for i, m := range tt.msgs {
				if err := stream.Send(m); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatalf("CloseSend: %v", err)
			}
			for i, m := range tt.msgs {
				got, err := stream.Recv()
				if err != nil {
					t.Fatalf("Recv %d: %v", i, err)
				}
				if got.GetFrom() != m.GetFrom() || got.GetText() != m.GetText() {
					t.Fatalf("echo %d = (%q, %d bytes), want (%q, %d bytes)", i, got.GetFrom(), len(got.GetText()), m.GetFrom(), len(m.GetText()))
				}
			}
			if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
				t.Fatalf("Recv after all echoes = %v, want io.EOF", err)
			}
		})
	}
}

// fakeListStream is a server-side ListUsers stream driven directly, without
// a transport, so the test controls its context.
type fakeListStream struct {
	grpc.ServerStream // nil; only the methods below are used
	ctx               context.Context
	sent              []*userv1.UserResponse
}

func (s *fakeListStream) Context() context.Context { return s.ctx }

func (s *fakeListStream) Send(u *userv1.UserResponse) error {
	s.sent = append(s.sent, u)
	return nil
}

func TestListUsersStopsWhenContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	stream := &fakeListStream{ctx: ctx}
	err := users.New().ListUsers(&userv1.ListUsersRequest{}, stream)
	wantCode(t, err, codes.Canceled, "")
	if len(stream.sent) != 0 {
		t.Fatalf("sent %d users after the context was done, want 0", len(stream.sent))
	}
}

// TestConcurrentUse exercises the service from many goroutines at once; run
// it with -race.
func TestConcurrentUse(t *testing.T) {
	c := newClient(t)
	ctx := testContext(t)
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*3)
	for w := range workers {
		wg.Add(3)
		go func() {
			defer wg.Done()
			entries := make([]*userv1.ImportUserRequest, 20)
			for i := range entries {
				entries[i] = &userv1.ImportUserRequest{UserId: fmt.Sprintf("w%d-%d", w, i), Name: "n", Age: int32(i)}
			}
			if _, err := importUsers(ctx, c, entries); err != nil {
				errs <- fmt.Errorf("ImportUsers: %w", err)
			}
		}()
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := c.GetUser(ctx, &userv1.UserRequest{UserId: "1"}); err != nil {
					errs <- fmt.Errorf("GetUser: %w", err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := listUsers(ctx, c, 0); err != nil {
				errs <- fmt.Errorf("ListUsers: %w", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := listUsers(ctx, c, 0)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if got, want := len(list), 2+workers*20; got != want {
		t.Fatalf("ListUsers returned %d users, want %d", got, want)
	}
}

func BenchmarkGetUser(b *testing.B) {
	svc := users.New()
	ctx := context.Background()
	req := &userv1.UserRequest{UserId: "1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.GetUser(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
