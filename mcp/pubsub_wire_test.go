package mcp_test

// Publish/subscribe on the wire: a raw MCP/1 client (frame.Decoder on a
// plain TCP connection) checks the frames the server sends.

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/mcp"
	"github.com/mcpbridge/mcpbridge/pubsub"
)

const (
	typeResponse    = frame.TypeResponse
	typeCancel      = frame.TypeCancel
	typeSubscribe   = frame.TypeSubscribe
	typeUnsubscribe = frame.TypeUnsubscribe
	typePublish     = frame.TypePublish
	typeGoAway      = frame.TypeGoAway
)

// rawPS is a raw MCP/1 client connection.
type rawPS struct {
	t   testing.TB
	nc  net.Conn
	dec *frame.Decoder
}

func dialRawPS(t testing.TB, addr string) *rawPS {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawPS{t: t, nc: nc, dec: frame.NewDecoder(nc)}
}

func (r *rawPS) send(typ frame.Type, seq uint32, meta frame.Metadata, body []byte) {
	r.t.Helper()
	h := frame.Header{Type: typ, SeqID: seq}
	if body == nil && typ != frame.TypePublish {
		h.Flags |= frame.FlagNoMessage
	}
	if _, err := r.nc.Write(frame.AppendFrame(nil, h, meta, body)); err != nil {
		r.t.Fatalf("write %v: %v", typ, err)
	}
}

// next returns the next frame other than PING/PONG, copied.
func (r *rawPS) next() frame.Frame {
	r.t.Helper()
	for {
		_ = r.nc.SetReadDeadline(time.Now().Add(psGuard))
		var f frame.Frame
		if err := r.dec.Decode(&f); err != nil {
			r.t.Fatalf("read: %v", err)
		}
		if f.Type == frame.TypePing || f.Type == frame.TypePong {
			continue
		}
		f.Meta, f.Body = f.Meta.Clone(), append([]byte(nil), f.Body...)
		return f
	}
}

// quiet checks that nothing but PING/PONG arrives for d.
func (r *rawPS) quiet(d time.Duration) {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(d))
	for {
		var f frame.Frame
		err := r.dec.Decode(&f)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return
		}
		if err != nil {
			r.t.Fatalf("read: %v", err)
		}
		if f.Type != frame.TypePing && f.Type != frame.TypePong {
			r.t.Fatalf("unexpected %v seq %d", f.Type, f.SeqID)
		}
	}
}

func (r *rawPS) expectEOF() {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(psGuard))
	var f frame.Frame
	for {
		err := r.dec.Decode(&f)
		if err == io.EOF {
			return
		}
		if err != nil {
			r.t.Fatalf("read: %v, want EOF", err)
		}
		if f.Type != frame.TypePing && f.Type != frame.TypePong {
			r.t.Fatalf("got %v seq %d, want EOF", f.Type, f.SeqID)
		}
	}
}

func topicMeta(topic string) frame.Metadata {
	return frame.Metadata(nil).Append(frame.KeyTopic, topic)
}

func metaValue(f frame.Frame, key string) string {
	v, _ := f.Meta.Get(key)
	return string(v)
}

