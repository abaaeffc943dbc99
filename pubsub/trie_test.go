package pubsub

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// matched returns the filters of the subscriptions on b that the trie
// matches for topic, one entry per subscription.
func (b *Local) matched(topic string) map[*localSub]bool {
	ms := new(matchSet)
	ms.dollar = topic[0] == '$'
	b.shards.lock()
	defer b.shards.unlock()
	b.root.match(topic, 0, true, ms)
	got := make(map[*localSub]bool)
	for _, list := range ms.subs {
		for _, s := range list {
			if got[s] {
				panic("subscription matched twice: " + s.filter)
			}
			got[s] = true
		}
	}
	for _, ng := range ms.groups {
		for _, s := range ng.members {
			if got[s] {
				panic("subscription matched twice: " + s.filter)
			}
			got[s] = true
		}
	}
	return got
}

func randomName(r *rand.Rand, wild bool) string {
	levels := []string{"a", "b", "", "$x", "c d"}
	n := 1 + r.IntN(4)
	var parts []string
	for i := range n {
		switch k := r.IntN(10); {
		case wild && k == 0:
			parts = append(parts, "+")
		case wild && k == 1 && i == n-1:
			parts = append(parts, "#")
		default:
			parts = append(parts, levels[r.IntN(len(levels))])
		}
	}
	if name := strings.Join(parts, "/"); name != "" {
		return name
	}
	return "/"
}

// TestTrieAgreesWithMatch checks the trie against Match on random filters
// and topics built from a few levels, so that overlaps and edge cases
// ('$', empty levels, "a/#" vs "a") are frequent.
func TestTrieAgreesWithMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	b := NewLocal()
	defer b.Close()
	var subs []*localSub
	for i := range 500 {
		opts := []SubscribeOption{}
		if i%3 == 0 {
			opts = append(opts, WithQueue(fmt.Sprintf("g%d", i%2)))
		}
		s, err := b.Subscribe(ctx, randomName(r, true), opts...)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s.(*localSub))
	}
	for range 2000 {
		topic := randomName(r, false)
		got := b.matched(topic)
		for _, s := range subs {
			if want := Match(s.filter, topic); got[s] != want {
				t.Fatalf("topic %q, filter %q: trie says %v, Match says %v", topic, s.filter, got[s], want)
			}
		}
	}
}

func FuzzTrieMatch(f *testing.F) {
	f.Add("a/#", "a")
	f.Add("+/+", "/")
	f.Add("#", "$SYS/x")
	f.Add("$SYS/+", "$SYS/")
	f.Add("a/+/#", "a/b/c")
	f.Fuzz(func(t *testing.T, filter, topic string) {
		if ValidateFilter(filter) != nil || ValidateTopic(topic) != nil {
			return
		}
		b := NewLocal()
		defer b.Close()
		ctx := context.Background()
		var subs []*localSub
		for _, f := range []string{filter, "#", "+", "+/#", topic} {
			s, err := b.Subscribe(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, s.(*localSub))
		}
		got := b.matched(topic)
		for _, s := range subs {
			if want := Match(s.filter, topic); got[s] != want {
				t.Fatalf("topic %q, filter %q: trie says %v, Match says %v", topic, s.filter, got[s], want)
			}
		}
		if !got[subs[len(subs)-1]] {
			t.Fatalf("topic %q does not match itself", topic)
		}
	})
}

// TestTriePrunes checks that unsubscribing everything leaves an empty trie
// and no queue group behind.
func TestTriePrunes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ctx := context.Background()
	b := NewLocal()
	defer b.Close()
	var subs []Subscription
	for i := range 1000 {
		var opts []SubscribeOption
		if i%4 == 0 {
			opts = append(opts, WithQueue("q"))
		}
		s, err := b.Subscribe(ctx, randomName(r, true), opts...)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	r.Shuffle(len(subs), func(i, j int) { subs[i], subs[j] = subs[j], subs[i] })
	for _, s := range subs {
		if err := s.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
	}
	b.shards.lock()
	defer b.shards.unlock()
	if !b.root.empty() {
		t.Errorf("trie not empty after unsubscribing all: %+v", b.root)
	}
	if b.nsubs != 0 || len(b.groups) != 0 {
		t.Errorf("nsubs = %d, groups = %d, want 0, 0", b.nsubs, len(b.groups))
	}
}

