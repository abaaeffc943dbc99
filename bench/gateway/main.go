// Command gateway measures what the gateway adds to a call: the same
// GetUser made by a client through the gateway to a backend, and by the same
// kind of client to the backend directly, side by side in one process, for
// both upstream protocols (issue 4).
//
//	go run ./bench/gateway -d 3s -runs 5
//
// One users.New() is served by a grpc.Server and by an mcp.Server on
// 127.0.0.1. A gateway (gateway/daemon, configured from a YAML string with
// port-0 listeners) has two upstreams, users-grpc (protocol grpc) and
// users-mcp (protocol mcp), and two routes: calls carrying dst_addr 0x0002
// (the mcp.DstAddr call option) go to users-mcp (Dst=0x0002), every other
// UserService call to users-grpc (Path=/user.v1.UserService/**). Each client
// kind has one connection per destination (the gateway's MCP front door, its
// gRPC front door, each backend); the gateway keeps its own one connection
// per upstream endpoint.
//
// Paths measured:
//
//	gRPC            gRPC client → gRPC backend (direct)
//	MCP>gw>gRPC     MCP client → gateway → gRPC backend
//	MCP             MCP client → MCP backend (direct)
//	MCP>gw>MCP      MCP client → gateway (dst_addr 0x0002) → MCP backend
//	gRPC>gw>gRPC    gRPC client → gateway → gRPC backend (extra)
//
// The targets pair MCP>gw>gRPC with gRPC, and MCP>gw>MCP with MCP:
// the gateway's added p50 at 1 caller ≤ 100 µs, and calls/s through the
// gateway at 64 callers ≥ 0.5× the direct figure. gRPC>gw>gRPC against gRPC
// is shown too.
//
// Before measuring, the command checks through the gateway's admin
// endpoint (/upstreams) that the routes sent the first calls to the
// upstreams they should.
//
// A phase drives one path from -callers concurrent goroutines (1 and 64 by
// default) for -d or -n calls, whichever comes first, after a -warmup that is
// not counted. Requests are 56 bytes and replies 65 (the 64-byte class, as
// bench/mcpvsgrpc). Each run does every path (-paths) for each callers level
// back to back, the order rotated by one path each run; the summary gives
// medians over -runs runs and the median of the per-run gateway/direct
// figures.
//
// Each phase also reports process-wide costs per call, from the runtime and
// the kernel: CPU time (user and system, getrusage), heap allocations,
// goroutines created, read and write system calls and OS context switches.
// Client, gateway and backends share the process, so these count all of
// them. CPU per call is the figure least disturbed by other load on the
// machine: with every party CPU-bound on the same cores, calls/s at 64
// callers tends to the ratio of the CPU per call (direct/gateway).
//
// -cpuprofile and -memprofile write profiles for go tool pprof; pick one
// path with -paths.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
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
	"github.com/mcpbridge/mcpbridge/gateway/builtin"
	"github.com/mcpbridge/mcpbridge/gateway/config"
	"github.com/mcpbridge/mcpbridge/gateway/daemon"
	"github.com/mcpbridge/mcpbridge/gateway/upstream"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
)

