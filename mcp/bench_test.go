package mcp_test

// Benchmarks of calls over one connection, MCP beside grpc-go on loopback in
// the same process, so that one benchstat command compares them:
//
//	go test -run '^$' -bench 'Unary|Stream|Notify' -count 6 ./mcp > bench.txt
//	benchstat -col .name -row /callers -filter '.name:(GRPCUnary OR MCPUnary)' bench.txt
//
// Client and server share the process, so allocs/op counts both sides. The
// *ServerOnly benchmarks drive a server with a raw client that writes
// pre-encoded frames and reads replies without allocating, so their allocs/op
// is the server's alone. docs/benchmarks.md explains the method and holds
// the results.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/mcpbridge/mcpbridge/examples/userservice/users"
	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
)

// The 64-byte-class payload: a GetUser request of 56 bytes for a user whose
// reply is 65 bytes.
var (
	benchUserID   = "bench-" + strings.Repeat("0", 47) + "1" // 54 bytes
	benchUserName = "Bench"
	benchRequest  = &userv1.UserRequest{UserId: benchUserID}
	benchReply    = &userv1.UserResponse{UserId: benchUserID, Name: benchUserName, Age: 42}
)

const getUserPath = "/user.v1.UserService/GetUser"

// benchService is a tiny service beside UserService: Stream answers a
// ListUsersRequest with Limit copies of benchReply (server streaming), Sink
// counts the calls it gets (the NOTIFY target).
type benchService struct {
	sunk atomic.Int64
}

var benchServiceDesc = grpc.ServiceDesc{
	ServiceName: "mcpbench.Bench",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Sink",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var req userv1.UserRequest
			if err := dec(&req); err != nil {
				return nil, err
			}
			srv.(*benchService).sunk.Add(1)
			return &userv1.ImportUsersResponse{}, nil
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Stream",
		ServerStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error {
			var req userv1.ListUsersRequest
			if err := ss.RecvMsg(&req); err != nil {
				return err
			}
			for range req.Limit {
				if err := ss.SendMsg(benchReply); err != nil {
					return err
				}
			}
			return nil
		},
	}},
}

// benchImpls is one set of implementations, served by both servers of a
// benchmark.
type benchImpls struct {
	users *users.Service
	bench *benchService
}

func newBenchImpls(b *testing.B) benchImpls {
	b.Helper()
	im := benchImpls{users: users.New(), bench: &benchService{}}
	// Seed the 64-byte-class user through the service's own API.
	seed := &seedStream{reqs: []*userv1.ImportUserRequest{{UserId: benchUserID, Name: benchUserName, Age: 42}}}
	if err := im.users.ImportUsers(seed); err != nil || seed.res.GetImported() != 1 {
		b.Fatalf("seeding: %v, %v", seed.res, err)
	}
	return im
}

// seedStream feeds ImportUsers in process.
type seedStream struct {
	grpc.ServerStream
	reqs []*userv1.ImportUserRequest
	res  *userv1.ImportUsersResponse
}

func (s *seedStream) Recv() (*userv1.ImportUserRequest, error) {
	if len(s.reqs) == 0 {
		return nil, io.EOF
	}
	r := s.reqs[0]
	s.reqs = s.reqs[1:]
	return r, nil
}

func (s *seedStream) SendAndClose(r *userv1.ImportUsersResponse) error { s.res = r; return nil }

func startBenchMCP(b *testing.B, im benchImpls) string {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := mcp.NewServer()
	userv1.RegisterUserServiceServer(srv, im.users)
	srv.RegisterService(&benchServiceDesc, im.bench)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	b.Cleanup(func() {
		srv.Close()
		<-done
	})
	return lis.Addr().String()
}

