// Command idleconns measures what an idle MCP connection costs in memory:
// it opens -n connections to one mcp.Server, makes one GetUser call on each,
// lets them go idle, and reports the growth of the Go heap and stacks (after
// runtime.GC) per connection, on the server side and the client side.
//
//	go run ./bench/idleconns -n 10000
//
// The server runs in this process and the clients in a child process (this
// program again, with -role client): each side then holds n sockets, which
// fits the usual 20,000 file-descriptor hard limit that a process without
// CAP_SYS_RESOURCE cannot raise, and each side's memory is measured alone.
// Both raise their soft RLIMIT_NOFILE to fit n.
//
// Two rounds, each measured on both sides (docs/benchmarks.md has the
// results):
//
//   - tcp: n plain loopback TCP connections to a listener that only keeps the
//     accepted sockets (no goroutine per connection): what Go's socket objects
//     cost, the floor under any protocol;
//   - mcp: n mcp.Dial clients, each making one GetUser call, to an mcp.Server
//     serving users.New().
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/mcpbridge/mcpbridge/examples/userservice/users"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
)

func main() {
	n := flag.Int("n", 10000, "idle connections to open")
	settle := flag.Duration("settle", time.Second, "wait before each measurement")
	keepalive := flag.Duration("keepalive", mcp.DefaultKeepaliveInterval, "the server's heartbeat interval (mcp.WithKeepalive): a connection idle for two of them lets its handler worker end; with -keepalive 1s -settle 3s the measure is of connections idle that long")
	role := flag.String("role", "server", "server (runs the measurement) or client (the child it starts)")
	mode := flag.String("mode", "mcp", "client role: tcp or mcp")
	addr := flag.String("addr", "", "client role: the server's address")
	flag.Parse()
	var err error
	if *role == "client" {
		err = runClient(*mode, *addr, *n, *settle)
	} else {
		err = runServer(*n, *settle, *keepalive)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(1)
	}
}

// sample is the memory the process holds after a full GC.
type sample struct {
	Heap, Stack, Sys uint64
	Goroutines       int
}

func measure(settle time.Duration) sample {
	time.Sleep(settle)
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return sample{Heap: ms.HeapInuse, Stack: ms.StackInuse, Sys: ms.Sys, Goroutines: runtime.NumGoroutine()}
}

// PerConn is the growth between two samples per connection, in bytes.
type PerConn struct{ Heap, Stack, Sys, Goroutines float64 }

func (p PerConn) total() float64 { return p.Heap + p.Stack }

func delta(a, b sample, n int) PerConn {
	f := float64(n)
	return PerConn{
		Heap:       (float64(b.Heap) - float64(a.Heap)) / f,
		Stack:      (float64(b.Stack) - float64(a.Stack)) / f,
		Sys:        (float64(b.Sys) - float64(a.Sys)) / f,
		Goroutines: float64(b.Goroutines-a.Goroutines) / f,
	}
}

func (p PerConn) add(q PerConn) PerConn {
	return PerConn{p.Heap + q.Heap, p.Stack + q.Stack, p.Sys + q.Sys, p.Goroutines + q.Goroutines}
}

func raiseNoFile(want uint64) error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return err
	}
	if rl.Cur >= want {
		return nil
	}
	rl.Cur = want
	if rl.Max < want {
		rl.Max = want // needs CAP_SYS_RESOURCE
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE to %d: %w (raise the hard limit, ulimit -Hn)", want, err)
	}
	return nil
}

func runServer(n int, settle, keepalive time.Duration) error {
	if err := raiseNoFile(uint64(n + 1024)); err != nil {
		return err
	}
	fmt.Printf("idle connections: n=%d, %s, GOMAXPROCS=%d; one GetUser call per MCP connection, then idle %v (server heartbeat every %v)\n\n",
		n, runtime.Version(), runtime.GOMAXPROCS(0), settle, keepalive)

	// tcp: plain sockets, held.
	hold, err := newHoldListener()
	if err != nil {
		return err
	}
	s0 := measure(settle)
	tcpClient, err := withClient("tcp", hold.addr(), n, settle, func() error { return hold.waitFor(n) })
	if err != nil {
		return err
	}
	tcpServer := delta(s0, hold.measured, n)
	hold.close()

	// mcp: mcp.Dial clients to an mcp.Server.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := mcp.NewServer(mcp.WithKeepalive(mcp.KeepaliveParams{Interval: keepalive}))
	userv1.RegisterUserServiceServer(srv, users.New())
	go srv.Serve(lis)
	defer srv.Close()
	s2 := measure(settle)
	var s3 sample
	mcpClient, err := withClient("mcp", lis.Addr().String(), n, settle, func() error {
		s3 = measure(settle)
		return nil
	})
	if err != nil {
		return err
	}
	mcpServer := delta(s2, s3, n)

	fmt.Printf("%-30s %11s %11s %11s %11s %11s\n", "per connection", "heap", "stack", "heap+stack", "Sys", "goroutines")
	row := func(name string, p PerConn) {
		fmt.Printf("%-30s %11s %11s %11s %11s %11.2f\n", name, kib(p.Heap), kib(p.Stack), kib(p.total()), kib(p.Sys), p.Goroutines)
	}
	row("tcp, server side", tcpServer)
	row("tcp, client side", tcpClient)
	row("MCP, server side", mcpServer)
	row("MCP, client side", mcpClient)
	row("MCP, both sides", mcpServer.add(mcpClient))
	fmt.Printf("\ntarget <= 16 KiB per idle connection (heap+stack): server side %s; client side %s\n",
		verdict(mcpServer.total()), verdict(mcpClient.total()))
	return nil
}