// Deliveries carry the subscription's seq_id and the concrete topic; the
// answers to SUBSCRIBE and UNSUBSCRIBE are RESPONSEs on the same id, and
// nothing is delivered after UNSUBSCRIBE's answer.
func TestPubSubWireDeliveries(t *testing.T) {
	bus := pubsub.NewLocal()
	defer bus.Close()
	addr, _ := psServer(t, bus)
	raw := dialRawPS(t, addr)

	raw.send(typeSubscribe, 7, topicMeta("orders/+/created"), nil)
	raw.send(typeSubscribe, 9, topicMeta("orders/#").Append(frame.KeyQueue, "q"), nil)
	// Each subscription answers on its own: in either order.
	answered := map[uint32]bool{}
	for range 2 {
		f := raw.next()
		if f.Type != typeResponse || (f.SeqID != 7 && f.SeqID != 9) || f.Status != 0 || !f.Flags.Has(frame.FlagNoMessage) {
			t.Fatalf("got %v seq %d status %d flags %#x, want RESPONSE OK for 7 or 9", f.Type, f.SeqID, f.Status, f.Flags)
		}
		answered[f.SeqID] = true
	}
	if len(answered) != 2 {
		t.Fatalf("answers %v", answered)
	}
	// A PUBLISH from the same raw client, fire-and-forget, with headers.
	meta := topicMeta("orders/eu/created").Append(frame.KeyContentType, "application/json").Append("x-id", "42")
	raw.send(typePublish, 0, meta, []byte(`{"id":42}`))
	got := map[uint32]frame.Frame{}
	for range 2 {
		f := raw.next()
		if f.Type != typePublish {
			t.Fatalf("got %v, want PUBLISH", f.Type)
		}
		got[f.SeqID] = f
	}
	for _, id := range []uint32{7, 9} {
		f, ok := got[id]
		if !ok {
			t.Fatalf("no delivery for subscription %d (got %v)", id, got)
		}
		if metaValue(f, frame.KeyTopic) != "orders/eu/created" || string(f.Body) != `{"id":42}` ||
			metaValue(f, frame.KeyContentType) != "application/json" || metaValue(f, "x-id") != "42" || f.Status != 0 {
			t.Fatalf("delivery for %d: topic %q body %q meta ct=%q x-id=%q", id, metaValue(f, frame.KeyTopic), f.Body, metaValue(f, frame.KeyContentType), metaValue(f, "x-id"))
		}
	}
	// A confirmed PUBLISH that matches only subscription 9.
	raw.send(typePublish, 11, topicMeta("orders/eu/paid"), []byte("p"))
	var sawAnswer, sawDelivery bool
	for !sawAnswer || !sawDelivery {
		f := raw.next()
		switch {
		case f.Type == typeResponse && f.SeqID == 11 && f.Status == 0:
			sawAnswer = true
		case f.Type == typePublish && f.SeqID == 9 && metaValue(f, frame.KeyTopic) == "orders/eu/paid":
			sawDelivery = true
		default:
			t.Fatalf("unexpected %v seq %d topic %q", f.Type, f.SeqID, metaValue(f, frame.KeyTopic))
		}
	}
	// UNSUBSCRIBE 7: answered OK on 7; later messages reach 9 only.
	raw.send(typeUnsubscribe, 7, nil, nil)
	if f := raw.next(); f.Type != typeResponse || f.SeqID != 7 || f.Status != 0 {
		t.Fatalf("UNSUBSCRIBE answered %v seq %d status %d", f.Type, f.SeqID, f.Status)
	}
	raw.send(typePublish, 0, topicMeta("orders/us/created"), nil)
	if f := raw.next(); f.Type != typePublish || f.SeqID != 9 || len(f.Body) != 0 {
		t.Fatalf("got %v seq %d, want the PUBLISH for 9 only", f.Type, f.SeqID)
	}
	// UNSUBSCRIBE of an id that is not a subscription: NOT_FOUND.
	raw.send(typeUnsubscribe, 7, nil, nil)
	if f := raw.next(); f.Type != typeResponse || f.SeqID != 7 || codes.Code(f.Status) != codes.NotFound {
		t.Fatalf("second UNSUBSCRIBE answered %v seq %d status %d, want NOT_FOUND", f.Type, f.SeqID, f.Status)
	}
	// CANCEL ends subscription 9 without an answer.
	raw.send(typeCancel, 9, nil, nil)
	waitSubs(t, bus, 0)
	raw.send(typePublish, 0, topicMeta("orders/us/created"), nil)
	raw.quiet(50 * time.Millisecond)
}

