package mcp

import (
	"context"
	"crypto/tls"
	"google.golang.org/grpc/codes"
	"net"
	"time"

	"github.com/mcpbridge/mcpbridge/frame"
	"google.golang.org/grpc"
)

// Defaults of the options below.
const (
	DefaultMaxConcurrentCalls = 100_000          // per connection, each side
	DefaultStreamQueue        = 256              // inbound messages queued per call
	DefaultStreamQueueBytes   = 8 << 20          // inbound bytes queued per call
	DefaultStreamQueueWait    = time.Second      // how long a full call queue may hold the connection's reader
	DefaultWriteBufferLimit   = 4 << 20          // queued outbound bytes before senders wait
	DefaultKeepaliveInterval  = 30 * time.Second // PING after this long without a frame
	DefaultDialTimeout        = 10 * time.Second
	DefaultShutdownWriteWait  = 5 * time.Second // how long a final GOAWAY may take to write
	DefaultHandshakeTimeout   = 10 * time.Second
)

// KeepaliveParams configures heartbeats (PROTOCOL.md §8). A side sends PING
// when it has received no frame for Interval, and closes the connection,
// ending its calls with UNAVAILABLE, when it has received nothing for
// Timeout.
type KeepaliveParams struct {
	// Interval is the idle time before a PING. Default 30s. Negative
	// disables PINGs (the idle timeout still applies unless it is negative
	// too).
	Interval time.Duration
	// Timeout is the idle time after which the connection is closed.
	// Default 3 × Interval. Negative disables it.
	Timeout time.Duration
}

func (k KeepaliveParams) withDefaults() KeepaliveParams {
	if k.Interval == 0 {
		k.Interval = DefaultKeepaliveInterval
	}
	if k.Timeout == 0 {
		if k.Interval > 0 {
			k.Timeout = 3 * k.Interval
		} else {
			k.Timeout = 3 * DefaultKeepaliveInterval
		}
	}
	return k
}

// connOptions are the settings both sides share.
type connOptions struct {
	maxRecvMsg    int // default frame.DefaultMaxMessage
	maxSendMsg    int // default frame.DefaultMaxMessage
	maxFrame      int // default frame.DefaultMaxFrame
	checksum      bool
	maxCalls      int
	streamQueue   int
	streamBytes   int
	streamWait    time.Duration // <= 0: never wait
	writeLimit    int
	keepalive     KeepaliveParams
	tls           *tls.Config
	handshakeWait time.Duration
}

func defaultConnOptions() connOptions {
	return connOptions{
		maxRecvMsg:    frame.DefaultMaxMessage,
		maxSendMsg:    frame.DefaultMaxMessage,
		maxFrame:      frame.DefaultMaxFrame,
		maxCalls:      DefaultMaxConcurrentCalls,
		streamQueue:   DefaultStreamQueue,
		streamBytes:   DefaultStreamQueueBytes,
		streamWait:    DefaultStreamQueueWait,
		writeLimit:    DefaultWriteBufferLimit,
		handshakeWait: DefaultHandshakeTimeout,
	}
}

// Option configures both a Server and a Conn. Options apply in order.
type Option interface {
	ServerOption
	DialOption
}

// ServerOption configures a Server.
type ServerOption interface{ applyServer(*serverOptions) }

// DialOption configures a Conn.
type DialOption interface{ applyDial(*dialOptions) }

type commonOption func(*connOptions)

func (o commonOption) applyServer(s *serverOptions) { o(&s.conn) }
func (o commonOption) applyDial(d *dialOptions)     { o(&d.conn) }

// WithMaxMessageSize sets the largest message this side receives and sends
// (default 4 MiB). A larger incoming body is skipped and its call answered
// RESOURCE_EXHAUSTED; the connection is kept. A larger outgoing message fails
// the call with RESOURCE_EXHAUSTED before anything is sent.
func WithMaxMessageSize(n int) Option {
	return commonOption(func(o *connOptions) {
		if n > 0 {
			o.maxRecvMsg, o.maxSendMsg = n, n
		}
	})
}

// WithMaxFrameSize sets the hard frame limit (default 64 MiB): a larger
// incoming frame is a connection error.
func WithMaxFrameSize(n int) Option {
	return commonOption(func(o *connOptions) {
		if n > 0 {
			o.maxFrame = n
		}
	})
}

// WithChecksums makes this side set the CHECKSUM flag, with a CRC-32C
// trailer, on every frame it sends (default off). Frames received with the
// flag are always checked.
func WithChecksums(on bool) Option {
	return commonOption(func(o *connOptions) { o.checksum = on })
}

