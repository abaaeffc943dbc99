package mcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpbridge/mcpbridge/frame"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// frameHandler is one side's (server or client) handling of the frames the
// transport does not handle itself.
type frameHandler interface {
	// handleFrame handles one decoded frame. f's slices are valid only
	// during the call.
	handleFrame(f *frame.Frame) error
	// tooLarge handles a frame whose body was over the message limit
	// (skipped by the decoder).
	tooLarge(f *frame.Frame)
	// goAway handles a GOAWAY from the peer.
	goAway(f *frame.Frame)
	// closed is called once when the transport has closed, with why.
	closed(err error)
}

// transport is one MCP connection: a reader goroutine decoding frames and a
// writer goroutine flushing queued frames, plus heartbeats. The side-specific
// logic lives in its frameHandler.
type transport struct {
	conn net.Conn
	opts *connOptions
	h    frameHandler
	dec  *frame.Decoder

	// outbound queue; see enqueue and writeLoop.
	wmu      sync.Mutex
	wbuf     *[]byte       // frames waiting for the writer (nil: none, pooled)
	wspare   *[]byte       // the writer's other buffer (nil: none)
	wroom    chan struct{} // closed when the writer has taken wbuf
	wclosing bool          // flush what is queued, then close
	wreason  error         // the close reason once wclosing
	wake     chan struct{} // cap 1: there is something to write

	epoch    time.Time     // the clock's origin for lastRead (monotonic)
	rclock   clockedReader // the decoder's source: conn, noting when bytes arrive
	lastRead atomic.Int64  // when the last frame was received, in nanoseconds since epoch
	pingSeq  atomic.Uint32
	hb       *time.Timer
	pingMu   sync.Mutex
	pings    map[uint32]chan struct{} // Ping calls waiting for their PONG

	done      chan struct{} // closed when the connection is closed
	closeOnce sync.Once
	closeErr  error // why; set before done is closed
}

var (
	errConnClosed   = status.Error(codes.Unavailable, "mcp: connection closed")
	errWriterClosed = errors.New("mcp: connection closed")
)

func newTransport(conn net.Conn, opts *connOptions, h frameHandler) *transport {
	t := &transport{
		conn: conn,
		opts: opts,
		h:    h,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
		// The monotonic clock alone (time.Since) is half the cost of
		// time.Now and ignores wall-clock jumps.
		epoch: time.Now(),
	}
	t.rclock = clockedReader{r: conn, t: t}
	t.dec = frame.NewDecoder(&t.rclock)
	t.dec.SetLimits(opts.maxRecvMsg, opts.maxFrame)
	return t
}

// sinceEpoch is the time for lastRead.
func (t *transport) sinceEpoch() int64 { return int64(time.Since(t.epoch)) }

// clockedReader notes when each read from the connection returned bytes, so
// that the reader learns when a frame arrived (the time of the read that
// completed it) with one clock reading per read call rather than one per
// frame: a read often brings many frames, and the clock was the reader's
// largest cost after decoding. Used by the reader goroutine only.
type clockedReader struct {
	r    io.Reader
	t    *transport
	last int64 // sinceEpoch of the last read that returned bytes
}

func (c *clockedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.last = c.t.sinceEpoch()
	}
	return n, err
}

// start launches the reader, writer and heartbeat.
func (t *transport) start() {
	t.startHeartbeat()
	go t.readLoop()
	go t.writeLoop()
}

// flags returns the flags every outgoing frame carries.
func (t *transport) flags() frame.Flags {
	if t.opts.checksum {
		return frame.FlagChecksum
	}
	return 0
}

// enqueue queues one frame for the writer. It waits while more than the
// write-buffer limit is queued, until ctx is done. control frames (PONG,
// GOAWAY, error replies from the reader) never wait, so the reader never
// blocks on the writer; a peer that makes them pile up past a hard bound
// (it sends but does not read) has its connection closed.
func (t *transport) enqueue(ctx context.Context, h frame.Header, meta frame.Metadata, body []byte, control bool) error {
	h.Flags |= t.flags()
	for {
		t.wmu.Lock()
		if t.wclosing || t.isDone() {
			t.wmu.Unlock()
			return errWriterClosed
		}
		queued := bufLen(t.wbuf)
		if queued < t.opts.writeLimit || control || queued == 0 {
			if control && queued > 2*t.opts.writeLimit+(1<<20) {
				t.wmu.Unlock()
				t.close(status.Error(codes.ResourceExhausted, "mcp: peer is not reading its replies"))
				return errWriterClosed
			}
			t.appendUnlock(h, meta, body, queued)
			return nil
		}
		if t.wroom == nil {
			t.wroom = make(chan struct{})
		}
		room := t.wroom
		t.wmu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		case <-t.done:
			return errWriterClosed
		}
	}
}

