package pubsub

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/mcpbridge/mcpbridge/pubsub/internal/inbox"
)

// Local is the in-process Bus: a subscription trie under a sharded
// read-write lock, and a bounded channel per subscription that Publish fills without
// blocking. It starts no goroutine. The zero value is not usable; call
// NewLocal.
type Local struct {
	maxSubs int
	pool    sync.Pool // *matchSet, reused by Publish

	// shards is the bus lock, split so that publishers do not contend
	// (shard.go), and the counters. It guards everything below. Publish
	// read-locks one shard while it matches and queues (non-blocking sends
	// only); Subscribe, Unsubscribe, a slow-consumer eviction and Close
	// write-lock them all. Lock order: a shard, then a subscription's
	// inbox lock (Offer, End); a publisher holds one shard's read lock
	// only and takes the write locks only after releasing it.
	shards      shards
	closed      bool
	root        node
	nsubs       int
	groups      map[string]*queueGroup
	lastGroupID uint64
}

var _ Bus = (*Local)(nil)

// NewLocal returns an empty in-process bus.
func NewLocal(opts ...LocalOption) *Local {
	c := localConfig{maxSubs: DefaultMaxSubscriptions}
	for _, o := range opts {
		if o != nil {
			o.applyLocal(&c)
		}
	}
	b := &Local{maxSubs: c.maxSubs, shards: newShards(), groups: make(map[string]*queueGroup)}
	b.pool.New = func() any { return &matchSet{shard: b.shards.pick()} }
	return b
}

