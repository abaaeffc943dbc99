// Command pubsubvsnats measures delivered messages per second through
// mcpbridge's publish/subscribe over MCP/1 and through NATS, side by side in
// one process, and prints the MCP/NATS ratio.
//
//	go run ./bench/pubsubvsnats -runs 5
//
// MCP: an mcp.Server serving an in-process bus (pubsub.NewLocal,
// mcp.WithBus) on 127.0.0.1; each subscriber is its own mcp.Conn with one
// Subscription (filter "bench/+/created") read by one goroutine; the
// publisher is one more mcp.Conn publishing fire-and-forget (Conn.Publish,
// seq_id 0) on "bench/eu/created". NATS: an embedded nats-server
// (github.com/nats-io/nats-server/v2, default options) on a random loopback
// port; each subscriber is its own nats.go connection with one async
// subscription ("bench.*.created"); the publisher is one more connection
// (nats.Conn.Publish on "bench.eu.created"). Both use default client and
// server options.
//
// A phase is one system, one fan-out (-fanout, 1 and 10 by default) and one
// payload size (-payload, 16 and 128 bytes): a fresh server and
// connections, a warm-up, then up to -n messages within -d. The publisher
// stays at most -window messages ahead of the slowest subscriber (below
// either system's default queue of 1024 per subscriber, so neither drops
// anything; -window 0 publishes unpaced and reports what was lost); while
// it is that far ahead it sleeps on a signal the subscribers send every 32
// messages, rather than spinning on the cores both systems share. The
// rate is delivered messages per second: a message that reaches ten
// subscribers counts ten. Each run measures every phase for both systems
// back to back, alternating which goes first; the summary gives medians
// over -runs runs and the median of the per-run MCP/NATS ratios. Allocations
// are heap objects per delivered message, both sides of the wire (client
// and server share the process).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	var cfg config
	fanouts := flag.String("fanout", "1,10", "comma-separated numbers of subscribers")
	payloads := flag.String("payload", "16,128", "comma-separated payload sizes in bytes")
	flag.IntVar(&cfg.n, "n", 1_000_000, "at most this many published messages per phase")
	flag.DurationVar(&cfg.d, "d", 3*time.Second, "at most this long publishing per phase")
	flag.IntVar(&cfg.window, "window", 512, "the publisher stays at most this many messages ahead of the slowest subscriber (0: unpaced)")
	flag.IntVar(&cfg.warmup, "warmup", 20_000, "messages published before each phase's clock starts")
	flag.IntVar(&cfg.runs, "runs", 5, "runs; the summary shows medians")
	flag.IntVar(&cfg.queue, "queue", 0, "MCP's per-subscription queues, server and client (0: the defaults, 1024)")
	flag.Parse()
	var err error
	if cfg.fanouts, err = ints(*fanouts); err != nil {
		fail("bad -fanout: %v", err)
	}
	if cfg.payloads, err = ints(*payloads); err != nil {
		fail("bad -payload: %v", err)
	}
	if cfg.n < 1 || cfg.runs < 1 || cfg.window < 0 || cfg.warmup < 0 || cfg.d <= 0 {
		fail("-n, -runs and -d must be positive, -window and -warmup not negative")
	}
	if err := run(cfg); err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pubsubvsnats: "+format+"\n", args...)
	os.Exit(1)
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q", s)
		}
		out = append(out, v)
	}
	return out, nil
}

type config struct {
	fanouts, payloads []int
	n, window, warmup int
	queue             int
	runs              int
	d                 time.Duration
}

type key struct{ fanout, payload int }

func run(cfg config) error {
	fmt.Printf("%s, GOMAXPROCS=%d, NumCPU=%d; -n %d -d %v -window %d -warmup %d -queue %d -runs %d\n\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), cfg.n, cfg.d, cfg.window, cfg.warmup, cfg.queue, cfg.runs)
	header := fmt.Sprintf("%-4s %-6s %-7s %-5s %12s %12s %10s %8s", "run", "fanout", "payload", "sys", "delivered/s", "published", "lost", "allocs")
	fmt.Println(header)
	fmt.Println(strings.Repeat("-", len(header)))
	results := map[key]map[string][]result{}
	for r := range cfg.runs {
		order := []string{sysMCP, sysNATS}
		if r%2 == 1 {
			order = []string{sysNATS, sysMCP}
		}
		for _, f := range cfg.fanouts {
			for _, p := range cfg.payloads {
				k := key{f, p}
				if results[k] == nil {
					results[k] = map[string][]result{}
				}
				for _, sys := range order {
					res, err := phase(sys, phaseConfig{fanout: f, payload: p, n: cfg.n, d: cfg.d, window: cfg.window, warmup: cfg.warmup, queue: cfg.queue})
					if err != nil {
						return fmt.Errorf("%s, fan-out %d, %d B: %w", sys, f, p, err)
					}
					results[k][sys] = append(results[k][sys], res)
					lost := uint64(res.published*f) - res.delivered
					fmt.Printf("%-4d %-6d %-7d %-5s %12.0f %12d %10d %8.2f\n", r+1, f, p, sys, res.rate(), res.published, lost, res.allocs)
				}
			}
		}
	}

	fmt.Printf("\nmedians of %d runs; ratio = median of the per-run MCP/NATS ratios\n", cfg.runs)
	sum := fmt.Sprintf("%-6s %-7s %14s %14s %8s %12s %12s", "fanout", "payload", "MCP msgs/s", "NATS msgs/s", "ratio", "MCP allocs", "NATS allocs")
	fmt.Println(sum)
	fmt.Println(strings.Repeat("-", len(sum)))
	for _, f := range cfg.fanouts {
		for _, p := range cfg.payloads {
			m, n := results[key{f, p}][sysMCP], results[key{f, p}][sysNATS]
			ratios := make([]float64, len(m))
			for i := range m {
				ratios[i] = m[i].rate() / n[i].rate()
			}
			fmt.Printf("%-6d %-7d %14.0f %14.0f %7.2fx %12.2f %12.2f\n", f, p,
				median(m, result.rate), median(n, result.rate), medianOf(ratios),
				median(m, func(r result) float64 { return r.allocs }),
				median(n, func(r result) float64 { return r.allocs }))
		}
	}
	return nil
}

func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return medianOf(v)
}

func medianOf(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