// errQueueFull is tryEnqueue's refusal: more than the write-buffer limit is
// queued.
var errQueueFull = status.Error(codes.ResourceExhausted, "mcp: the peer is not reading fast enough (write queue full)")

// tryEnqueue queues one frame like enqueue but never waits: past the
// write-buffer limit it returns errQueueFull. Async calls (async.go), whose
// frames are queued from another connection's reader, use it.
func (t *transport) tryEnqueue(h frame.Header, meta frame.Metadata, body []byte) error {
	h.Flags |= t.flags()
	t.wmu.Lock()
	if t.wclosing || t.isDone() {
		t.wmu.Unlock()
		return errWriterClosed
	}
	queued := bufLen(t.wbuf)
	if queued >= t.opts.writeLimit && queued != 0 {
		t.wmu.Unlock()
		return errQueueFull
	}
	t.appendUnlock(h, meta, body, queued)
	return nil
}

// appendUnlock appends a frame to the write queue, which held queued bytes,
// releases t.wmu (held) and wakes the writer if the queue was empty.
func (t *transport) appendUnlock(h frame.Header, meta frame.Metadata, body []byte, queued int) {
	if t.wbuf == nil {
		t.wbuf = getWriteBuf()
	}
	*t.wbuf = frame.AppendFrame(*t.wbuf, h, meta, body)
	t.wmu.Unlock()
	if queued == 0 {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

func (t *transport) isDone() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// Write buffers are pooled so an idle connection holds none.
const maxKeptWriteBuf = 256 << 10

// The pool holds *[]byte, and the transport keeps the pointer while it
// uses the buffer, so that neither getting nor putting one allocates.
var writeBufs = sync.Pool{New: func() any { return new([]byte) }}

// smallBatch is the queued size below which the writer yields once before
// writing, to coalesce more frames into the write.
const smallBatch = 1024

// getWriteBuf returns an empty buffer.
func getWriteBuf() *[]byte {
	bp := writeBufs.Get().(*[]byte)
	if *bp == nil {
		*bp = make([]byte, 0, 4096)
	}
	return bp
}

// putWriteBuf gives a buffer back (nil: none). One that grew past
// maxKeptWriteBuf is dropped, its pointer kept.
func putWriteBuf(bp *[]byte) {
	if bp == nil {
		return
	}
	if cap(*bp) > maxKeptWriteBuf {
		*bp = nil
	} else {
		*bp = (*bp)[:0]
	}
	writeBufs.Put(bp)
}

// bufLen is the length of a buffer that may be nil.
func bufLen(bp *[]byte) int {
	if bp == nil {
		return 0
	}
	return len(*bp)
}

func (t *transport) writeLoop() {
	for {
		select {
		case <-t.wake:
		case <-t.done:
			return
		}
		yielded := false
		for {
			t.wmu.Lock()
			if n := bufLen(t.wbuf); !yielded && n > 0 && n < smallBatch && !t.wclosing {
				// A small batch: let the goroutines that are about to queue
				// frames run first, so one write carries them all (as
				// grpc-go's loopy writer does). One yield per write.
				t.wmu.Unlock()
				yielded = true
				runtime.Gosched()
				continue
			}
			yielded = false
			buf := t.wbuf
			t.wbuf = t.wspare
			t.wspare = nil
			if room := t.wroom; room != nil {
				close(room)
				t.wroom = nil
			}
			closing := t.wclosing
			t.wmu.Unlock()
			if bufLen(buf) == 0 {
				putWriteBuf(buf)
				if closing {
					t.close(t.closeReason())
					return
				}
				// Idle: give both buffers back so an idle connection holds none.
				t.wmu.Lock()
				if bufLen(t.wbuf) == 0 {
					putWriteBuf(t.wbuf)
					t.wbuf = nil
				}
				t.wmu.Unlock()
				break
			}
			if _, err := t.conn.Write(*buf); err != nil {
				t.close(status.Errorf(codes.Unavailable, "mcp: write: %v", err))
				return
			}
			t.wmu.Lock()
			if t.wspare == nil && cap(*buf) <= maxKeptWriteBuf {
				*buf = (*buf)[:0]
				t.wspare = buf
			} else {
				putWriteBuf(buf)
			}
			t.wmu.Unlock()
		}
	}
}

// closeReason is the error a close after flushing reports.
func (t *transport) closeReason() error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.wreason != nil {
		return t.wreason
	}
	return errConnClosed
}

// closeAfterFlush writes what is queued (at most for wait) and then closes
// the connection, reporting reason (nil: errConnClosed).
func (t *transport) closeAfterFlush(wait time.Duration, reason error) {
	t.wmu.Lock()
	if t.wclosing {
		t.wmu.Unlock()
		return
	}
	t.wclosing = true
	t.wreason = reason
	t.wmu.Unlock()
	_ = t.conn.SetWriteDeadline(time.Now().Add(wait))
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// close closes the connection at once. The first caller's err is the reason
// reported to the side's handler.
func (t *transport) close(err error) {
	t.closeOnce.Do(func() {
		t.closeErr = err
		close(t.done)
		if t.hb != nil {
			t.hb.Stop()
		}
		_ = t.conn.Close()
		t.h.closed(err)
	})
}

func (t *transport) readLoop() {
	var f frame.Frame
	for {
		err := t.dec.Decode(&f)
		if err != nil {
			var fe *frame.Error
			if errors.As(err, &fe) && !fe.Connection() {
				t.lastRead.Store(t.rclock.last)
				t.h.tooLarge(&f)
				continue
			}
			t.readFailed(err)
			return
		}
		t.lastRead.Store(t.rclock.last)
		switch f.Type {
		case frame.TypePing:
			if len(f.Body) > frame.MaxPingBody {
				t.connError(codes.InvalidArgument, fmt.Sprintf("PING body of %d bytes exceeds %d", len(f.Body), frame.MaxPingBody))
				return
			}
			_ = t.enqueue(context.Background(), frame.Header{Type: frame.TypePong, SeqID: f.SeqID}, nil, f.Body, true)
		case frame.TypePong:
			// lastRead is what heartbeats need; a Ping caller may wait too.
			t.pong(f.SeqID)
		case frame.TypeGoAway:
			t.h.goAway(&f)
		default:
			if err := t.h.handleFrame(&f); err != nil {
				var ce *connErr
				if errors.As(err, &ce) {
					t.connError(ce.code, ce.msg)
				} else {
					t.close(err)
				}
				return
			}
		}
	}
}

// connErr is a protocol violation by the peer that ends the connection.
type connErr struct {
	code codes.Code
	msg  string
}

func (e *connErr) Error() string { return e.msg }

func (t *transport) readFailed(err error) {
	var fe *frame.Error
	switch {
	case errors.As(err, &fe):
		code := codes.InvalidArgument
		if fe.Kind == frame.KindVersion {
			code = codes.Unimplemented
		}
		t.connError(code, fe.Error())
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		t.close(errConnClosed)
	default:
		t.close(status.Errorf(codes.Unavailable, "mcp: read: %v", err))
	}
	t.dec.Release()
}

// connError tells the peer why with GOAWAY and closes the connection.
func (t *transport) connError(code codes.Code, msg string) {
	meta := frame.Metadata(nil).Append(frame.KeyErrorMessage, sanitize(msg))
	_ = t.enqueue(context.Background(), frame.Header{Type: frame.TypeGoAway, Status: uint8(code), SeqID: t.lastAccepted()}, meta, nil, true)
	t.closeAfterFlush(DefaultShutdownWriteWait, status.Error(codes.Unavailable, "mcp: connection error: "+msg))
}

func (t *transport) lastAccepted() uint32 {
	if la, ok := t.h.(interface{ lastAccepted() uint32 }); ok {
		return la.lastAccepted()
	}
	return 0
}

func (t *transport) startHeartbeat() {
	k := t.opts.keepalive.withDefaults()
	if k.Interval < 0 && k.Timeout < 0 {
		return
	}
	var tick func()
	reaper, _ := t.h.(interface{ reapIdle() })
	tick = func() {
		if t.isDone() {
			return
		}
		if reaper != nil {
			reaper.reapIdle()
		}
		idle := time.Duration(t.sinceEpoch() - t.lastRead.Load())
		if k.Timeout > 0 && idle >= k.Timeout {
			t.close(status.Errorf(codes.Unavailable, "mcp: no frame from the peer for %v", idle.Round(time.Millisecond)))
			return
		}
		next := time.Duration(1<<63 - 1)
		if k.Interval > 0 {
			if idle >= k.Interval {
				var b [4]byte
				seq := t.pingSeq.Add(1)
				b[0], b[1], b[2], b[3] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
				_ = t.enqueue(context.Background(), frame.Header{Type: frame.TypePing, SeqID: seq}, nil, b[:], true)
				next = k.Interval
			} else {
				next = k.Interval - idle
			}
		}
		if k.Timeout > 0 {
			next = min(next, k.Timeout-idle)
		}
		t.hb.Reset(next)
	}
	first := k.Interval
	if first <= 0 || (k.Timeout > 0 && k.Timeout < first) {
		first = k.Timeout
	}
	t.hb = time.AfterFunc(time.Hour, tick)
	t.hb.Reset(first)
}

// sanitize makes s a valid metadata value (printable ASCII, bounded).
func sanitize(s string) string {
	const max = 1024
	if len(s) > max {
		s = s[:max]
	}
	ok := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7E {
			b[i] = '?'
		}
	}
	return string(b)
}
