package transcode

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/descriptors"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// marshalField writes field fd of msg as JSON (response_body).
func marshalField(mo protojson.MarshalOptions, dst []byte, msg *dynamicpb.Message, fd protoreflect.FieldDescriptor) ([]byte, error) {
	if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() {
		return mo.MarshalAppend(dst, msg.Get(fd).Message().Interface())
	}
	only := dynamicpb.NewMessage(msg.Descriptor())
	if msg.Has(fd) {
		only.Set(fd, msg.Get(fd))
	}
	mo.EmitUnpopulated = true
	mo.UseProtoNames = true
	b, err := mo.Marshal(only)
	if err != nil {
		return dst, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return dst, err
	}
	v, ok := fields[string(fd.Name())]
	if !ok {
		return append(dst, "null"...), nil
	}
	return append(dst, v...), nil
}

// HalfCloser is upstream.HalfCloser (restated to keep this package free of
// the upstream package).
type HalfCloser interface{ HalfClosed() bool }

func (t *transcoder) serveHTTP(req *gateway.Request, s gateway.Stream, ex Exchange) error {
	src := t.src.Source()
	if src == nil {
		return t.noDescriptors()
	}
	idx, err := src.Index(s.Context())
	if err != nil {
		return err
	}
	var m *descriptors.Method
	var b *descriptors.Binding
	var vals []string
	if req.Method == "POST" {
		m = idx.Method(req.Path)
	}
	if m == nil {
		if b, vals = idx.MatchHTTP(req.Method, req.Path); b != nil {
			m = b.Method
		}
	}
	if m == nil {
		src.Miss()
		if allowed := idx.AllowedMethods(req.Path); len(allowed) > 0 {
			return &MethodNotAllowedError{
				Allowed: allowed,
				st:      status.Newf(codes.Unimplemented, "%s is not bound to %s (methods bound to it: %v)", req.Method, truncate(req.Path), allowed),
			}
		}
		return status.Errorf(codes.NotFound, "no method for %s %s in the descriptors of upstream %s", req.Method, truncate(req.Path), t.src.Name)
	}
	ex.Start(m)
	out := *req
	out.Path = m.Path
	out.Method = "POST"
	out.ContentType = "application/grpc"
	out.Header = ex.Outgoing(req.Header)
	hs := &httpStream{Stream: s, ex: ex, c: codec{opts: &t.opts, idx: idx, m: m, b: b, vals: vals, query: true, r: ex.HTTPRequest()}}
	hs.rawOut = rawResponse(m, b)
	raw := rawRequest(m, b)
	switch {
	case raw && m.ClientStreaming:
		return status.Errorf(codes.Unimplemented, "%s takes a stream of google.api.HttpBody, which the HTTP front door does not carry", m.Path)
	case raw:
		body, err := ex.ReadRawBody()
		if err != nil {
			return err
		}
		if hs.one, err = hs.c.decodeRaw(body, ex.HTTPRequest().Header.Get("Content-Type")); err != nil {
			return err
		}
		hs.single, hs.halfClosed = true, true
	case !m.ClientStreaming:
		body, err := ex.ReadBody()
		if err != nil {
			return err
		}
		if hs.one, err = hs.c.decode(body, "request body"); err != nil {
			return err
		}
		hs.single, hs.halfClosed = true, true
	case !m.ServerStreaming:
		// A client stream whose whole body is at hand: the upstream
		// forwards it without a goroutine.
		ok, err := ex.Preload()
		if err != nil {
			return err
		}
		hs.halfClosed = ok
	}
	return t.next.Serve(&out, hs)
}

func truncate(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}

// httpStream is the upstream's view of an HTTP call: protobuf messages.
type httpStream struct {
	gateway.Stream // the front door's (Context, SendHeader, SetTrailer)
	ex             Exchange
	c              codec

	rawOut     bool   // answers are google.api.HttpBody data, not JSON
	halfClosed bool   // the whole request is at hand (HalfCloser)
	single     bool   // one request message: one
	one        []byte // the request message of a call that sends one
	done       bool
	n          int // messages received, for errors
}

func (h *httpStream) HalfClosed() bool { return h.halfClosed }

func (h *httpStream) RecvMsg() ([]byte, error) {
	if h.single {
		if h.done {
			return nil, io.EOF
		}
		h.done = true
		b := h.one
		h.one = nil
		return b, nil
	}
	line, err := h.ex.NextLine()
	if err != nil {
		return nil, err
	}
	h.n++
	return h.c.decode(line, fmt.Sprintf("request message %d", h.n))
}

func (h *httpStream) SendMsg(b []byte) error {
	if h.rawOut {
		ct, data, err := h.c.rawAnswer(b)
		if err != nil {
			return err
		}
		return h.ex.SendRaw(ct, data)
	}
	out, err := h.c.encode(nil, b)
	if err != nil {
		return err
	}
	return h.Stream.SendMsg(out)
}

// serveJSON serves an MCP or gRPC call whose messages are JSON.
func (t *transcoder) serveJSON(req *gateway.Request, s gateway.Stream, src *descriptors.Source) error {
	idx, err := src.Index(s.Context())
	if err != nil {
		return err
	}
	m := idx.Method(req.Path)
	if m == nil {
		src.Miss()
		return status.Errorf(codes.Unimplemented, "method %s not in the descriptors of upstream %s", truncate(req.Path), t.src.Name)
	}
	out := *req
	out.ContentType = ""
	js := &jsonStream{Stream: s, c: codec{opts: &t.opts, idx: idx, m: m}}
	if hc, ok := s.(HalfCloser); ok && hc.HalfClosed() {
		return t.next.Serve(&out, &halfClosedJSON{js})
	}
	return t.next.Serve(&out, js)
}

// jsonStream converts an MCP or gRPC call's JSON messages.
type jsonStream struct {
	gateway.Stream
	c codec
	n int
}

func (j *jsonStream) RecvMsg() ([]byte, error) {
	b, err := j.Stream.RecvMsg()
	if err != nil {
		return nil, err
	}
	j.n++
	what := "request message"
	if j.n > 1 {
		what = fmt.Sprintf("request message %d", j.n)
	}
	return j.c.decode(b, what)
}

func (j *jsonStream) SendMsg(b []byte) error {
	out, err := j.c.encode(nil, b)
	if err != nil {
		return err
	}
	return j.Stream.SendMsg(out)
}

// halfClosedJSON is a jsonStream over a half-closed front-door stream.
type halfClosedJSON struct{ *jsonStream }

func (halfClosedJSON) HalfClosed() bool { return true }

// MethodNotAllowedError is the error of an HTTP call whose path is bound to
// methods by google.api.http rules, but not for its HTTP method: its gRPC
// code is UNIMPLEMENTED, and the HTTP front door answers 405 with an Allow
// header.
type MethodNotAllowedError struct {
	Allowed []string // the HTTP methods bound to the path
	st      *status.Status
}

func (e *MethodNotAllowedError) Error() string { return e.st.Err().Error() }

// GRPCStatus makes the error a gRPC status error.
func (e *MethodNotAllowedError) GRPCStatus() *status.Status { return e.st }
