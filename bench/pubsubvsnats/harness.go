package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/mcpbridge/mcpbridge/mcp"
	"github.com/mcpbridge/mcpbridge/pubsub"
)

// The two systems under test, behind one interface: a server with fanout
// subscriber connections that count what they receive, and one publisher
// connection.

const (
	sysMCP  = "MCP"
	sysNATS = "NATS"
)

// counter is one subscriber's count of received messages, alone on its
// cache lines so that subscribers do not slow each other down. Every
// progressEvery messages the subscriber wakes a waiting publisher
// (progress), so that the publisher's pacing blocks instead of spinning on
// the two cores that everything shares.
type counter struct {
	n        atomic.Uint64
	progress chan struct{}
	_        [112]byte
}

const progressEvery = 32

// add counts one message.
func (c *counter) add() {
	if c.n.Add(1)%progressEvery == 0 {
		select {
		case c.progress <- struct{}{}:
		default:
		}
	}
}

func newCounters(n int) []counter {
	progress := make(chan struct{}, 1)
	cs := make([]counter, n)
	for i := range cs {
		cs[i].progress = progress
	}
	return cs
}

// system is a running server with its subscribers and publisher.
type system interface {
	publish(payload []byte) error
	close()
}

// start starts the system named name with fanout subscribers (each on its
// own connection) counting into counters. queue, if not 0, sets MCP's
// per-subscription queues (the server's bus queue and the client's delivery
// queue) instead of their defaults.
func start(name string, fanout, queue int, counters []counter) (system, error) {
	switch name {
	case sysMCP:
		return startMCP(fanout, queue, counters)
	case sysNATS:
		return startNATS(fanout, counters)
	}
	return nil, fmt.Errorf("unknown system %q", name)
}

// ---- MCP: mcp.Server with the in-process bus, mcp.Conn clients ------------

const (
	mcpTopic  = "bench/eu/created"
	mcpFilter = "bench/+/created"
)

type mcpSystem struct {
	bus  *pubsub.Local
	srv  *mcp.Server
	pub  *mcp.Conn
	subs []*mcp.Conn
	wg   sync.WaitGroup
	ctx  context.Context
}

func startMCP(fanout, queue int, counters []counter) (*mcpSystem, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &mcpSystem{bus: pubsub.NewLocal(), ctx: context.Background()}
	opts := []mcp.ServerOption{mcp.WithBus(s.bus)}
	var subOpts []mcp.SubscribeOption
	if queue > 0 {
		opts = append(opts, mcp.WithSubscriptionQueue(queue, pubsub.DropNewest))
		subOpts = append(subOpts, mcp.WithDeliveryQueue(queue))
	}
	s.srv = mcp.NewServer(opts...)
	go s.srv.Serve(lis)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr := lis.Addr().String()
	for i := range fanout {
		conn, err := mcp.Dial(ctx, addr)
		if err != nil {
			s.close()
			return nil, err
		}
		s.subs = append(s.subs, conn)
		sub, err := conn.Subscribe(ctx, mcpFilter, subOpts...)
		if err != nil {
			s.close()
			return nil, err
		}
		c := &counters[i]
		s.wg.Go(func() {
			for range sub.C() {
				c.add()
			}
		})
	}
	if s.pub, err = mcp.Dial(ctx, addr); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *mcpSystem) publish(payload []byte) error {
	return s.pub.Publish(s.ctx, mcpTopic, payload)
}

func (s *mcpSystem) close() {
	if s.pub != nil {
		s.pub.Close()
	}
	for _, c := range s.subs {
		c.Close()
	}
	s.wg.Wait()
	s.srv.Close()
	s.bus.Close()
}

// ---- NATS: an embedded nats-server, nats.go clients -----------------------

const (
	natsSubject = "bench.eu.created"
	natsFilter  = "bench.*.created"
)

type natsSystem struct {
	srv  *server.Server
	pub  *nats.Conn
	subs []*nats.Conn
}

func startNATS(fanout int, counters []counter) (*natsSystem, error) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		return nil, err
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("NATS server not ready")
	}
	s := &natsSystem{srv: srv}
	for i := range fanout {
		nc, err := nats.Connect(srv.ClientURL(), nats.NoReconnect())
		if err != nil {
			s.close()
			return nil, err
		}
		s.subs = append(s.subs, nc)
		c := &counters[i]
		if _, err := nc.Subscribe(natsFilter, func(*nats.Msg) { c.add() }); err != nil {
			s.close()
			return nil, err
		}
		if err := nc.Flush(); err != nil { // the subscription is in place
			s.close()
			return nil, err
		}
	}
	if s.pub, err = nats.Connect(srv.ClientURL(), nats.NoReconnect()); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *natsSystem) publish(payload []byte) error {
	return s.pub.Publish(natsSubject, payload)
}

