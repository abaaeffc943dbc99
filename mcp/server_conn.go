package mcp

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/mcpbridge/mcpbridge/frame"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// serverConn is the server side of one connection.
type serverConn struct {
	srv    *Server
	t      *transport
	ctx    context.Context // carries the peer; cancelled when the connection closes
	cancel context.CancelFunc

	mu       sync.Mutex
	calls    map[uint32]*serverCall // open calls by seq_id
	active   int                    // calls and notifies whose handler runs
	notifies int                    // notifies whose handler runs (they count against maxCalls)
	maxID    uint32                 // highest call id accepted
	draining bool
	ps       connPubSub // subscriptions (pubsub_server.go)

	// Handlers run on workers: a worker whose handler returned waits for
	// the next call of its connection (at most maxIdleWorkers wait), so a
	// call usually reuses a goroutine whose stack has already grown to a
	// handler's depth instead of growing a new one (stack growth was 8 % of
	// the CPU of a call through the gateway, whose handlers run deep).
	work chan *serverCall // unbuffered: hands a call to a waiting worker (nil: end)
	idle atomic.Int32     // workers waiting on work

	// A connection that took no call between two heartbeat ticks lets its
	// waiting workers end (reapIdle), so an idle connection holds no
	// worker's stack. Under mu.
	opened       uint64 // calls and notifies opened
	openedAtReap uint64 // opened at the last tick
}

// maxIdleWorkers bounds the workers a connection keeps waiting for calls;
// the others end, and all of them once the connection has been idle for a
// heartbeat interval (reapIdle). A waiting worker costs a goroutine, whose stack the GC
// shrinks while it waits; 64 covers the calls one connection's reader
// typically hands out in a burst under load.
const maxIdleWorkers = 64

func newServerConn(s *Server, nc net.Conn) *serverConn {
	sc := &serverConn{srv: s, calls: make(map[uint32]*serverCall), work: make(chan *serverCall)}
	sc.ctx, sc.cancel = context.WithCancel(peer.NewContext(context.Background(), peerOf(nc)))
	sc.t = newTransport(nc, &s.opts.conn, sc)
	return sc
}

func (sc *serverConn) lastAccepted() uint32 {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.maxID
}

// drain sends GOAWAY and closes the connection once its calls have ended.
func (sc *serverConn) drain() {
	sc.mu.Lock()
	if sc.draining {
		sc.mu.Unlock()
		return
	}
	sc.draining = true
	last, idle := sc.maxID, sc.active == 0
	sc.mu.Unlock()
	meta := frame.Metadata(nil).Append(frame.KeyErrorMessage, "server shutting down")
	_ = sc.t.enqueue(context.Background(), frame.Header{Type: frame.TypeGoAway, SeqID: last}, meta, nil, true)
	sc.drainSubs() // subscriptions do not delay a drain: they end with UNAVAILABLE
	if idle {
		sc.t.closeAfterFlush(DefaultShutdownWriteWait, nil)
	}
}

func (sc *serverConn) closed(err error) {
	sc.cancel()
	sc.mu.Lock()
	calls := sc.calls
	sc.calls = map[uint32]*serverCall{}
	sc.mu.Unlock()
	for _, c := range calls {
		c.abandon()
	}
	sc.closeSubs()
	sc.srv.removeConn(sc)
}

func (sc *serverConn) goAway(f *frame.Frame) {
	// A client going away sends no new calls; the ones it has open finish.
}

// reply sends a RESPONSE with an error status for a call that never opened.
func (sc *serverConn) reply(id uint32, code codes.Code, msg string) {
	if id == 0 {
		return
	}
	meta := frame.Metadata(nil).Append(frame.KeyErrorMessage, sanitize(msg))
	_ = sc.t.enqueue(context.Background(), frame.Header{Type: frame.TypeResponse, Flags: frame.FlagNoMessage, Status: uint8(code), SeqID: id}, meta, nil, true)
}

func (sc *serverConn) handleFrame(f *frame.Frame) error {
	switch f.Type {
	case frame.TypeRequest, frame.TypeNotify:
		return sc.open(f)
	case frame.TypeStream:
		sc.mu.Lock()
		c := sc.calls[f.SeqID]
		sc.mu.Unlock()
		if c != nil {
			c.push(f)
		}
	case frame.TypeCancel:
		sc.mu.Lock()
		c := sc.calls[f.SeqID]
		sc.mu.Unlock()
		if c != nil {
			c.cancelByPeer()
		} else {
			sc.cancelSub(f.SeqID)
		}
	case frame.TypeSubscribe, frame.TypeUnsubscribe, frame.TypePublish:
		return sc.handlePubSub(f) // pubsub_server.go
	default:
		// RESPONSE and the like from a client: nothing to do.
	}
	return nil
}

func (sc *serverConn) tooLarge(f *frame.Frame) {
	msg := "message exceeds the server's " + strconv.Itoa(sc.t.opts.maxRecvMsg) + "-byte limit"
	switch f.Type {
	case frame.TypeRequest, frame.TypeSubscribe, frame.TypePublish, frame.TypeUnsubscribe:
		sc.reply(f.SeqID, codes.ResourceExhausted, msg)
	case frame.TypeStream:
		sc.mu.Lock()
		c := sc.calls[f.SeqID]
		sc.mu.Unlock()
		if c != nil {
			c.finish(status.New(codes.ResourceExhausted, msg))
		}
	}
}

