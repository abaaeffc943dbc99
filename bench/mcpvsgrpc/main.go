// Command mcpvsgrpc calls the same GetUser implementation over MCP and over
// grpc-go, side by side in one process, and prints calls/s, p50 and p99 for
// each and the MCP/gRPC ratios.
//
//	go run ./bench/mcpvsgrpc -d 5s -runs 5
//
// One users.New() is served by an mcp.Server and by a grpc.Server, both on
// 127.0.0.1, with one client connection each (an mcp.Conn and a
// grpc.ClientConn). A phase drives one protocol from -callers concurrent
// goroutines (1 and 64 by default) for -d or -n calls, whichever comes
// first, after a -warmup that is not counted. Requests are 56 bytes and
// replies 65 (the 64-byte class). Each run does every callers level for both
// protocols back to back, in alternating order (MCP first in even runs, gRPC
// first in odd ones); the summary gives the median over -runs runs.
//
// Besides latency, each phase reports process-wide costs per call, from the
// runtime and the kernel: heap allocations (/gc/heap/allocs:objects),
// goroutines created, read and write system calls (/proc/self/io: syscr,
// syscw) and OS context switches (getrusage). Client and server share the
// process, so these count both sides.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/mcpbridge/mcpbridge/examples/userservice/users"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
)

func main() {
	var cfg config
	flag.DurationVar(&cfg.d, "d", 5*time.Second, "measured duration of each phase")
	flag.IntVar(&cfg.n, "n", 2_000_000, "at most this many calls per phase")
	flag.DurationVar(&cfg.warmup, "warmup", 500*time.Millisecond, "uncounted calls before each phase")
	flag.IntVar(&cfg.runs, "runs", 5, "runs; the summary shows medians")
	callers := flag.String("callers", "1,64", "comma-separated concurrent callers per phase")
	flag.Parse()
	for _, f := range strings.Split(*callers, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			fmt.Fprintf(os.Stderr, "mcpvsgrpc: bad -callers %q\n", *callers)
			os.Exit(2)
		}
		cfg.callers = append(cfg.callers, c)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "mcpvsgrpc:", err)
		os.Exit(1)
	}
}

type config struct {
	d, warmup time.Duration
	n, runs   int
	callers   []int
}

// The 64-byte-class payload (as in mcp/bench_test.go).
var (
	userID  = "bench-" + strings.Repeat("0", 47) + "1"
	request = &userv1.UserRequest{UserId: userID}
)

const (
	protoMCP  = "MCP"
	protoGRPC = "gRPC"
)

// result is one phase's numbers.
type result struct {
	calls                     int
	elapsed                   time.Duration
	p50, p99                  time.Duration
	allocs, goroutines        float64 // per call
	reads, writes, ctxSwitchs float64 // per call
}

func (r result) rate() float64 { return float64(r.calls) / r.elapsed.Seconds() }