// subs10k subscribes a realistic mix of 10,000 filters: exact order topics,
// '+' filters per region and kind, '#' filters per tenant, and a few broad
// ones.
func subs10k(tb testing.TB, b *Local) {
	tb.Helper()
	ctx := context.Background()
	regions := []string{"eu", "us", "ap", "sa", "af", "me", "ca", "au"}
	kinds := []string{"created", "paid", "shipped", "cancelled", "refunded"}
	n := 0
	sub := func(f string, opts ...SubscribeOption) {
		if _, err := b.Subscribe(ctx, f, append(opts, WithQueueSize(1))...); err != nil {
			tb.Fatal(err)
		}
		n++
	}
	for i := range 7000 { // exact topics
		sub(fmt.Sprintf("orders/%s/%d", regions[i%len(regions)], i))
	}
	for i := range 1500 { // one '+' level
		switch i % 3 {
		case 0:
			sub(fmt.Sprintf("orders/+/%d", 7000+i))
		case 1:
			sub(fmt.Sprintf("sensors/b%d/+/temp", i))
		default:
			sub(fmt.Sprintf("+/%s/%s/%d", regions[i%len(regions)], kinds[i%len(kinds)], i))
		}
	}
	for i := range 1490 { // '#' filters
		sub(fmt.Sprintf("tenants/t%d/#", i))
	}
	for _, f := range []string{"#", "orders/#", "orders/+/+", "+/eu/#", "$SYS/#", "sensors/+/+/temp"} {
		sub(f)
	}
	for i := range 4 {
		sub("orders/eu/+", WithQueue(fmt.Sprintf("workers%d", i)))
	}
	if n != 10000 {
		tb.Fatalf("subscribed %d, want 10000", n)
	}
}

// BenchmarkMatch10kSubs measures the matching part of a publish (pool,
// read lock, trie walk) with 10,000 subscriptions in the trie.
func BenchmarkMatch10kSubs(b *testing.B) {
	bus := NewLocal()
	defer bus.Close()
	subs10k(b, bus)
	topics := []string{
		"orders/eu/1234",       // exact + '+' + '#' + group
		"orders/us/99999",      // no exact subscriber
		"sensors/b12/f3/temp",  // '+' in the middle
		"tenants/t77/a/b/c/d",  // '#' deep
		"$SYS/broker/load",     // '$' rule
		"unrelated/topic/name", // only '#'
	}
	b.ReportAllocs()
	b.ResetTimer()
	matched := 0
	for i := 0; b.Loop(); i++ {
		topic := topics[i%len(topics)]
		ms := bus.pool.Get().(*matchSet)
		ms.dollar = topic[0] == '$'
		sh := &bus.shards.list[ms.shard]
		sh.mu.RLock()
		bus.root.match(topic, 0, true, ms)
		matched += len(ms.subs) + len(ms.groups)
		sh.mu.RUnlock()
		ms.reset()
		bus.pool.Put(ms)
	}
	b.ReportMetric(float64(matched)/float64(b.N), "lists/op")
}

// BenchmarkMatch10kSubsParallel is BenchmarkMatch10kSubs from every P.
func BenchmarkMatch10kSubsParallel(b *testing.B) {
	bus := NewLocal()
	defer bus.Close()
	subs10k(b, bus)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			topic := "orders/eu/1234"
			if i%2 == 1 {
				topic = "sensors/b12/f3/temp"
			}
			ms := bus.pool.Get().(*matchSet)
			ms.dollar = false
			sh := &bus.shards.list[ms.shard]
			sh.mu.RLock()
			bus.root.match(topic, 0, true, ms)
			sh.mu.RUnlock()
			ms.reset()
			bus.pool.Put(ms)
		}
	})
}