// open starts a call or notify.
func (sc *serverConn) open(f *frame.Frame) error {
	notify := f.Type == frame.TypeNotify
	id := f.SeqID
	if notify {
		id = 0
	} else if id == 0 {
		return &connErr{codes.InvalidArgument, "REQUEST with seq_id 0"}
	}
	path, ok := f.Meta.Get(frame.KeyPath)
	if !ok || len(path) == 0 {
		sc.reply(id, codes.InvalidArgument, "missing :path")
		return nil
	}
	mi := sc.srv.methods[string(path)]
	if mi == nil && sc.srv.opts.unknown == nil {
		sc.reply(id, codes.Unimplemented, "unknown method "+string(path))
		return nil
	}
	ct, hasCT := f.Meta.Get(frame.KeyContentType)
	if mi != nil && hasCT && string(ct) != "application/proto" && string(ct) != "application/protobuf" {
		sc.reply(id, codes.InvalidArgument, "content-type "+sanitize(string(ct))+" is not supported by "+mi.path)
		return nil
	}
	var timeout int64 = -1
	if v, ok := f.Meta.Get(frame.KeyTimeoutMs); ok {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n < 0 {
			sc.reply(id, codes.InvalidArgument, "bad timeout-ms "+strconv.Quote(sanitize(string(v))))
			return nil
		}
		timeout = n
	}

	sc.mu.Lock()
	switch {
	case sc.draining:
		sc.mu.Unlock()
		sc.reply(id, codes.Unavailable, "server is shutting down; retry on another connection")
		return nil
	case id != 0 && (sc.calls[id] != nil || sc.ps.subs[id] != nil):
		sc.mu.Unlock()
		return &connErr{codes.InvalidArgument, "seq_id " + strconv.FormatUint(uint64(id), 10) + " reused while its call is open"}
	case len(sc.calls)+sc.notifies >= sc.t.opts.maxCalls:
		sc.mu.Unlock()
		if notify {
			// A NOTIFY cannot be refused (nothing is ever answered): it is
			// dropped, and counted (WithMaxConcurrentCalls).
			sc.srv.droppedNotifies.Add(1)
			return nil
		}
		sc.reply(id, codes.ResourceExhausted, "too many concurrent calls on this connection")
		return nil
	}
	// A complete call for an unknown method goes to the async handler
	// first (async.go), without a context until it declines.
	async := mi == nil && id != 0 && sc.srv.opts.async != nil &&
		f.Flags.Has(frame.FlagEndStream) && !f.Flags.Has(frame.FlagNoMessage)
	var c *serverCall
	if async {
		c = newServerCallBase(sc, f, id, mi)
		c.async, c.ctx = true, sc.ctx
	} else {
		c = newServerCall(sc, f, id, mi, timeout)
	}
	if sc.srv.opts.observer != nil {
		c.start = sc.t.sinceEpoch()
	}
	if id != 0 {
		sc.calls[id] = c
		if id > sc.maxID {
			sc.maxID = id
		}
	} else {
		sc.notifies++
	}
	sc.active++
	sc.opened++
	sc.mu.Unlock()
	if async {
		sc.openAsync(c, timeout)
		return nil
	}
	sc.dispatch(c)
	return nil
}

// dispatch runs c's handler on a waiting worker, or a new one.
func (sc *serverConn) dispatch(c *serverCall) {
	select {
	case sc.work <- c:
	default:
		go sc.worker(c)
	}
}

// worker runs c's handler, then those of the calls it is handed, until
// enough workers wait or the connection closes.
func (sc *serverConn) worker(c *serverCall) {
	for {
		c.run()
		c = nil // not kept alive while waiting
		if sc.idle.Add(1) > maxIdleWorkers {
			sc.idle.Add(-1)
			return
		}
		select {
		case c = <-sc.work:
			sc.idle.Add(-1)
			if c == nil {
				sc.srv.reapedWorkers.Add(1)
				return // reapIdle: the connection is idle
			}
		case <-sc.t.done:
			sc.idle.Add(-1)
			return
		}
	}
}

// reapIdle ends the waiting workers of a connection that opened no call
// since the last heartbeat tick (the transport calls it on each tick).
func (sc *serverConn) reapIdle() {
	sc.mu.Lock()
	quiet := sc.opened == sc.openedAtReap && sc.active == 0
	sc.openedAtReap = sc.opened
	sc.mu.Unlock()
	for quiet && sc.idle.Load() > 0 {
		select {
		case sc.work <- nil:
		default:
			return
		}
	}
}

// callEnded removes a call that has ended.
func (sc *serverConn) callEnded(c *serverCall) { sc.callDone(c, true, false) }

// callDone, under one lock, removes c from the open calls if it ended and
// accounts for its handler's return if it returned. It reports whether the
// connection drains and that was its last handler: the caller then closes
// it (closeAfterFlush) once its own frames are queued.
func (sc *serverConn) callDone(c *serverCall, ended, returned bool) (closeNow bool) {
	sc.mu.Lock()
	if ended && c.id != 0 && sc.calls[c.id] == c {
		delete(sc.calls, c.id)
	}
	if returned {
		if c.notify {
			sc.notifies--
		}
		sc.active--
		closeNow = sc.draining && sc.active == 0
	}
	sc.mu.Unlock()
	return closeNow
}