// WithMaxConcurrentCalls bounds the calls open at once on one connection
// (default 100,000). A server answers a call over the bound with
// RESOURCE_EXHAUSTED; a client fails it locally with RESOURCE_EXHAUSTED.
//
// On a server, NOTIFY handlers that are still running count against the
// same bound. A NOTIFY that arrives when the bound is reached cannot be
// answered (PROTOCOL.md: nothing is ever answered, not even an error), so
// it is dropped without running its handler and counted in
// Server.DroppedNotifies. A flood of notifies therefore never holds more
// than n handler goroutines per connection, and never stalls the
// connection's other calls.
func WithMaxConcurrentCalls(n int) Option {
	return commonOption(func(o *connOptions) {
		if n > 0 {
			o.maxCalls = n
		}
	})
}

// WithStreamQueue bounds each streaming call's inbound queue: messages
// (default 256) and bytes (default 8 MiB). MCP/1 has no per-call flow
// control, so when a call's queue is full the connection's reader waits for
// the application to take a message, at most WithStreamQueueWait (default
// 1s); then the call ends with RESOURCE_EXHAUSTED and the connection goes
// on. A message larger than the byte bound is still taken when the queue is
// empty.
func WithStreamQueue(messages, bytes int) Option {
	return commonOption(func(o *connOptions) {
		if messages > 0 {
			o.streamQueue = messages
		}
		if bytes > 0 {
			o.streamBytes = bytes
		}
	})
}

// WithStreamQueueWait sets how long the connection's reader waits for room
// in a streaming call's full inbound queue (WithStreamQueue) before it ends
// the call with RESOURCE_EXHAUSTED; default 1s. A negative d never waits:
// a full queue ends the call at once. 0 keeps the default.
//
// While the reader waits, no frame of any call on the connection is read:
// this is the back-pressure MCP/1 has (TCP's, per connection). The wait lets
// a stream of any length reach an application that reads it as fast as it
// can, whatever bursts the scheduler makes; its bound caps how long an
// application that stops reading one call can hold up the others. An
// application that reads slowly but steadily slows the whole connection to
// its pace, as it would a single TCP stream: with many unrelated callers on
// one connection (a proxy), a shorter wait favours the other calls.
//
// On a server it also bounds how long an async call's SendMsg or SendHeader
// (WithAsyncHandler) waits for room in the connection's write queue once
// that is full.
func WithStreamQueueWait(d time.Duration) Option {
	return commonOption(func(o *connOptions) {
		switch {
		case d < 0:
			o.streamWait = 0
		case d > 0:
			o.streamWait = d
		}
	})
}

// WithWriteBufferLimit bounds the bytes queued for the connection's writer
// (default 4 MiB). Senders past it wait (honouring their context) until the
// writer has drained the queue.
func WithWriteBufferLimit(n int) Option {
	return commonOption(func(o *connOptions) {
		if n > 0 {
			o.writeLimit = n
		}
	})
}

// WithKeepalive sets the heartbeat parameters.
func WithKeepalive(k KeepaliveParams) Option {
	return commonOption(func(o *connOptions) { o.keepalive = k })
}

// WithTLS sets the TLS configuration: a Server wraps every accepted
// connection in tls.Server, a Conn dials with tls.Client.
func WithTLS(cfg *tls.Config) Option {
	return commonOption(func(o *connOptions) { o.tls = cfg })
}

type serverOptions struct {
	conn       connOptions
	unaryInts  []grpc.UnaryServerInterceptor
	streamInts []grpc.StreamServerInterceptor
	unknown    RawHandler
	async      AsyncHandler
	observer   func(CallInfo)
	pubsub     serverPubSub // pubsub_options.go
}

type serverOption func(*serverOptions)

func (o serverOption) applyServer(s *serverOptions) { o(s) }

// WithUnaryInterceptor adds unary server interceptors; several are chained
// in the order given, the first outermost.
func WithUnaryInterceptor(i ...grpc.UnaryServerInterceptor) ServerOption {
	return serverOption(func(s *serverOptions) { s.unaryInts = append(s.unaryInts, i...) })
}

// WithStreamInterceptor adds stream server interceptors, chained in order.
func WithStreamInterceptor(i ...grpc.StreamServerInterceptor) ServerOption {
	return serverOption(func(s *serverOptions) { s.streamInts = append(s.streamInts, i...) })
}