// withClient starts the client child, runs measureServer once the child has
// opened its connections and measured itself, and then lets the child exit.
// It returns the child's cost per connection.
func withClient(mode, addr string, n int, settle time.Duration, measureServer func() error) (PerConn, error) {
	exe, err := os.Executable()
	if err != nil {
		return PerConn{}, err
	}
	cmd := exec.Command(exe, "-role=client", "-mode="+mode, "-addr="+addr, "-n="+strconv.Itoa(n), "-settle="+settle.String())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return PerConn{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return PerConn{}, err
	}
	if err := cmd.Start(); err != nil {
		return PerConn{}, err
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		return PerConn{}, fmt.Errorf("%s client: %w", mode, err)
	}
	var p PerConn
	if err := json.Unmarshal(line, &p); err != nil {
		return PerConn{}, fmt.Errorf("%s client said %q: %w", mode, line, err)
	}
	if err := measureServer(); err != nil {
		return PerConn{}, err
	}
	return p, nil
}

// runClient opens n connections, measures, prints the cost per connection
// as JSON and holds the connections until stdin closes.
func runClient(mode, addr string, n int, settle time.Duration) error {
	if err := raiseNoFile(uint64(n + 1024)); err != nil {
		return err
	}
	ctx := context.Background()
	s0 := measure(settle)
	var closers []io.Closer
	for range n {
		switch mode {
		case "tcp":
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return fmt.Errorf("after %d connections: %w", len(closers), err)
			}
			closers = append(closers, c)
		case "mcp":
			c, err := mcp.Dial(ctx, addr)
			if err != nil {
				return fmt.Errorf("after %d connections: %w", len(closers), err)
			}
			closers = append(closers, c)
			u, err := userv1.NewUserServiceClient(c).GetUser(ctx, &userv1.UserRequest{UserId: "1"})
			if err != nil || u.GetName() != "Alice" {
				return fmt.Errorf("GetUser = %v, %v", u, err)
			}
		default:
			return fmt.Errorf("unknown -mode %q", mode)
		}
	}
	s1 := measure(settle)
	b, err := json.Marshal(delta(s0, s1, n))
	if err != nil {
		return err
	}
	os.Stdout.Write(append(b, '\n'))
	io.Copy(io.Discard, os.Stdin)
	for _, c := range closers {
		c.Close()
	}
	return nil
}

func kib(b float64) string { return fmt.Sprintf("%.2f KiB", b/1024) }

func verdict(b float64) string {
	if b <= 16<<10 {
		return fmt.Sprintf("%.2f KiB, met", b/1024)
	}
	return fmt.Sprintf("%.2f KiB, NOT met", b/1024)
}

// holdListener accepts connections and keeps them, with no goroutine per
// connection.
type holdListener struct {
	lis      net.Listener
	mu       sync.Mutex
	conns    []net.Conn
	done     chan struct{}
	measured sample
}

func newHoldListener() (*holdListener, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &holdListener{lis: lis, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
		}
	}()
	return h, nil
}

func (h *holdListener) addr() string { return h.lis.Addr().String() }

// waitFor waits until n connections were accepted and measures.
func (h *holdListener) waitFor(n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		h.mu.Lock()
		got := len(h.conns)
		h.mu.Unlock()
		if got >= n {
			h.measured = measure(time.Second)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("accepted %d of %d connections", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *holdListener) close() {
	h.lis.Close()
	<-h.done
	h.mu.Lock()
	for _, c := range h.conns {
		c.Close()
	}
	h.conns = nil
	h.mu.Unlock()
}