func run(cfg config) error {
	svc := users.New()
	seed := &seedStream{reqs: []*userv1.ImportUserRequest{{UserId: userID, Name: "Bench", Age: 42}}}
	if err := svc.ImportUsers(seed); err != nil {
		return err
	}

	mlis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	msrv := mcp.NewServer()
	userv1.RegisterUserServiceServer(msrv, svc)
	go msrv.Serve(mlis)
	defer msrv.Close()

	glis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	gsrv := grpc.NewServer()
	userv1.RegisterUserServiceServer(gsrv, svc)
	go gsrv.Serve(glis)
	defer gsrv.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mconn, err := mcp.Dial(ctx, mlis.Addr().String())
	if err != nil {
		return err
	}
	defer mconn.Close()
	gconn, err := grpc.NewClient(glis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer gconn.Close()
	clients := map[string]userv1.UserServiceClient{
		protoMCP:  userv1.NewUserServiceClient(mconn),
		protoGRPC: userv1.NewUserServiceClient(gconn),
	}
	for name, cl := range clients {
		r, err := cl.GetUser(ctx, request)
		if err != nil || r.GetAge() != 42 {
			return fmt.Errorf("%s GetUser = %v, %v", name, r, err)
		}
		if name == protoMCP {
			fmt.Printf("payload: request %d bytes, reply %d bytes\n", proto.Size(request), proto.Size(r))
		}
	}
	fmt.Printf("%s, GOMAXPROCS=%d, NumCPU=%d; -d %v -n %d -warmup %v -runs %d\n\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), cfg.d, cfg.n, cfg.warmup, cfg.runs)

	// results[callers][proto] holds one result per run.
	results := map[int]map[string][]result{}
	for _, c := range cfg.callers {
		results[c] = map[string][]result{}
	}
	header := fmt.Sprintf("%-4s %-7s %-5s %10s %9s %9s %9s %9s %8s %8s %8s", "run", "callers", "proto", "calls/s", "p50", "p99", "allocs", "gorout.", "reads", "writes", "ctxsw")
	fmt.Println(header)
	fmt.Println(strings.Repeat("-", len(header)))
	for r := range cfg.runs {
		order := []string{protoMCP, protoGRPC}
		if r%2 == 1 {
			order = []string{protoGRPC, protoMCP}
		}
		for _, c := range cfg.callers {
			for _, p := range order {
				res, err := phase(clients[p], c, cfg)
				if err != nil {
					return fmt.Errorf("%s, %d callers: %w", p, c, err)
				}
				results[c][p] = append(results[c][p], res)
				fmt.Printf("%-4d %-7d %-5s %10.0f %9s %9s %9.1f %9.2f %8.2f %8.2f %8.2f\n", r+1, c, p, res.rate(),
					us(res.p50), us(res.p99), res.allocs, res.goroutines, res.reads, res.writes, res.ctxSwitchs)
			}
		}
	}

	fmt.Printf("\nmedians of %d runs (allocs, goroutines, reads, writes, ctxsw: per call, both sides)\n", cfg.runs)
	fmt.Println(strings.Repeat("-", len(header)))
	for _, c := range cfg.callers {
		for _, p := range []string{protoMCP, protoGRPC} {
			rs := results[c][p]
			fmt.Printf("%-4s %-7d %-5s %10.0f %9s %9s %9.1f %9.2f %8.2f %8.2f %8.2f\n", "med", c, p,
				median(rs, result.rate), us(time.Duration(median(rs, func(r result) float64 { return float64(r.p50) }))),
				us(time.Duration(median(rs, func(r result) float64 { return float64(r.p99) }))),
				median(rs, func(r result) float64 { return r.allocs }),
				median(rs, func(r result) float64 { return r.goroutines }),
				median(rs, func(r result) float64 { return r.reads }),
				median(rs, func(r result) float64 { return r.writes }),
				median(rs, func(r result) float64 { return r.ctxSwitchs }))
		}
	}
	fmt.Printf("\nMCP/gRPC ratios (median of the per-run ratios; runs pair the two protocols back to back)\n")
	fmt.Printf("%-7s %14s %10s %10s\n", "callers", "calls/s ratio", "p50 ratio", "p99 ratio")
	ratios := map[int][3]float64{}
	for _, c := range cfg.callers {
		m, g := results[c][protoMCP], results[c][protoGRPC]
		var rate, p50, p99 []float64
		for i := range m {
			rate = append(rate, m[i].rate()/g[i].rate())
			p50 = append(p50, float64(m[i].p50)/float64(g[i].p50))
			p99 = append(p99, float64(m[i].p99)/float64(g[i].p99))
		}
		ratios[c] = [3]float64{medianOf(rate), medianOf(p50), medianOf(p99)}
		fmt.Printf("%-7d %13.2fx %9.2fx %9.2fx\n", c, ratios[c][0], ratios[c][1], ratios[c][2])
	}
	fmt.Println()
	if r, ok := ratios[64]; ok {
		fmt.Printf("target: MCP calls/s at 64 callers >= 2x gRPC: %.2fx, %s\n", r[0], verdict(r[0] >= 2))
	}
	if r, ok := ratios[1]; ok {
		fmt.Printf("target: MCP p50 at 1 caller <= gRPC: %.2fx, %s\n", r[1], verdict(r[1] <= 1))
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func us(d time.Duration) string { return fmt.Sprintf("%.1fµs", float64(d)/1e3) }

func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return medianOf(v)
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// phase drives cl from callers goroutines: warm-up, then up to cfg.n calls
// within cfg.d.
func phase(cl userv1.UserServiceClient, callers int, cfg config) (result, error) {
	ctx := context.Background()
	call := func() error {
		r, err := cl.GetUser(ctx, request)
		if err == nil && r.GetAge() != 42 {
			err = fmt.Errorf("GetUser = %v", r)
		}
		return err
	}
	drive := func(d time.Duration, limit int, lat [][]time.Duration) (int, time.Duration, error) {
		var count atomic.Int64
		var wg sync.WaitGroup
		var firstErr atomic.Pointer[error]
		start := time.Now()
		stop := start.Add(d)
		for g := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for count.Add(1) <= int64(limit) {
					t0 := time.Now()
					if t0.After(stop) {
						count.Add(-1)
						return
					}
					if err := call(); err != nil {
						firstErr.CompareAndSwap(nil, &err)
						return
					}
					if lat != nil {
						lat[g] = append(lat[g], time.Since(t0))
					}
				}
				count.Add(-1)
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		if p := firstErr.Load(); p != nil {
			return 0, 0, *p
		}
		return int(count.Load()), elapsed, nil
	}
	if _, _, err := drive(cfg.warmup, cfg.n, nil); err != nil {
		return result{}, err
	}
	lat := make([][]time.Duration, callers)
	for g := range lat {
		lat[g] = make([]time.Duration, 0, cfg.n/callers+1)
	}
	runtime.GC()
	before := readCounters()
	n, elapsed, err := drive(cfg.d, cfg.n, lat)
	if err != nil {
		return result{}, err
	}
	after := readCounters()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return result{}, fmt.Errorf("no calls completed")
	}
	per := func(a, b float64) float64 { return (b - a) / float64(n) }
	return result{
		calls:      n,
		elapsed:    elapsed,
		p50:        all[len(all)*50/100],
		p99:        all[len(all)*99/100],
		allocs:     per(before.allocs, after.allocs),
		goroutines: per(before.goroutines, after.goroutines),
		reads:      per(before.reads, after.reads),
		writes:     per(before.writes, after.writes),
		ctxSwitchs: per(before.ctxsw, after.ctxsw),
	}, nil
}

// counters are process-wide event counts.
type counters struct{ allocs, goroutines, reads, writes, ctxsw float64 }

func readCounters() counters {
	var c counters
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		c.allocs = float64(s[0].Value.Uint64())
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		c.goroutines = float64(s[1].Value.Uint64())
	}
	if f, err := os.Open("/proc/self/io"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ": ")
			n, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "syscr":
				c.reads = n
			case "syscw":
				c.writes = n
			}
		}
		f.Close()
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.ctxsw = float64(ru.Nvcsw + ru.Nivcsw)
	}
	return c
}

// seedStream feeds ImportUsers in process.
type seedStream struct {
	grpc.ServerStream
	reqs []*userv1.ImportUserRequest
}

func (s *seedStream) Recv() (*userv1.ImportUserRequest, error) {
	if len(s.reqs) == 0 {
		return nil, io.EOF
	}
	r := s.reqs[0]
	s.reqs = s.reqs[1:]
	return r, nil
}

func (s *seedStream) SendAndClose(*userv1.ImportUsersResponse) error { return nil }