// The server's answers to bad frames: precise INVALID_ARGUMENT statuses
// for topics and filters, and connection errors for ids.
func TestPubSubWireErrors(t *testing.T) {
	bus := pubsub.NewLocal()
	defer bus.Close()
	addr, _ := psServer(t, bus)
	raw := dialRawPS(t, addr)
	for _, tc := range []struct {
		name string
		typ  frame.Type
		meta frame.Metadata
		code codes.Code
		msg  string
	}{
		{"subscribe without topic", typeSubscribe, nil, codes.InvalidArgument, "without a :topic"},
		{"subscribe bad filter", typeSubscribe, topicMeta("a/b#"), codes.InvalidArgument, `invalid topic filter "a/b#"`},
		{"subscribe bad queue", typeSubscribe, topicMeta("a").Append(frame.KeyQueue, "a b"), codes.InvalidArgument, "queue name"},
		{"publish without topic", typePublish, nil, codes.InvalidArgument, "without a :topic"},
		{"publish wildcard", typePublish, topicMeta("a/#"), codes.InvalidArgument, "wildcards belong in filters"},
	} {
		raw.send(tc.typ, 21, tc.meta, nil)
		f := raw.next()
		msg := metaValue(f, frame.KeyErrorMessage)
		if f.Type != typeResponse || f.SeqID != 21 || codes.Code(f.Status) != tc.code || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: got %v seq %d status %v %q, want %v containing %q", tc.name, f.Type, f.SeqID, codes.Code(f.Status), msg, tc.code, tc.msg)
		}
	}
	// A bad unconfirmed PUBLISH is dropped silently.
	raw.send(typePublish, 0, topicMeta("a/+"), nil)
	raw.quiet(20 * time.Millisecond)

	// A SUBSCRIBE whose id is an open subscription is a connection error.
	raw.send(typeSubscribe, 30, topicMeta("a"), nil)
	if f := raw.next(); f.Type != typeResponse || f.Status != 0 {
		t.Fatalf("SUBSCRIBE answered %v status %d", f.Type, f.Status)
	}
	raw.send(typeSubscribe, 30, topicMeta("b"), nil)
	if f := raw.next(); f.Type != typeGoAway || codes.Code(f.Status) != codes.InvalidArgument || !strings.Contains(metaValue(f, frame.KeyErrorMessage), "reused") {
		t.Fatalf("got %v status %d %q, want GOAWAY INVALID_ARGUMENT", f.Type, f.Status, metaValue(f, frame.KeyErrorMessage))
	}
	raw.expectEOF()
	waitSubs(t, bus, 0)

	// So is a REQUEST on an open subscription's id (to a server that
	// serves any path), and a SUBSCRIBE with seq_id 0.
	addr, _ = psServer(t, bus, mcp.WithUnknownHandler(func(*mcp.RawStream) error { return nil }))
	raw = dialRawPS(t, addr)
	raw.send(typeSubscribe, 4, topicMeta("a"), nil)
	raw.next()
	raw.send(frame.TypeRequest, 4, frame.Metadata(nil).Append(frame.KeyPath, "/x.Y/Z"), []byte{})
	if f := raw.next(); f.Type != typeGoAway || codes.Code(f.Status) != codes.InvalidArgument {
		t.Fatalf("got %v status %d, want GOAWAY INVALID_ARGUMENT", f.Type, f.Status)
	}
	raw.expectEOF()
	raw = dialRawPS(t, addr)
	raw.send(typeSubscribe, 0, topicMeta("a"), nil)
	if f := raw.next(); f.Type != typeGoAway || codes.Code(f.Status) != codes.InvalidArgument {
		t.Fatalf("got %v status %d, want GOAWAY INVALID_ARGUMENT", f.Type, f.Status)
	}
	raw.expectEOF()
	waitSubs(t, bus, 0)
}