func dialBenchMCP(b *testing.B, addr string) *mcp.Conn {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := mcp.Dial(ctx, addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

func startBenchGRPC(b *testing.B, im benchImpls) string {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	userv1.RegisterUserServiceServer(srv, im.users)
	srv.RegisterService(&benchServiceDesc, im.bench)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	b.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String()
}

func dialBenchGRPC(b *testing.B, addr string) *grpc.ClientConn {
	b.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// benchCallers is the concurrency of the call benchmarks.
var benchCallers = []int{1, 64}

// runCallers runs b.N calls of call from callers goroutines sharing one
// counter, after a short warm-up, then drain (if not nil) inside the timer,
// and reports calls/s.
func runCallers(b *testing.B, callers int, call func() error, drain func()) {
	b.Helper()
	b.ReportAllocs()
	for range 100 {
		if err := call(); err != nil {
			b.Fatal(err)
		}
	}
	if drain != nil {
		drain()
	}
	b.ResetTimer()
	if callers == 1 {
		for range b.N {
			if err := call(); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		var firstErr atomic.Pointer[error]
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(b.N) {
					if err := call(); err != nil {
						firstErr.CompareAndSwap(nil, &err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if p := firstErr.Load(); p != nil {
			b.Fatal(*p)
		}
	}
	if drain != nil {
		drain()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// getUserCall returns one unary GetUser call over cc (MCP or grpc-go).
func getUserCall(cc grpc.ClientConnInterface) func() error {
	cl := userv1.NewUserServiceClient(cc)
	ctx := context.Background()
	return func() error {
		r, err := cl.GetUser(ctx, benchRequest)
		if err != nil {
			return err
		}
		if r.Age != 42 {
			return fmt.Errorf("GetUser = %v", r)
		}
		return nil
	}
}

// BenchmarkMCPUnary is one GetUser call (64-byte class) over one MCP
// connection, from 1 and 64 concurrent goroutines.
func BenchmarkMCPUnary(b *testing.B) {
	im := newBenchImpls(b)
	conn := dialBenchMCP(b, startBenchMCP(b, im))
	for _, n := range benchCallers {
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) { runCallers(b, n, getUserCall(conn), nil) })
	}
}

// BenchmarkGRPCUnary is BenchmarkMCPUnary over grpc-go.
func BenchmarkGRPCUnary(b *testing.B) {
	im := newBenchImpls(b)
	conn := dialBenchGRPC(b, startBenchGRPC(b, im))
	for _, n := range benchCallers {
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) { runCallers(b, n, getUserCall(conn), nil) })
	}
}

// streamCases are the server-streaming benchmarks' messages per call. The
// MCP client's per-call inbound queue holds DefaultStreamQueue (256)
// messages; when it is full the connection's reader waits for room (up to
// DefaultStreamQueueWait), so any stream works with the defaults. The
// 1000-message case keeps the 1024-message queue it has always been
// measured with, so that results stay comparable.
var streamCases = []struct {
	msgs  int
	queue int // MCP client's WithStreamQueue; 0 = default
}{{100, 0}, {1000, 1024}}

// runServerStream counts one op per message received, in calls of msgs
// messages each.
func runServerStream(b *testing.B, cc grpc.ClientConnInterface, msgs int) {
	b.ReportAllocs()
	ctx := context.Background()
	desc := &benchServiceDesc.Streams[0]
	var reply userv1.UserResponse
	call := func(n int) error {
		st, err := cc.NewStream(ctx, desc, "/mcpbench.Bench/Stream")
		if err != nil {
			return err
		}
		if err := st.SendMsg(&userv1.ListUsersRequest{Limit: int32(n)}); err != nil {
			return err
		}
		if err := st.CloseSend(); err != nil {
			return err
		}
		got := 0
		for {
			err := st.RecvMsg(&reply)
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			got++
		}
		if got != n {
			return fmt.Errorf("got %d messages, want %d", got, n)
		}
		return nil
	}
	if err := call(msgs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for left := b.N; left > 0; left -= msgs {
		if err := call(min(left, msgs)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkMCPServerStream is server streaming over MCP: each op is one
// 65-byte message.
func BenchmarkMCPServerStream(b *testing.B) {
	im := newBenchImpls(b)
	addr := startBenchMCP(b, im)
	for _, sc := range streamCases {
		b.Run(fmt.Sprintf("msgs=%d", sc.msgs), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var opts []mcp.DialOption
			if sc.queue > 0 {
				opts = append(opts, mcp.WithStreamQueue(sc.queue, 0))
			}
			conn, err := mcp.Dial(ctx, addr, opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			runServerStream(b, conn, sc.msgs)
		})
	}
}

// BenchmarkGRPCServerStream is BenchmarkMCPServerStream over grpc-go.
func BenchmarkGRPCServerStream(b *testing.B) {
	im := newBenchImpls(b)
	conn := dialBenchGRPC(b, startBenchGRPC(b, im))
	for _, sc := range streamCases {
		b.Run(fmt.Sprintf("msgs=%d", sc.msgs), func(b *testing.B) { runServerStream(b, conn, sc.msgs) })
	}
}

// BenchmarkMCPNotify sends NOTIFYs (64-byte class) from 1 and 64 goroutines
// and counts an op when the server's handler has run, so the rate is end to
// end, not just queueing.
func BenchmarkMCPNotify(b *testing.B) {
	im := newBenchImpls(b)
	conn := dialBenchMCP(b, startBenchMCP(b, im))
	ctx := context.Background()
	for _, n := range benchCallers {
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			var sent atomic.Int64
			base := im.bench.sunk.Load()
			notify := func() error {
				sent.Add(1)
				return conn.Notify(ctx, "/mcpbench.Bench/Sink", benchRequest)
			}
			drain := func() {
				deadline := time.Now().Add(30 * time.Second)
				for im.bench.sunk.Load()-base < sent.Load() {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d notifies handled", im.bench.sunk.Load()-base, sent.Load())
					}
					time.Sleep(20 * time.Microsecond)
				}
			}
			runCallers(b, n, notify, drain)
		})
	}
}

// Server-only benchmarks. A raw client keeps depth calls in flight: it writes
// depth pre-encoded requests in one write and reads the depth replies,
// allocating nothing per call itself (verified with -memprofile), so allocs/op
// is the server's alone.

var benchDepths = []int{1, 64}

// BenchmarkMCPUnaryServerOnly drives mcp.Server's GetUser with raw MCP/1
// frames.
func BenchmarkMCPUnaryServerOnly(b *testing.B) {
	im := newBenchImpls(b)
	addr := startBenchMCP(b, im)
	for _, depth := range benchDepths {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			c := dialRawMCP(b, addr, depth)
			runDepth(b, depth, c.calls)
		})
	}
}

// BenchmarkGRPCUnaryServerOnly drives grpc.Server's GetUser with raw HTTP/2
// frames.
func BenchmarkGRPCUnaryServerOnly(b *testing.B) {
	im := newBenchImpls(b)
	addr := startBenchGRPC(b, im)
	for _, depth := range benchDepths {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			c := dialRawH2(b, addr)
			runDepth(b, depth, c.calls)
		})
	}
}

// runDepth makes b.N calls in rounds of depth concurrent calls.
func runDepth(b *testing.B, depth int, calls func(n int) error) {
	b.ReportAllocs()
	for range 10 {
		if err := calls(depth); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for left := b.N; left > 0; left -= depth {
		if err := calls(min(left, depth)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// rawMCP is an MCP/1 client made of a socket, pre-encoded REQUEST frames
// and a frame.Decoder.
type rawMCP struct {
	nc    net.Conn
	dec   *frame.Decoder
	one   int    // size of one encoded request
	wire  []byte // depth requests, back to back
	seq   uint32
	reply frame.Frame
}

func dialRawMCP(b *testing.B, addr string, depth int) *rawMCP {
	b.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	body, err := proto.Marshal(benchRequest)
	if err != nil {
		b.Fatal(err)
	}
	meta := frame.Metadata(nil).Append(frame.KeyPath, getUserPath)
	c := &rawMCP{nc: nc, dec: frame.NewDecoder(nc)}
	for range depth {
		c.wire = frame.AppendFrame(c.wire, frame.Header{Type: frame.TypeRequest, Flags: frame.FlagEndStream}, meta, body)
	}
	c.one = len(c.wire) / depth
	return c
}

// calls makes n concurrent GetUser calls and checks every reply.
func (c *rawMCP) calls(n int) error {
	for i := range n {
		c.seq++
		binary.BigEndian.PutUint32(c.wire[i*c.one+8:], c.seq)
	}
	if _, err := c.nc.Write(c.wire[:n*c.one]); err != nil {
		return err
	}
	for range n {
		if err := c.dec.Decode(&c.reply); err != nil {
			return err
		}
		f := &c.reply
		if f.Type != frame.TypeResponse || f.Status != 0 || len(f.Body) != proto.Size(benchReply) || f.SeqID > c.seq || f.SeqID+uint32(n) <= c.seq {
			return fmt.Errorf("unexpected reply %+v", f.Header)
		}
	}
	return nil
}

// rawH2 is a gRPC client made of a socket, an http2.Framer for writing, a
// hand-rolled frame reader that reuses one buffer, and an hpack encoder
// whose dynamic table makes every request's header block a few indices
// after the first, as grpc-go's client does.
type rawH2 struct {
	nc     net.Conn
	bw     *bufio.Writer
	br     *bufio.Reader
	fr     *http2.Framer
	henc   *hpack.Encoder
	hbuf   bytes.Buffer
	fields []hpack.HeaderField
	msg    []byte // the gRPC-framed request
	next   uint32 // next stream id
	hdr    [9]byte
	rbuf   []byte
	recvd  int // DATA bytes since the last connection WINDOW_UPDATE
}

func dialRawH2(b *testing.B, addr string) *rawH2 {
	b.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	body, err := proto.Marshal(benchRequest)
	if err != nil {
		b.Fatal(err)
	}
	c := &rawH2{
		nc:   nc,
		bw:   bufio.NewWriterSize(nc, 64<<10),
		br:   bufio.NewReaderSize(nc, 64<<10),
		next: 1,
		rbuf: make([]byte, 16<<10),
		fields: []hpack.HeaderField{
			{Name: ":method", Value: "POST"},
			{Name: ":scheme", Value: "http"},
			{Name: ":path", Value: getUserPath},
			{Name: ":authority", Value: addr},
			{Name: "content-type", Value: "application/grpc"},
			{Name: "user-agent", Value: "grpc-go-raw-bench"},
			{Name: "te", Value: "trailers"},
		},
	}
	c.msg = append([]byte{0}, binary.BigEndian.AppendUint32(nil, uint32(len(body)))...)
	c.msg = append(c.msg, body...)
	c.fr = http2.NewFramer(c.bw, nil)
	c.henc = hpack.NewEncoder(&c.hbuf)
	if _, err := c.bw.WriteString(http2.ClientPreface); err != nil {
		b.Fatal(err)
	}
	if err := c.fr.WriteSettings(); err != nil {
		b.Fatal(err)
	}
	if err := c.fr.WriteWindowUpdate(0, 1<<30); err != nil {
		b.Fatal(err)
	}
	if err := c.bw.Flush(); err != nil {
		b.Fatal(err)
	}
	return c
}

// calls makes n concurrent GetUser calls (streams) and checks that each
// got one DATA frame of the expected size and ended.
func (c *rawH2) calls(n int) error {
	for range n {
		id := c.next
		c.next += 2
		c.hbuf.Reset()
		for _, f := range c.fields {
			if err := c.henc.WriteField(f); err != nil {
				return err
			}
		}
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndHeaders: true}); err != nil {
			return err
		}
		if err := c.fr.WriteData(id, true, c.msg); err != nil {
			return err
		}
	}
	if err := c.bw.Flush(); err != nil {
		return err
	}
	want := 5 + proto.Size(benchReply)
	ended, data := 0, 0
	for ended < n {
		typ, flags, sid, payload, err := c.readFrame()
		if err != nil {
			return err
		}
		switch typ {
		case http2.FrameHeaders:
			if flags.Has(http2.FlagHeadersEndStream) {
				ended++
			}
		case http2.FrameData:
			if len(payload) != want {
				return fmt.Errorf("stream %d: DATA of %d bytes, want %d", sid, len(payload), want)
			}
			data++
			c.recvd += len(payload)
			if c.recvd > 1<<28 {
				if err := c.fr.WriteWindowUpdate(0, uint32(c.recvd)); err != nil {
					return err
				}
				c.recvd = 0
			}
		case http2.FrameSettings:
			if !flags.Has(http2.FlagSettingsAck) {
				if err := c.fr.WriteSettingsAck(); err != nil {
					return err
				}
			}
		case http2.FramePing:
			if !flags.Has(http2.FlagPingAck) {
				var d [8]byte
				copy(d[:], payload)
				if err := c.fr.WritePing(true, d); err != nil {
					return err
				}
			}
		case http2.FrameRSTStream, http2.FrameGoAway:
			return fmt.Errorf("server sent %v on stream %d", typ, sid)
		}
	}
	if data != n {
		return fmt.Errorf("%d of %d calls answered with a message", data, n)
	}
	return c.bw.Flush()
}

func (c *rawH2) readFrame() (http2.FrameType, http2.Flags, uint32, []byte, error) {
	if _, err := io.ReadFull(c.br, c.hdr[:]); err != nil {
		return 0, 0, 0, nil, err
	}
	n := int(c.hdr[0])<<16 | int(c.hdr[1])<<8 | int(c.hdr[2])
	if n > len(c.rbuf) {
		return 0, 0, 0, nil, errors.New("frame larger than the read buffer")
	}
	p := c.rbuf[:n]
	if _, err := io.ReadFull(c.br, p); err != nil {
		return 0, 0, 0, nil, err
	}
	return http2.FrameType(c.hdr[3]), http2.Flags(c.hdr[4]), binary.BigEndian.Uint32(c.hdr[5:]) & 0x7fffffff, p, nil
}