// CallInfo describes a served call that has ended (WithCallObserver).
type CallInfo struct {
	Method string // the call's :path
	// Tag is what the handler set with RawStream.SetTag or AsyncCall.SetTag;
	// "" otherwise (always, for registered services).
	Tag string
	// Code is the call's status: the one its RESPONSE carried, or CANCELED
	// for a call the client cancelled or whose connection closed.
	Code codes.Code
	// Duration is from the REQUEST's arrival to the call's end.
	Duration time.Duration
	Notify   bool // a NOTIFY (nothing was answered)
}

// WithCallObserver has f told of every call and NOTIFY when it ends, once,
// on the goroutine that ends it (a handler's, the connection's reader, or a
// timer's): f must be quick and must not block. For metrics.
func WithCallObserver(f func(CallInfo)) ServerOption {
	return serverOption(func(s *serverOptions) { s.observer = f })
}

// WithUnknownHandler serves every path that no registered service serves.
// Without it such calls answer UNIMPLEMENTED.
func WithUnknownHandler(h RawHandler) ServerOption {
	return serverOption(func(s *serverOptions) { s.unknown = h })
}

type dialOptions struct {
	conn        connOptions
	dialTimeout time.Duration
	dialer      func(ctx context.Context, addr string) (net.Conn, error)
	unaryInts   []grpc.UnaryClientInterceptor
	streamInts  []grpc.StreamClientInterceptor
	backoff     Backoff
}

type dialOption func(*dialOptions)

func (o dialOption) applyDial(d *dialOptions) { o(d) }

// WithDialTimeout bounds each connection attempt (default 10s).
func WithDialTimeout(d time.Duration) DialOption {
	return dialOption(func(o *dialOptions) {
		if d > 0 {
			o.dialTimeout = d
		}
	})
}

// WithContextDialer replaces net.Dialer for making connections, for example
// to dial an in-memory listener.
func WithContextDialer(f func(ctx context.Context, addr string) (net.Conn, error)) DialOption {
	return dialOption(func(o *dialOptions) { o.dialer = f })
}

// WithClientUnaryInterceptor adds unary client interceptors, chained in
// order, the first outermost. They are called with a nil *grpc.ClientConn.
func WithClientUnaryInterceptor(i ...grpc.UnaryClientInterceptor) DialOption {
	return dialOption(func(o *dialOptions) { o.unaryInts = append(o.unaryInts, i...) })
}

// WithClientStreamInterceptor adds stream client interceptors, chained in
// order. They are called with a nil *grpc.ClientConn.
func WithClientStreamInterceptor(i ...grpc.StreamClientInterceptor) DialOption {
	return dialOption(func(o *dialOptions) { o.streamInts = append(o.streamInts, i...) })
}

// Backoff is the reconnection schedule: the n-th consecutive failed attempt
// waits min(Base × Multiplier^n, Max), spread by ±Jitter (a fraction).
// Defaults, as gRPC's (DefaultBackoff): Base 1s, Multiplier 1.6, Jitter 0.2,
// Max 120s.
//
// A zero field takes its default, so Backoff{Base: time.Second / 10} changes
// the base only. For Jitter that makes 0 the default too: set NoJitter (any
// negative value) to turn jitter off.
type Backoff struct {
	Base       time.Duration
	Multiplier float64 // < 1: the default
	Jitter     float64 // 0: the default 0.2; NoJitter (< 0): none; at most 1
	Max        time.Duration
}

// NoJitter, as Backoff.Jitter, disables jitter: every client redials on the
// same schedule.
const NoJitter = -1.0

// DefaultBackoff is the schedule a Conn uses without WithBackoff, as
// grpc-go's backoff.DefaultConfig.
var DefaultBackoff = Backoff{Base: time.Second, Multiplier: 1.6, Jitter: 0.2, Max: 120 * time.Second}

// WithBackoff sets the reconnection schedule.
func WithBackoff(b Backoff) DialOption {
	return dialOption(func(o *dialOptions) { o.backoff = b })
}

func (b Backoff) withDefaults() Backoff {
	if b.Base <= 0 {
		b.Base = DefaultBackoff.Base
	}
	if b.Multiplier < 1 {
		b.Multiplier = DefaultBackoff.Multiplier
	}
	switch {
	case b.Jitter < 0:
		b.Jitter = 0 // NoJitter
	case b.Jitter == 0:
		b.Jitter = DefaultBackoff.Jitter
	case b.Jitter > 1:
		b.Jitter = 1 // a wait is never negative
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	return b
}
