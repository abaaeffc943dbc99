package httpfront

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/transcode"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// gRPC-Web (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md):
// a browser's gRPC call over HTTP/1.1 or HTTP/2, its messages framed as in
// gRPC (a flag byte and a 4-byte length) and its status and trailers sent
// as a last frame (flag 0x80) in the body, since browsers cannot read HTTP
// trailers. The "-text" variants carry the framed bytes in base64. The
// messages are forwarded as bytes, like the gRPC front door's: no
// transcoding, no descriptors. Browsers send unary and server-streaming
// calls only: the whole request body is read before the call is routed.

// grpcWebType reports whether ct is a gRPC-Web content type, and whether it
// is a -text (base64) one.
func grpcWebType(ct string) (web, text bool) {
	base, _, _ := strings.Cut(ct, ";")
	base = strings.ToLower(strings.TrimSpace(base))
	switch base {
	case "application/grpc-web", "application/grpc-web+proto":
		return true, false
	case "application/grpc-web-text", "application/grpc-web-text+proto":
		return true, true
	}
	return false, false
}

// frame flags.
const (
	webData     = 0x00
	webTrailers = 0x80
)

// webCall is one gRPC-Web call: the gateway.Stream the route table serves.
type webCall struct {
	h    *Handler
	w    http.ResponseWriter
	r    *http.Request
	ctx  context.Context
	orig metadata.MD // the request's headers, to tell forwarded ones from added ones
	text bool

	msgs [][]byte // the request's messages
	next int

	header  metadata.MD
	trailer metadata.MD
	started bool // the response header is written
	enc     []byte
}

var _ gateway.Stream = (*webCall)(nil)

func (c *webCall) Context() context.Context { return c.ctx }

// HalfClosed: the whole request was read before the call was routed.
func (c *webCall) HalfClosed() bool { return true }

func (c *webCall) RecvMsg() ([]byte, error) {
	if c.next == len(c.msgs) {
		return nil, io.EOF
	}
	b := c.msgs[c.next]
	c.msgs[c.next] = nil
	c.next++
	return b, nil
}

func (c *webCall) SendHeader(md metadata.MD) error {
	c.header = metadata.Join(c.header, md)
	return nil
}

func (c *webCall) SetTrailer(md metadata.MD) { c.trailer = metadata.Join(c.trailer, md) }

func (c *webCall) SendMsg(b []byte) error {
	if err := c.writeFrame(webData, b); err != nil {
		return status.Errorf(codes.Canceled, "writing to the HTTP client: %v", err)
	}
	return nil
}

// start writes the response header, once.
func (c *webCall) start() {
	if c.started {
		return
	}
	c.started = true
	hd := c.w.Header()
	setHeaders(hd, c.header)
	ct := "application/grpc-web+proto"
	if c.text {
		ct = "application/grpc-web-text+proto"
	}
	hd.Set("Content-Type", ct)
	c.w.WriteHeader(http.StatusOK)
}

// writeFrame writes one frame, base64-encoded for -text, and flushes.
func (c *webCall) writeFrame(flag byte, payload []byte) error {
	c.start()
	var hdr [5]byte
	hdr[0] = flag
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	var err error
	if c.text {
		raw := append(append(c.enc[:0], hdr[:]...), payload...)
		out := make([]byte, base64.StdEncoding.EncodedLen(len(raw)))
		base64.StdEncoding.Encode(out, raw)
		c.enc = raw[:0]
		_, err = c.w.Write(out)
	} else {
		if _, err = c.w.Write(hdr[:]); err == nil {
			_, err = c.w.Write(payload)
		}
	}
	if err == nil {
		err = http.NewResponseController(c.w).Flush()
	}
	return err
}

// finish writes the trailers frame: the status and the trailer metadata.
func (c *webCall) finish(err error) {
	st := status.Convert(err)
	var b bytes.Buffer
	b.WriteString("grpc-status:")
	b.WriteString(strconv.Itoa(int(st.Code())))
	b.WriteString("\r\n")
	if st.Message() != "" {
		b.WriteString("grpc-message:")
		b.WriteString(encodeGRPCMessage(st.Message()))
		b.WriteString("\r\n")
	}
	if len(st.Proto().GetDetails()) > 0 {
		if d, err := proto.Marshal(st.Proto()); err == nil {
			b.WriteString("grpc-status-details-bin:")
			b.WriteString(base64.RawStdEncoding.EncodeToString(d))
			b.WriteString("\r\n")
		}
	}
	tmp := http.Header{}
	setHeaders(tmp, c.trailer)
	for k, vs := range tmp {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "grpc-") {
			continue
		}
		for _, v := range vs {
			b.WriteString(lk)
			b.WriteByte(':')
			b.WriteString(v)
			b.WriteString("\r\n")
		}
	}
	_ = c.writeFrame(webTrailers, b.Bytes())
}