// Publish queues m to every matching subscription that is not in a queue
// group and to one member of each matching queue group, without blocking.
// Within a group, members take turns (round-robin); a member whose queue is
// full is skipped for the next one, and the message is lost only if every
// member is full (it is then counted against the member whose turn it was,
// which its policy may disconnect). m is shared with the subscribers: do not
// modify it after the call.
func (b *Local) Publish(ctx context.Context, m *Message) error {
	if m == nil {
		return ErrNilMessage
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateTopic(m.Topic); err != nil {
		return err
	}
	ms := b.pool.Get().(*matchSet)
	ms.dollar = m.Topic[0] == '$'
	var d delivery

	sh := &b.shards.list[ms.shard]
	sh.mu.RLock()
	if b.closed {
		sh.mu.RUnlock()
		b.pool.Put(ms)
		return ErrClosed
	}
	b.root.match(m.Topic, 0, true, ms)
	for _, list := range ms.subs {
		for _, s := range list {
			d.offer(s, m)
		}
	}
	if len(ms.groups) > 0 {
		d.offerGroups(ms.groups, m)
	}
	sh.mu.RUnlock()

	ms.reset()
	b.pool.Put(ms)
	sh.published.Add(1)
	if d.delivered > 0 {
		sh.delivered.Add(d.delivered)
	}
	if d.dropped > 0 {
		sh.dropped.Add(d.dropped)
	}
	if len(d.evict) > 0 {
		b.shards.lock()
		for _, s := range d.evict {
			b.unregister(s)
		}
		b.shards.unlock()
	}
	return nil
}

// delivery tallies one Publish.
type delivery struct {
	delivered, dropped uint64
	evict              []*localSub // ended by the Disconnect policy
}

// offer queues m to s, applying s's policy if its queue is full.
func (d *delivery) offer(s *localSub, m *Message) {
	switch s.in.Offer(m) {
	case inbox.Queued:
		d.delivered++
	case inbox.Full:
		d.overflow(s)
	}
}

func (d *delivery) overflow(s *localSub) {
	d.dropped++
	s.in.Drop(1)
	if s.policy == Disconnect && s.in.End(s.slowErr()) {
		d.evict = append(d.evict, s)
	}
}

// offerGroups queues m to one member of each queue group among groups
// (pieces of groups found at several trie nodes; reordered in place).
func (d *delivery) offerGroups(groups []*nodeGroup, m *Message) {
	if len(groups) > 1 {
		slices.SortStableFunc(groups, func(a, b *nodeGroup) int { return cmp.Compare(a.group.id, b.group.id) })
	}
	for i := 0; i < len(groups); {
		j := i + 1
		for j < len(groups) && groups[j].group == groups[i].group {
			j++
		}
		d.offerGroup(groups[i:j], m)
		i = j
	}
}

// offerGroup queues m to one member of the group whose pieces are run,
// starting with the member whose turn it is.
func (d *delivery) offerGroup(run []*nodeGroup, m *Message) {
	total := 0
	for _, ng := range run {
		total += len(ng.members)
	}
	if total == 0 {
		return
	}
	start := int((run[0].group.next.Add(1) - 1) % uint64(total))
	var first *localSub // the first member found full
	for k := range total {
		s := memberAt(run, (start+k)%total)
		switch s.in.Offer(m) {
		case inbox.Queued:
			d.delivered++
			return
		case inbox.Full:
			if first == nil {
				first = s
			}
		}
	}
	if first != nil {
		d.overflow(first)
	}
}

func memberAt(run []*nodeGroup, i int) *localSub {
	for _, ng := range run {
		if i < len(ng.members) {
			return ng.members[i]
		}
		i -= len(ng.members)
	}
	return nil // unreachable: i < total
}

// Subscribe adds a subscription to the topics matching filter. ctx is only
// checked; the call never blocks on anything but the bus lock.
func (b *Local) Subscribe(ctx context.Context, filter string, opts ...SubscribeOption) (Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateFilter(filter); err != nil {
		return nil, err
	}
	cfg, err := ResolveSubscribeOptions(opts...)
	if err != nil {
		return nil, err
	}
	s := &localSub{
		bus:    b,
		filter: filter,
		queue:  cfg.Queue,
		policy: cfg.Policy,
		size:   cfg.QueueSize,
		in:     inbox.New[*Message](cfg.QueueSize),
	}
	b.shards.lock()
	defer b.shards.unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if b.nsubs >= b.maxSubs {
		return nil, fmt.Errorf("%w: the bus already holds its limit of %d", ErrTooManySubscriptions, b.maxSubs)
	}
	if cfg.Queue != "" {
		g := b.groups[cfg.Queue]
		if g == nil {
			b.lastGroupID++
			g = &queueGroup{id: b.lastGroupID, name: cfg.Queue}
			b.groups[cfg.Queue] = g
		}
		g.members++
		s.group = g
	}
	b.root.insert(s, s.group)
	s.registered = true
	b.nsubs++
	return s, nil
}

// unregister takes s out of the trie and its group. The shards must be
// write-locked.
func (b *Local) unregister(s *localSub) {
	if !s.registered {
		return
	}
	s.registered = false
	b.root.remove(s)
	b.nsubs--
	if g := s.group; g != nil {
		g.members--
		if g.members == 0 {
			delete(b.groups, g.name)
		}
	}
}

// Stats returns the bus's counters.
func (b *Local) Stats() Stats {
	sh := &b.shards.list[0]
	sh.mu.RLock()
	n := b.nsubs
	sh.mu.RUnlock()
	published, delivered, dropped := b.shards.sums()
	return Stats{
		Published:     published,
		Delivered:     delivered,
		Dropped:       dropped,
		Subscriptions: n,
	}
}

// Close ends every subscription with ErrClosed; later Publish and Subscribe
// calls return ErrClosed. It always returns nil.
func (b *Local) Close() error {
	b.shards.lock()
	if b.closed {
		b.shards.unlock()
		return nil
	}
	b.closed = true
	var subs []*localSub
	subs = b.root.collect(subs)
	for _, s := range subs {
		s.registered = false
	}
	b.root = node{}
	b.nsubs = 0
	clear(b.groups)
	b.shards.unlock()
	for _, s := range subs {
		s.in.End(ErrClosed)
	}
	return nil
}

// collect appends every subscription in n's subtree to out.
func (n *node) collect(out []*localSub) []*localSub {
	out = append(out, n.subs...)
	for _, ng := range n.groups {
		out = append(out, ng.members...)
	}
	for _, c := range n.children {
		out = c.collect(out)
	}
	if n.plus != nil {
		out = n.plus.collect(out)
	}
	if n.hash != nil {
		out = n.hash.collect(out)
	}
	return out
}

// localSub is a subscription on a Local bus.
type localSub struct {
	bus    *Local
	filter string
	queue  string
	policy SlowConsumerPolicy
	size   int
	in     *inbox.Inbox[*Message]

	// Guarded by the bus lock.
	group      *queueGroup
	registered bool
	idx        int // position in its trie node's slice
}

var _ Subscription = (*localSub)(nil)

func (s *localSub) C() <-chan *Message    { return s.in.C() }
func (s *localSub) Done() <-chan struct{} { return s.in.Done() }
func (s *localSub) Err() error            { return s.in.Err() }
func (s *localSub) Dropped() uint64       { return s.in.Dropped() }
func (s *localSub) Filter() string        { return s.filter }
func (s *localSub) Queue() string         { return s.queue }

func (s *localSub) Unsubscribe() error {
	b := s.bus
	b.shards.lock()
	b.unregister(s)
	b.shards.unlock()
	s.in.End(ErrUnsubscribed)
	return nil
}

func (s *localSub) slowErr() error {
	return fmt.Errorf("%w: subscription %q: queue of %d messages full", ErrSlowConsumer, s.filter, s.size)
}