func main() {
	var cfg benchConfig
	flag.DurationVar(&cfg.d, "d", 3*time.Second, "measured duration of each phase")
	flag.IntVar(&cfg.n, "n", 2_000_000, "at most this many calls per phase")
	flag.DurationVar(&cfg.warmup, "warmup", 500*time.Millisecond, "uncounted calls before each phase")
	flag.IntVar(&cfg.runs, "runs", 5, "runs; the summary shows medians")
	callers := flag.String("callers", "1,64", "comma-separated concurrent callers per phase")
	paths := flag.String("paths", strings.Join(allPaths, ","), "comma-separated paths to measure")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (pick one path with -paths)")
	memprofile := flag.String("memprofile", "", "write an allocation profile (all allocations) to this file at the end")
	flag.Parse()
	for _, f := range strings.Split(*callers, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			fmt.Fprintf(os.Stderr, "gateway: bad -callers %q\n", *callers)
			os.Exit(2)
		}
		cfg.callers = append(cfg.callers, c)
	}
	for _, p := range strings.Split(*paths, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(allPaths, p) {
			fmt.Fprintf(os.Stderr, "gateway: unknown path %q (known: %s)\n", p, strings.Join(allPaths, ", "))
			os.Exit(2)
		}
		cfg.paths = append(cfg.paths, p)
	}
	if *memprofile != "" {
		runtime.MemProfileRate = 1
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gateway:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "gateway:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	err := run(cfg)
	if err == nil && *memprofile != "" {
		err = writeHeapProfile(*memprofile)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

type benchConfig struct {
	d, warmup time.Duration
	n, runs   int
	callers   []int
	paths     []string
}

// The 64-byte-class payload (as in bench/mcpvsgrpc and mcp/bench_test.go).
var (
	userID  = "bench-" + strings.Repeat("0", 47) + "1"
	request = &userv1.UserRequest{UserId: userID}
)

// The paths.
const (
	pathGRPC       = "gRPC"
	pathMCPgwGRPC  = "MCP>gw>gRPC"
	pathMCP        = "MCP"
	pathMCPgwMCP   = "MCP>gw>MCP"
	pathGRPCgwGRPC = "gRPC>gw>gRPC"
)

var allPaths = []string{pathGRPC, pathMCPgwGRPC, pathMCP, pathMCPgwMCP, pathGRPCgwGRPC}

// pairs are the comparisons: a path through the gateway and its direct
// reference. target marks the pairs.
var pairs = []struct {
	gw, direct string
	target     bool
}{
	{pathMCPgwGRPC, pathGRPC, true},
	{pathMCPgwMCP, pathMCP, true},
	{pathGRPCgwGRPC, pathGRPC, false},
}

// dstMCP is the dst_addr the gateway routes to the MCP upstream.
const dstMCP = 0x0002

// gatewayYAML is the gateway's configuration; the %s are the backends'
// addresses.
const gatewayYAML = `
server:
  watch_interval: 0s
  log: {level: error}
listeners:
  mcp: {addr: "127.0.0.1:0"}
  grpc: {addr: "127.0.0.1:0"}
  admin: {addr: "127.0.0.1:0"}
upstreams:
  users-grpc:
    protocol: grpc
    endpoints: ["%s"]
  users-mcp:
    protocol: mcp
    endpoints: ["%s"]
routes:
  - id: users-by-address
    uri: lb://users-mcp
    predicates: [Dst=0x0002]
  - id: users
    uri: lb://users-grpc
    predicates: [Path=/user.v1.UserService/**]
`

// result is one phase's numbers.
type result struct {
	calls                     int
	elapsed                   time.Duration
	p50, p99                  time.Duration
	allocs, goroutines        float64 // per call
	reads, writes, ctxSwitchs float64 // per call
	cpu                       float64 // process CPU time (user+system) per call, ns
}

func (r result) rate() float64 { return float64(r.calls) / r.elapsed.Seconds() }

// caller makes one GetUser call.
type caller func(ctx context.Context) (*userv1.UserResponse, error)

func run(cfg benchConfig) error {
	svc := users.New()
	seed := &seedStream{reqs: []*userv1.ImportUserRequest{{UserId: userID, Name: "Bench", Age: 42}}}
	if err := svc.ImportUsers(seed); err != nil {
		return err
	}

	// Backends.
	glis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	gsrv := grpc.NewServer()
	userv1.RegisterUserServiceServer(gsrv, svc)
	go gsrv.Serve(glis)
	defer gsrv.Stop()
	mlis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	msrv := mcp.NewServer()
	userv1.RegisterUserServiceServer(msrv, svc)
	go msrv.Serve(mlis)
	defer msrv.Close()

	// The gateway.
	reg := builtin.NewRegistry()
	yaml := fmt.Sprintf(gatewayYAML, glis.Addr(), mlis.Addr())
	gcfg, err := config.Parse("bench/gateway (embedded)", []byte(yaml), config.WithRegistry(reg))
	if err != nil {
		return err
	}
	gw, err := daemon.New(gcfg, daemon.Options{Registry: reg})
	if err != nil {
		return err
	}
	if err := gw.Start(); err != nil {
		return err
	}
	defer gw.Close()

	// Clients: one connection per destination.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dialMCP := func(addr string) (*mcp.Conn, error) { return mcp.Dial(ctx, addr) }
	dialGRPC := func(addr string) (*grpc.ClientConn, error) {
		return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	mDirect, err := dialMCP(mlis.Addr().String())
	if err != nil {
		return err
	}
	defer mDirect.Close()
	mGW, err := dialMCP(gw.Addr("mcp").String())
	if err != nil {
		return err
	}
	defer mGW.Close()
	gDirect, err := dialGRPC(glis.Addr().String())
	if err != nil {
		return err
	}
	defer gDirect.Close()
	gGW, err := dialGRPC(gw.Addr("grpc").String())
	if err != nil {
		return err
	}
	defer gGW.Close()

	toMCP := []grpc.CallOption{mcp.DstAddr{Addr: dstMCP}}
	stub := func(cc grpc.ClientConnInterface, opts []grpc.CallOption) caller {
		cl := userv1.NewUserServiceClient(cc)
		return func(ctx context.Context) (*userv1.UserResponse, error) { return cl.GetUser(ctx, request, opts...) }
	}
	callers := map[string]caller{
		pathGRPC:       stub(gDirect, nil),
		pathMCPgwGRPC:  stub(mGW, nil),
		pathMCP:        stub(mDirect, nil),
		pathMCPgwMCP:   stub(mGW, toMCP),
		pathGRPCgwGRPC: stub(gGW, nil),
	}
	for _, p := range allPaths {
		r, err := callers[p](ctx)
		if err != nil || r.GetAge() != 42 {
			return fmt.Errorf("%s: GetUser = %v, %v", p, r, err)
		}
		if p == pathGRPC {
			fmt.Printf("payload: request %d bytes, reply %d bytes\n", proto.Size(request), proto.Size(r))
		}
	}
	// Check that the routes sent each gateway path to its upstream: the
	// calls above made one attempt on users-mcp and two on users-grpc.
	if err := checkRoutes(ctx, gw.Addr("admin").String(), map[string]uint64{"users-grpc": 2, "users-mcp": 1}); err != nil {
		return err
	}
	fmt.Printf("%s, GOMAXPROCS=%d, NumCPU=%d; -d %v -n %d -warmup %v -runs %d\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), cfg.d, cfg.n, cfg.warmup, cfg.runs)
	fmt.Printf("gateway: mcp %s, grpc %s; backends: grpc %s, mcp %s\n\n", gw.Addr("mcp"), gw.Addr("grpc"), glis.Addr(), mlis.Addr())

	// results[callers][path] holds one result per run.
	results := map[int]map[string][]result{}
	for _, c := range cfg.callers {
		results[c] = map[string][]result{}
	}
	header := fmt.Sprintf("%-4s %-7s %-12s %10s %9s %9s %9s %8s %8s %7s %7s %7s", "run", "callers", "path", "calls/s", "p50", "p99", "CPU/call", "allocs", "gorout.", "reads", "writes", "ctxsw")
	fmt.Println(header)
	fmt.Println(strings.Repeat("-", len(header)))
	row := func(run string, c int, p string, calls float64, p50, p99 time.Duration, cpu, allocs, gor, reads, writes, ctxsw float64) {
		fmt.Printf("%-4s %-7d %-12s %10.0f %9s %9s %9s %8.1f %8.2f %7.2f %7.2f %7.2f\n", run, c, p, calls, us(p50), us(p99), us(dur(cpu)), allocs, gor, reads, writes, ctxsw)
	}
	for r := range cfg.runs {
		order := slices.Concat(cfg.paths[r%len(cfg.paths):], cfg.paths[:r%len(cfg.paths)])
		for _, c := range cfg.callers {
			for _, p := range order {
				res, err := phase(callers[p], c, cfg)
				if err != nil {
					return fmt.Errorf("%s, %d callers: %w", p, c, err)
				}
				results[c][p] = append(results[c][p], res)
				row(strconv.Itoa(r+1), c, p, res.rate(), res.p50, res.p99, res.cpu, res.allocs, res.goroutines, res.reads, res.writes, res.ctxSwitchs)
			}
		}
	}

	fmt.Printf("\nmedians of %d runs (CPU/call: process CPU time, user+system; it and allocs, goroutines, reads, writes, ctxsw are per call, client, gateway and backend together)\n", cfg.runs)
	fmt.Println(strings.Repeat("-", len(header)))
	for _, c := range cfg.callers {
		for _, p := range allPaths {
			rs := results[c][p]
			if len(rs) == 0 {
				continue
			}
			row("med", c, p, median(rs, result.rate), dur(median(rs, func(r result) float64 { return float64(r.p50) })),
				dur(median(rs, func(r result) float64 { return float64(r.p99) })),
				median(rs, func(r result) float64 { return r.cpu }),
				median(rs, func(r result) float64 { return r.allocs }),
				median(rs, func(r result) float64 { return r.goroutines }),
				median(rs, func(r result) float64 { return r.reads }),
				median(rs, func(r result) float64 { return r.writes }),
				median(rs, func(r result) float64 { return r.ctxSwitchs }))
		}
	}

	fmt.Printf("\ngateway against direct (median of the per-run figures; each run measures both)\n")
	fmt.Printf("%-7s %-12s %-6s %14s %12s %10s %12s %10s %15s\n", "callers", "gateway", "direct", "calls/s ratio", "added p50", "p50 ratio", "added p99", "p99 ratio", "direct/gw CPU")
	type cmp struct{ rate, addP50, p50, addP99, p99, cpu float64 }
	cmps := map[int]map[string]cmp{}
	for _, c := range cfg.callers {
		cmps[c] = map[string]cmp{}
		for _, pr := range pairs {
			g, d := results[c][pr.gw], results[c][pr.direct]
			if len(g) == 0 || len(d) == 0 {
				continue
			}
			var rate, addP50, p50, addP99, p99, cpu []float64
			for i := range g {
				rate = append(rate, g[i].rate()/d[i].rate())
				addP50 = append(addP50, float64(g[i].p50-d[i].p50))
				p50 = append(p50, float64(g[i].p50)/float64(d[i].p50))
				addP99 = append(addP99, float64(g[i].p99-d[i].p99))
				p99 = append(p99, float64(g[i].p99)/float64(d[i].p99))
				cpu = append(cpu, d[i].cpu/g[i].cpu)
			}
			m := cmp{medianOf(rate), medianOf(addP50), medianOf(p50), medianOf(addP99), medianOf(p99), medianOf(cpu)}
			cmps[c][pr.gw] = m
			fmt.Printf("%-7d %-12s %-6s %13.2fx %12s %9.2fx %12s %9.2fx %14.2fx\n", c, pr.gw, pr.direct, m.rate, us(dur(m.addP50)), m.p50, us(dur(m.addP99)), m.p99, m.cpu)
		}
	}
	fmt.Println()
	for _, pr := range pairs {
		label := "target"
		if !pr.target {
			label = "extra "
		}
		if m, ok := cmps[1][pr.gw]; ok {
			fmt.Printf("%s: %s added p50 at 1 caller <= 100µs (vs %s): %s, %s\n", label, pr.gw, pr.direct, us(dur(m.addP50)), verdict(m.addP50 <= 100e3))
		}
		if m, ok := cmps[64][pr.gw]; ok {
			fmt.Printf("%s: %s calls/s at 64 callers >= 0.5x %s: %.2fx, %s (CPU per call, direct/gateway: %.2fx)\n", label, pr.gw, pr.direct, m.rate, verdict(m.rate >= 0.5), m.cpu)
		}
	}
	return nil
}

// checkRoutes reads the gateway's /upstreams and checks the attempts made
// on each upstream's endpoints.
func checkRoutes(ctx context.Context, admin string, want map[string]uint64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/upstreams", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var ups []upstream.UpstreamStatus
	if err := json.NewDecoder(resp.Body).Decode(&ups); err != nil {
		return fmt.Errorf("admin /upstreams: %w", err)
	}
	got := map[string]uint64{}
	for _, u := range ups {
		for _, e := range u.Endpoints {
			got[u.Name] += e.Calls
		}
	}
	if !maps.Equal(got, want) {
		return fmt.Errorf("calls per upstream after the first calls: %v, want %v", got, want)
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func dur(f float64) time.Duration { return time.Duration(f) }

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

// phase drives call from callers goroutines: warm-up, then up to cfg.n
// calls within cfg.d.
func phase(call caller, callers int, cfg benchConfig) (result, error) {
	ctx := context.Background()
	one := func() error {
		r, err := call(ctx)
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
					if err := one(); err != nil {
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
		lat[g] = make([]time.Duration, 0, min(cfg.n/callers+1, 1<<20))
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
		cpu:        per(before.cpu, after.cpu),
	}, nil
}

// counters are process-wide event counts.
type counters struct{ allocs, goroutines, reads, writes, ctxsw, cpu float64 }

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
		c.cpu = float64(ru.Utime.Nano() + ru.Stime.Nano())
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