func (s *natsSystem) close() {
	if s.pub != nil {
		s.pub.Close()
	}
	for _, nc := range s.subs {
		nc.Close()
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

// ---- One measured phase ---------------------------------------------------

// phaseConfig bounds a phase.
type phaseConfig struct {
	fanout  int
	payload int
	n       int           // at most this many published messages
	d       time.Duration // and at most this long
	window  int           // the publisher stays at most this many messages ahead of the slowest subscriber; 0: no pacing
	warmup  int           // published and received before the clock starts
	queue   int           // MCP's per-subscription queues; 0: the defaults
}

// result is one phase's numbers.
type result struct {
	published int
	delivered uint64
	elapsed   time.Duration
	allocs    float64 // heap objects per delivered message, both sides
}

func (r result) rate() float64 { return float64(r.delivered) / r.elapsed.Seconds() }

// phase runs one phase: it starts the system, publishes a warm-up, then
// publishes up to cfg.n messages within cfg.d, paced by cfg.window, and
// waits (at most drainWait) until every subscriber has everything, or has
// stopped receiving. The rate counts delivered messages (one message
// reaching ten subscribers counts ten).
func phase(name string, cfg phaseConfig) (result, error) {
	counters := newCounters(cfg.fanout)
	sys, err := start(name, cfg.fanout, cfg.queue, counters)
	if err != nil {
		return result{}, err
	}
	defer sys.close()
	payload := make([]byte, cfg.payload)
	for i := range payload {
		payload[i] = byte(i)
	}
	for i := 1; i <= cfg.warmup; i++ {
		if err := sys.publish(payload); err != nil {
			return result{}, err
		}
		if cfg.window > 0 && i%progressEvery == 0 {
			waitBehind(counters, uint64(i), uint64(cfg.window), time.Time{})
		}
	}
	if ok, _ := waitBehind(counters, uint64(cfg.warmup), 0, time.Now().Add(drainWait)); !ok && cfg.window > 0 {
		return result{}, fmt.Errorf("warm-up messages were lost (window %d)", cfg.window)
	}
	base := make([]uint64, cfg.fanout)
	for i := range counters {
		base[i] = counters[i].n.Load()
	}

	runtime.GC()
	allocs0 := heapAllocs()
	start := time.Now()
	deadline := start.Add(cfg.d)
	sent := 0
	for sent < cfg.n {
		if err := sys.publish(payload); err != nil {
			return result{}, err
		}
		sent++
		if sent%progressEvery == 0 {
			if cfg.window > 0 {
				waitBehind(counters, uint64(cfg.warmup+sent), uint64(cfg.window), time.Time{})
			}
			if time.Now().After(deadline) {
				break
			}
		}
	}
	// Wait for the deliveries in flight: all of them, or until the counts
	// stop moving (messages dropped without pacing); the clock stops at
	// the last delivery.
	_, end := waitBehind(counters, uint64(cfg.warmup+sent), 0, time.Now().Add(drainWait))
	var delivered uint64
	for i := range counters {
		delivered += counters[i].n.Load() - base[i]
	}
	elapsed := end.Sub(start)
	allocs := heapAllocs() - allocs0
	return result{published: sent, delivered: delivered, elapsed: elapsed, allocs: float64(allocs) / float64(max(delivered, 1))}, nil
}

// drainWait bounds the wait for deliveries in flight once publishing ends:
// the counts must move at least once per drainWait.
const drainWait = 2 * time.Second

// waitBehind waits until every counter is within window of sent. With a
// zero stall deadline it waits as long as it takes; otherwise it gives up
// (false) when no counter moved until stall, which moves on with progress;
// moved is then when a counter last moved.
// It sleeps on the subscribers' progress signal, with a short timeout for
// the last messages (fewer than progressEvery).
func waitBehind(counters []counter, sent, window uint64, stall time.Time) (ok bool, moved time.Time) {
	var last uint64
	moved = time.Now()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		behind := false
		var sum uint64
		for i := range counters {
			n := counters[i].n.Load()
			sum += n
			if n+window < sent {
				behind = true
			}
		}
		if !behind {
			return true, time.Now()
		}
		if !stall.IsZero() {
			if sum != last {
				last = sum
				moved = time.Now()
				stall = moved.Add(drainWait)
			} else if time.Now().After(stall) {
				return false, moved
			}
		}
		if timer == nil {
			timer = time.NewTimer(time.Millisecond)
		} else {
			timer.Reset(time.Millisecond)
		}
		select {
		case <-counters[0].progress:
		case <-timer.C:
		}
	}
}

var allocSample = []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}

func heapAllocs() uint64 {
	metrics.Read(allocSample)
	return allocSample[0].Value.Uint64()
}