// The client's frames: SUBSCRIBE carries :topic and :queue and waits for
// its answer; a Subscribe whose context ends first sends CANCEL; a PUBLISH
// is seq_id 0 unless confirmed; UNSUBSCRIBE uses the subscription's id; and
// the client ignores deliveries for ids it does not hold.
func TestPubSubWireClient(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conn := psDial(t, l.Addr().String())
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	server := &rawPS{t: t, nc: nc, dec: frame.NewDecoder(nc)}
	defer nc.Close()

	type result struct {
		sub *mcp.Subscription
		err error
	}
	subscribe := func(ctx context.Context, filter string, opts ...mcp.SubscribeOption) <-chan result {
		ch := make(chan result, 1)
		go func() {
			s, err := conn.Subscribe(ctx, filter, opts...)
			ch <- result{s, err}
		}()
		return ch
	}

	// Cancelled before the answer: CANCEL on the same id.
	ctx, cancel := context.WithCancel(context.Background())
	res := subscribe(ctx, "c/#")
	f := server.next()
	if f.Type != typeSubscribe || f.SeqID == 0 || metaValue(f, frame.KeyTopic) != "c/#" {
		t.Fatalf("got %v seq %d topic %q", f.Type, f.SeqID, metaValue(f, frame.KeyTopic))
	}
	cancel()
	if r := <-res; statusCode(r.err) != codes.Canceled {
		t.Fatalf("Subscribe = %v, want CANCELED", r.err)
	}
	if c := server.next(); c.Type != typeCancel || c.SeqID != f.SeqID {
		t.Fatalf("got %v seq %d, want CANCEL %d", c.Type, c.SeqID, f.SeqID)
	}
	// A late answer for it is ignored.
	server.send(typeResponse, f.SeqID, nil, nil)

	// Answered: the Subscription receives the deliveries for its id only.
	res = subscribe(psCtx(t), "o/+", mcp.WithQueueGroup("workers"))
	f = server.next()
	if f.Type != typeSubscribe || metaValue(f, frame.KeyTopic) != "o/+" || metaValue(f, frame.KeyQueue) != "workers" {
		t.Fatalf("got %v topic %q queue %q", f.Type, metaValue(f, frame.KeyTopic), metaValue(f, frame.KeyQueue))
	}
	id := f.SeqID
	server.send(typeResponse, id, nil, nil)
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	sub := r.sub
	server.send(typePublish, id+100, topicMeta("o/other"), []byte("not ours"))
	server.send(typePublish, id, topicMeta("o/1").Append("x-h", "v"), []byte("one"))
	m := psRecv(t, sub)
	if m.Topic != "o/1" || string(m.Payload) != "one" || m.Header.Get("x-h") != "v" {
		t.Fatalf("received %q %q %v", m.Topic, m.Payload, m.Header)
	}

	// PUBLISH: seq_id 0, or a fresh id answered by a RESPONSE.
	if err := conn.Publish(psCtx(t), "o/2", []byte("ff")); err != nil {
		t.Fatal(err)
	}
	if f := server.next(); f.Type != typePublish || f.SeqID != 0 || metaValue(f, frame.KeyTopic) != "o/2" || string(f.Body) != "ff" || f.Flags.Has(frame.FlagNoMessage) {
		t.Fatalf("got %v seq %d topic %q body %q flags %#x", f.Type, f.SeqID, metaValue(f, frame.KeyTopic), f.Body, f.Flags)
	}
	perr := make(chan error, 1)
	go func() { perr <- conn.Publish(psCtx(t), "o/3", nil, mcp.WithConfirm()) }()
	f = server.next()
	if f.Type != typePublish || f.SeqID == 0 || f.SeqID == id {
		t.Fatalf("confirmed publish: %v seq %d", f.Type, f.SeqID)
	}
	meta := frame.Metadata(nil).Append(frame.KeyErrorMessage, "no")
	server.nc.Write(frame.AppendFrame(nil, frame.Header{Type: typeResponse, Flags: frame.FlagNoMessage, Status: uint8(codes.PermissionDenied), SeqID: f.SeqID}, meta, nil))
	if err := <-perr; statusCode(err) != codes.PermissionDenied {
		t.Fatalf("confirmed Publish = %v, want PERMISSION_DENIED", err)
	}

	// UNSUBSCRIBE on the subscription's id, answered by a RESPONSE.
	uerr := make(chan error, 1)
	go func() { uerr <- sub.Unsubscribe(psCtx(t)) }()
	if f := server.next(); f.Type != typeUnsubscribe || f.SeqID != id {
		t.Fatalf("got %v seq %d, want UNSUBSCRIBE %d", f.Type, f.SeqID, id)
	}
	server.send(typePublish, id, topicMeta("o/4"), []byte("before the answer"))
	server.send(typeResponse, id, nil, nil)
	if err := <-uerr; err != nil {
		t.Fatal(err)
	}
	var rest []string
	for m := range sub.C() {
		rest = append(rest, string(m.Payload))
	}
	if len(rest) != 1 || rest[0] != "before the answer" || !errors.Is(sub.Err(), pubsub.ErrUnsubscribed) {
		t.Fatalf("after Unsubscribe: %q, Err %v", rest, sub.Err())
	}
}

func statusCode(err error) codes.Code { return status.Code(err) }