// encodeGRPCMessage percent-encodes a status message as gRPC does.
func encodeGRPCMessage(msg string) string {
	for i := 0; i < len(msg); i++ {
		if c := msg[i]; c < 0x20 || c > 0x7e || c == '%' {
			return url.PathEscape(msg)
		}
	}
	return msg
}

// keep reports whether request metadata key k goes upstream: a forwarded
// header, or one a filter added.
func (c *webCall) keep(k string) bool {
	if _, fromClient := c.orig[k]; fromClient {
		return c.h.forwarded(k)
	}
	return true
}

func (c *webCall) outgoing(md metadata.MD) metadata.MD {
	out := make(metadata.MD, len(md))
	for k, v := range md {
		if c.keep(k) {
			out[k] = v
		}
	}
	return out
}

// readMessages reads the request body and splits it into messages.
func (c *webCall) readMessages() error {
	ex := &exchange{h: c.h, w: c.w, r: c.r}
	body, err := ex.readBody(false)
	if err != nil {
		return err
	}
	if c.text {
		if body, err = decodeWebText(body); err != nil {
			return status.Errorf(codes.InvalidArgument, "gRPC-Web text body: %v", err)
		}
	}
	if c.msgs, err = splitWebFrames(body); err != nil {
		return err
	}
	if ex.buf != nil {
		*ex.buf = (*ex.buf)[:0]
		c.h.bufs.Put(ex.buf)
	}
	return nil
}

// splitWebFrames returns copies of the messages of a gRPC-Web request body
// (data frames; a trailers frame from a client is ignored).
func splitWebFrames(body []byte) ([][]byte, error) {
	var msgs [][]byte
	for len(body) > 0 {
		if len(body) < 5 {
			return nil, status.Error(codes.InvalidArgument, "gRPC-Web body: a truncated frame header")
		}
		flag, n := body[0], binary.BigEndian.Uint32(body[1:5])
		if uint64(n) > uint64(len(body)-5) {
			return nil, status.Errorf(codes.InvalidArgument, "gRPC-Web body: a frame of %d bytes in %d", n, len(body)-5)
		}
		if flag&1 != 0 {
			return nil, status.Error(codes.Unimplemented, "gRPC-Web body: compressed messages are not supported")
		}
		if flag&webTrailers == 0 {
			msgs = append(msgs, append([]byte(nil), body[5:5+n]...))
		}
		body = body[5+n:]
	}
	return msgs, nil
}

// decodeWebText decodes a -text body: base64, possibly several padded
// chunks one after the other.
func decodeWebText(b []byte) ([]byte, error) {
	b = bytes.Join(bytes.Fields(b), nil)
	if len(b)%4 != 0 {
		return nil, base64.CorruptInputError(len(b))
	}
	out := make([]byte, 0, base64.StdEncoding.DecodedLen(len(b)))
	var buf [3]byte
	for i := 0; i < len(b); i += 4 {
		n, err := base64.StdEncoding.Decode(buf[:], b[i:i+4])
		if err != nil {
			return nil, err
		}
		out = append(out, buf[:n]...)
	}
	return out, nil
}

// serveGRPCWeb serves one gRPC-Web call through the route table.
func (h *Handler) serveGRPCWeb(w http.ResponseWriter, r *http.Request, text bool, start time.Time) {
	c := &webCall{h: h, w: w, r: r, text: text}
	md := requestMD(r)
	c.orig = md
	if r.Method != http.MethodPost {
		err := status.Errorf(codes.Unimplemented, "gRPC-Web calls are POST, not %s", r.Method)
		c.finish(err)
		h.observed("grpc-web", Unrouted, err, start)
		return
	}
	ctx, cancel, err := callContext(r)
	if err != nil {
		c.finish(err)
		h.observed("grpc-web", Unrouted, err, start)
		return
	}
	defer cancel()
	c.ctx = transcode.WithOutgoing(ctx, c.outgoing)
	if err := c.readMessages(); err != nil {
		c.finish(err)
		h.observed("grpc-web", Unrouted, err, start)
		return
	}
	req := &gateway.Request{
		Protocol:    gateway.ProtocolGRPCWeb,
		Method:      http.MethodPost,
		Path:        r.URL.EscapedPath(),
		Header:      md,
		ContentType: "application/grpc",
	}
	err = h.router.Serve(req, c)
	c.finish(err)
	h.observed("grpc-web", routeLabel(req), err, start)
}
