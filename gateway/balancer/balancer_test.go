package balancer_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ep is a test endpoint.
type ep struct {
	name   string
	weight int
	load   atomic.Int64
}

func (e *ep) Weight() int     { return e.weight }
func (e *ep) InFlight() int64 { return e.load.Load() }

func eps(weights ...int) []*ep {
	out := make([]*ep, len(weights))
	for i, w := range weights {
		out[i] = &ep{name: string(rune('a' + i)), weight: w}
	}
	return out
}

// seeded returns a deterministic random source.
func seeded(seed uint64) func(int) int {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var mu sync.Mutex
	return func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		return r.IntN(n)
	}
}

func spread(t *testing.T, p balancer.Picker[*ep], set []*ep, picks int) (map[string]int, string) {
	t.Helper()
	counts := map[string]int{}
	var seq strings.Builder
	for range picks {
		e, err := p.Pick(context.Background(), set)
		if err != nil {
			t.Fatal(err)
		}
		counts[e.name]++
		if seq.Len() < 16 {
			seq.WriteString(e.name)
		}
	}
	return counts, seq.String()
}

func TestSpread(t *testing.T) {
	tests := []struct {
		name    string
		picker  func() balancer.Picker[*ep]
		weights []int
		loads   []int64
		picks   int
		want    map[string]int // exact counts, or centres when tol > 0
		tol     float64        // relative tolerance; 0 = exact
		prefix  string         // expected start of the sequence, "" = any
	}{
		{
			name:    "round_robin exact",
			picker:  balancer.NewRoundRobin[*ep],
			weights: []int{1, 1, 1},
			picks:   300,
			want:    map[string]int{"a": 100, "b": 100, "c": 100},
			prefix:  "abcabcabc",
		},
		{
			name:    "round_robin ignores weights",
			picker:  balancer.NewRoundRobin[*ep],
			weights: []int{5, 1},
			picks:   400,
			want:    map[string]int{"a": 200, "b": 200},
		},
		{
			name:    "weighted_round_robin 3:1 exact",
			picker:  balancer.NewWeightedRoundRobin[*ep],
			weights: []int{3, 1},
			picks:   400,
			want:    map[string]int{"a": 300, "b": 100},
			prefix:  "aabaaaba",
		},
		{
			name:    "weighted_round_robin smooth 5:1:1 (nginx's example)",
			picker:  balancer.NewWeightedRoundRobin[*ep],
			weights: []int{5, 1, 1},
			picks:   700,
			want:    map[string]int{"a": 500, "b": 100, "c": 100},
			prefix:  "aabacaa",
		},
		{
			name:    "weighted_round_robin equal weights is round robin",
			picker:  balancer.NewWeightedRoundRobin[*ep],
			weights: []int{1, 1, 1},
			picks:   300,
			want:    map[string]int{"a": 100, "b": 100, "c": 100},
			prefix:  "abcabc",
		},
		{
			name:    "weighted_round_robin weight below 1 counts as 1",
			picker:  balancer.NewWeightedRoundRobin[*ep],
			weights: []int{0, 1},
			picks:   100,
			want:    map[string]int{"a": 50, "b": 50},
		},
		{
			name:    "least_request of two always takes the less loaded",
			picker:  func() balancer.Picker[*ep] { return balancer.NewLeastRequest[*ep](balancer.WithRandom(seeded(1))) },
			weights: []int{1, 1},
			loads:   []int64{5, 1},
			picks:   1000,
			want:    map[string]int{"b": 1000},
		},
		{
			name:    "least_request prefers the idle one whenever it is drawn",
			picker:  func() balancer.Picker[*ep] { return balancer.NewLeastRequest[*ep](balancer.WithRandom(seeded(2))) },
			weights: []int{1, 1, 1},
			loads:   []int64{3, 0, 3},
			picks:   30000,
			// b is in 2 of the 3 possible pairs; a and c share the third.
			want: map[string]int{"a": 5000, "b": 20000, "c": 5000},
			tol:  0.05,
		},
		{
			name:    "least_request with equal loads is uniform",
			picker:  func() balancer.Picker[*ep] { return balancer.NewLeastRequest[*ep](balancer.WithRandom(seeded(3))) },
			weights: []int{1, 1, 1, 1},
			picks:   40000,
			want:    map[string]int{"a": 10000, "b": 10000, "c": 10000, "d": 10000},
			tol:     0.05,
		},
		{
			name:    "random is uniform",
			picker:  func() balancer.Picker[*ep] { return balancer.NewRandom[*ep](balancer.WithRandom(seeded(4))) },
			weights: []int{1, 9, 1, 1},
			picks:   40000,
			want:    map[string]int{"a": 10000, "b": 10000, "c": 10000, "d": 10000},
			tol:     0.05,
		},
		{
			name:    "a single endpoint is always picked",
			picker:  func() balancer.Picker[*ep] { return balancer.NewLeastRequest[*ep]() },
			weights: []int{1},
			loads:   []int64{100},
			picks:   10,
			want:    map[string]int{"a": 10},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := eps(tt.weights...)
			for i, l := range tt.loads {
				set[i].load.Store(l)
			}
			got, seq := spread(t, tt.picker(), set, tt.picks)
			if !strings.HasPrefix(seq, tt.prefix) {
				t.Errorf("sequence %q, want prefix %q", seq, tt.prefix)
			}
			for name, want := range tt.want {
				g := got[name]
				if tt.tol == 0 && g != want || tt.tol > 0 && (float64(g) < float64(want)*(1-tt.tol) || float64(g) > float64(want)*(1+tt.tol)) {
					t.Errorf("%s picked %d times, want %d (±%.0f%%); all: %v", name, g, want, tt.tol*100, got)
				}
			}
			for name, g := range got {
				if _, ok := tt.want[name]; !ok {
					t.Errorf("%s picked %d times, want 0", name, g)
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, name := range []string{balancer.RoundRobin, balancer.WeightedRoundRobin, balancer.LeastRequest, balancer.Random} {
		t.Run(name, func(t *testing.T) {
			p, err := balancer.New[*ep](name, balancer.WithRandom(seeded(5)))
			if err != nil {
				t.Fatal(err)
			}
			set := eps(1, 1)
			if e, err := p.Pick(context.Background(), set); err != nil || e == nil {
				t.Fatalf("Pick = %v, %v", e, err)
			}
			_, err = p.Pick(context.Background(), nil)
			if !errors.Is(err, balancer.ErrNoEndpoint) || status.Code(err) != codes.Unavailable {
				t.Fatalf("Pick(empty) = %v, want ErrNoEndpoint carrying UNAVAILABLE", err)
			}
			if allocs := testing.AllocsPerRun(100, func() { _, _ = p.Pick(context.Background(), set) }); allocs != 0 {
				t.Errorf("Pick allocates %.1f times", allocs)
			}
		})
	}
	if _, err := balancer.New[*ep]("fastest"); err == nil {
		t.Fatal(`New("fastest") succeeded`)
	}
}

// TestWeightedRoundRobinSnapshot: a new snapshot restarts the sequence, and
// the same slice continues it.
func TestWeightedRoundRobinSnapshot(t *testing.T) {
	p := balancer.NewWeightedRoundRobin[*ep]()
	one := eps(1, 3)
	if _, seq := spread(t, p, one, 2); seq != "ba" {
		t.Fatalf("first two picks %q, want \"ba\"", seq)
	}
	// The same slice continues the sequence: b a | b b.
	if _, seq := spread(t, p, one, 2); seq != "bb" {
		t.Fatalf("next two picks %q, want \"bb\"", seq)
	}
	// Another slice (same weights) restarts it: b a again.
	if _, seq := spread(t, p, eps(1, 3), 2); seq != "ba" {
		t.Fatalf("on a new snapshot %q, want \"ba\"", seq)
	}
	// A shorter view of the same array is another snapshot too.
	if _, seq := spread(t, p, one[:1], 2); seq != "aa" {
		t.Fatalf("single endpoint: %q", seq)
	}
}

// TestConcurrentPicks: pickers are safe for concurrent use and round robin
// stays exact under contention.
func TestConcurrentPicks(t *testing.T) {
	for _, name := range []string{balancer.RoundRobin, balancer.WeightedRoundRobin, balancer.LeastRequest, balancer.Random} {
		t.Run(name, func(t *testing.T) {
			p, err := balancer.New[*ep](name)
			if err != nil {
				t.Fatal(err)
			}
			set := eps(1, 1, 1, 1)
			var counts [4]atomic.Int64
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range 1000 {
						e, err := p.Pick(context.Background(), set)
						if err != nil {
							t.Error(err)
							return
						}
						e.load.Add(1)
						counts[e.name[0]-'a'].Add(1)
						e.load.Add(-1)
					}
				})
			}
			wg.Wait()
			var total int64
			for i := range counts {
				n := counts[i].Load()
				total += n
				if (name == balancer.RoundRobin || name == balancer.WeightedRoundRobin) && n != 2000 {
					t.Errorf("endpoint %d picked %d times, want 2000", i, n)
				}
			}
			if total != 8000 {
				t.Fatalf("%d picks, want 8000", total)
			}
		})
	}
}

// TestBadRandomSource: a source out of its contract does not make Pick
// index out of range.
func TestBadRandomSource(t *testing.T) {
	bad := balancer.WithRandom(func(n int) int { return n + 7 })
	set := eps(1, 1, 1)
	for _, p := range []balancer.Picker[*ep]{balancer.NewLeastRequest[*ep](bad), balancer.NewRandom[*ep](bad)} {
		if _, err := p.Pick(context.Background(), set); err != nil {
			t.Fatal(err)
		}
	}
}
