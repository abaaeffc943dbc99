// Package httpfront is the gateway's HTTP/JSON front door: an http.Handler
// that presents every HTTP request to the route table as a
// gateway.Request (Protocol "http", the HTTP method, the URL path, the
// headers), so that route predicates see the HTTP path, method and headers
// and filters such as StripPrefix rewrite the path. After routing, the
// transcoding middleware of the route's upstream (gateway/transcode) maps
// the rewritten path to a method and converts JSON to protobuf and back;
// this package supplies it the request body and writes the answer:
//
//   - unary methods answer one JSON document;
//   - server-streaming methods answer newline-delimited JSON
//     (application/x-ndjson, the default) or Server-Sent Events when the
//     client accepts text/event-stream; each message is bare, and the
//     final status is a last event (SSE) or a last {"error": ...} line
//     plus Grpc-Status/Grpc-Message trailers (NDJSON);
//   - client-streaming methods read an NDJSON request body, one message a
//     line; bidirectional ones do both, full duplex (HTTP/2, or HTTP/1.1
//     where the client streams).
//
// Errors answer the HTTP status mapped from the gRPC code (HTTPStatus) with
// the JSON body {"code", "message", "details"}. Request headers are
// forwarded as metadata by an allow-list; response metadata becomes
// response headers. A Grpc-Timeout or X-Timeout-Ms header sets the call's
// deadline.
package httpfront

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/cors"
	"github.com/mcpbridge/mcpbridge/gateway/descriptors"
	"github.com/mcpbridge/mcpbridge/gateway/transcode"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Defaults of Options.
const (
	DefaultMaxBodySize = 4 << 20
)

// DefaultForwardHeaders is the default allow-list of request headers
// forwarded upstream as metadata.
var DefaultForwardHeaders = []string{"authorization", "x-*", "traceparent", "tracestate"}

// Options configure the front door.
type Options struct {
	// MaxBodySize bounds a request body, and each line of an NDJSON one;
	// more answers 413. Default DefaultMaxBodySize.
	MaxBodySize int64
	// ForwardHeaders lists the request headers forwarded upstream as
	// metadata: names, case-insensitive, or prefixes ending in "*". Nil
	// means DefaultForwardHeaders; an empty, non-nil list forwards none.
	// Headers a route's filters add are always forwarded.
	ForwardHeaders []string
	// CORS, when set, lets browser pages on other origins call the front
	// door.
	CORS *cors.Config
	// Observe, when set, is told of each call's end: "http" or "grpc-web",
	// the route that served it (its ID, or Unrouted), its gRPC status code
	// and its duration. CORS preflights are not calls.
	Observe func(front, route string, code codes.Code, d time.Duration)
}

// Unrouted is the route label of a call no route matched.
const Unrouted = "unrouted"

func routeLabel(req *gateway.Request) string {
	if req.RouteID == "" {
		return Unrouted
	}
	return req.RouteID
}

// Handler is the HTTP front door.
type Handler struct {
	router  *gateway.Router
	maxBody int64
	exact   map[string]bool
	prefix  []string
	bufs    sync.Pool
	cors    *cors.Policy
	observe func(front, route string, code codes.Code, d time.Duration)
}

// New returns the front door serving through router. It fails only on a
// bad CORS configuration.
func New(router *gateway.Router, opts Options) (*Handler, error) {
	h := &Handler{router: router, maxBody: opts.MaxBodySize, exact: map[string]bool{}, observe: opts.Observe}
	if opts.CORS != nil {
		p, err := cors.New(*opts.CORS)
		if err != nil {
			return nil, fmt.Errorf("cors: %w", err)
		}
		h.cors = p
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodySize
	}
	fh := opts.ForwardHeaders
	if fh == nil {
		fh = DefaultForwardHeaders
	}
	for _, p := range fh {
		p = strings.ToLower(strings.TrimSpace(p))
		if pre, ok := strings.CutSuffix(p, "*"); ok {
			h.prefix = append(h.prefix, pre)
		} else if p != "" {
			h.exact[p] = true
		}
	}
	h.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	return h, nil
}

// forwarded reports whether request header k (lower case) goes upstream.
func (h *Handler) forwarded(k string) bool {
	if k == "x-timeout-ms" {
		return false // consumed: the deadline travels with the call
	}
	if h.exact[k] {
		return true
	}
	for _, p := range h.prefix {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// lowerKeys avoids an allocation for the usual header names.
var lowerKeys = map[string]string{}

func init() {
	for _, k := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Content-Length", "Content-Type", "Cookie", "Origin", "Referer", "User-Agent", "Traceparent", "Tracestate",
		"X-Request-Id", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip", "Grpc-Timeout",
		"X-Timeout-Ms", "Pragma", "If-None-Match", "If-Modified-Since", "Accept-Charset", "Sec-Fetch-Mode"} {
		lowerKeys[k] = strings.ToLower(k)
	}
}

func lower(k string) string {
	if l, ok := lowerKeys[k]; ok {
		return l
	}
	return strings.ToLower(k)
}

// hopByHop are headers that describe the connection, not the call.
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Te", "Trailer", "Content-Length":
		return true
	}
	return false
}

// observed tells the observer, if any, of a call's end.
func (h *Handler) observed(front, route string, err error, start time.Time) {
	if h.observe != nil {
		h.observe(front, route, status.Code(err), time.Since(start))
	}
}

// requestMD is the request's headers as metadata (lower-case keys), but
// those that describe the connection.
func requestMD(r *http.Request) metadata.MD {
	md := make(metadata.MD, len(r.Header))
	for k, v := range r.Header {
		if hopByHop(k) {
			continue
		}
		md[lower(k)] = v
	}
	return md
}

// callContext is the request's context with the call's deadline, from
// Grpc-Timeout or X-Timeout-Ms; cancel releases it.
func callContext(r *http.Request) (ctx context.Context, cancel context.CancelFunc, err error) {
	d, ok, err := timeout(r.Header)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return r.Context(), func() {}, nil
	}
	ctx, cancel = context.WithTimeout(r.Context(), d)
	return ctx, cancel, nil
}

// ServeHTTP serves one HTTP call through the route table.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := &exchange{h: h, w: w, r: r}
	if h.cors != nil {
		if answered, err := h.cors.Handle(w, r); answered {
			if err != nil {
				ex.finish(err)
			}
			return // a preflight
		}
	}
	var start time.Time
	if h.observe != nil {
		start = time.Now()
	}
	if web, text := grpcWebType(first(r.Header["Content-Type"])); web {
		h.serveGRPCWeb(w, r, text, start)
		return
	}
	md := requestMD(r)
	ex.orig = md
	ctx, cancel, err := callContext(r)
	if err != nil {
		ex.finish(err)
		h.observed("http", Unrouted, err, start)
		return
	}
	defer cancel()
	ex.ctx = transcode.NewContext(ctx, ex)
	req := &gateway.Request{
		Protocol:    gateway.ProtocolHTTP,
		Method:      r.Method,
		Path:        r.URL.EscapedPath(),
		Header:      md,
		ContentType: first(r.Header["Content-Type"]),
	}
	err = h.router.Serve(req, ex)
	if errors.Is(err, gateway.ErrNoRoute) {
		err = status.Errorf(codes.NotFound, "no route for %s %s", r.Method, truncate(req.Path))
	}
	ex.finish(err)
	h.observed("http", routeLabel(req), err, start)
	if ex.buf != nil {
		*ex.buf = (*ex.buf)[:0]
		h.bufs.Put(ex.buf)
	}
}

func truncate(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}

// timeout reads the call's deadline from Grpc-Timeout ("100m", "5S") or
// X-Timeout-Ms ("1500").
func timeout(hd http.Header) (time.Duration, bool, error) {
	if v := first(hd["Grpc-Timeout"]); v != "" {
		d, err := grpcTimeout(v)
		if err != nil {
			return 0, false, status.Errorf(codes.InvalidArgument, "Grpc-Timeout %q: %v", v, err)
		}
		return d, true, nil
	}
	if v := first(hd["X-Timeout-Ms"]); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return 0, false, status.Errorf(codes.InvalidArgument, "X-Timeout-Ms %q: want a positive number of milliseconds", v)
		}
		return time.Duration(n) * time.Millisecond, true, nil
	}
	return 0, false, nil
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func grpcTimeout(v string) (time.Duration, error) {
	if len(v) < 2 || len(v) > 9 {
		return 0, errors.New("want 1 to 8 digits and a unit (H, M, S, m, u, n)")
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want 1 to 8 digits and a unit (H, M, S, m, u, n)")
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, errors.New("unknown unit: want H, M, S, m, u or n")
	}
	return time.Duration(n) * unit, nil
}

// Response framing.
const (
	modeUnary = iota
	modeNDJSON
	modeSSE
)

// exchange is one HTTP call: the gateway.Stream the route table serves and
// the transcode.Exchange the transcoder reads.
type exchange struct {
	h    *Handler
	w    http.ResponseWriter
	r    *http.Request
	ctx  context.Context
	orig metadata.MD // the request's headers as received

	method  *descriptors.Method // set by Start
	mode    int
	header  metadata.MD
	trailer metadata.MD
	body    []byte // a unary answer, sent by finish
	hasBody bool
	rawType string // the content type of a raw (google.api.HttpBody) answer
	raw     bool   // the answer is raw bytes, not JSON
	started bool   // streaming: the response header is written

	buf   *[]byte       // pooled request body buffer
	lines *bufio.Reader // NDJSON request body
	line  []byte

	preloaded    []byte // the rest of a preloaded NDJSON body
	preloadedSet bool
	tooLarge     atomic.Bool // set by the body readers, maybe on the upstream's pump goroutine
	badType      atomic.Bool
	mu           sync.Mutex // guards header and trailer, set by the relay while the pump reads
}

var (
	_ gateway.Stream     = (*exchange)(nil)
	_ transcode.Exchange = (*exchange)(nil)
)

func (e *exchange) Context() context.Context   { return e.ctx }
func (e *exchange) HTTPRequest() *http.Request { return e.r }

func (e *exchange) Outgoing(md metadata.MD) metadata.MD {
	keep := 0
	for k := range md {
		if e.keep(k) {
			keep++
		}
	}
	switch keep {
	case 0:
		return nil
	case len(md):
		return md // read-only downstream
	}
	out := make(metadata.MD, keep)
	for k, v := range md {
		if e.keep(k) {
			out[k] = v
		}
	}
	return out
}

// keep reports whether request metadata key k goes upstream: forwarded
// headers, and whatever a filter added.
func (e *exchange) keep(k string) bool {
	if _, fromClient := e.orig[k]; fromClient {
		return e.h.forwarded(k)
	}
	return true
}

func (e *exchange) Start(m *descriptors.Method) {
	e.method = m
	if !m.ServerStreaming {
		e.mode = modeUnary
		return
	}
	e.mode = modeNDJSON
	for _, a := range e.r.Header.Values("Accept") {
		if strings.Contains(a, "text/event-stream") {
			e.mode = modeSSE
		}
	}
	if m.ClientStreaming {
		_ = http.NewResponseController(e.w).EnableFullDuplex()
	}
}

// checkType rejects a body whose content type is not JSON.
func (e *exchange) checkType() error {
	ct := e.r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "application/x-ndjson" ||
		mt == "application/jsonl" || mt == "application/json-seq" || mt == "text/plain" ||
		mt == "application/x-www-form-urlencoded") { // curl -d's default
		return nil
	}
	e.badType.Store(true)
	return status.Errorf(codes.InvalidArgument, "unsupported content type %q: send application/json (or application/x-ndjson for a stream)", ct)
}

func (e *exchange) ReadBody() ([]byte, error) { return e.readBody(true) }

// ReadRawBody is ReadBody for a body of any content type (a
// google.api.HttpBody request).
func (e *exchange) ReadRawBody() ([]byte, error) { return e.readBody(false) }

func (e *exchange) readBody(checkType bool) ([]byte, error) {
	if e.r.Body == nil || e.r.Body == http.NoBody {
		return nil, nil
	}
	if e.buf == nil {
		e.buf = e.h.bufs.Get().(*[]byte)
	}
	b := (*e.buf)[:0]
	limit := e.h.maxBody
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := e.r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			*e.buf = b[:0]
			e.tooLarge.Store(true)
			return nil, status.Errorf(codes.InvalidArgument, "request body larger than the limit of %d bytes", limit)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			*e.buf = b[:0]
			return nil, bodyError(err)
		}
	}
	*e.buf = b
	if len(b) == 0 {
		return nil, nil
	}
	if checkType {
		if err := e.checkType(); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func bodyError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Errorf(codes.InvalidArgument, "reading the request body: %v", err)
}

func (e *exchange) Preload() (bool, error) {
	n := e.r.ContentLength
	if n < 0 || n > e.h.maxBody || e.lines != nil || e.r.Body == nil || e.r.Body == http.NoBody {
		return false, nil
	}
	if err := e.checkType(); err != nil {
		return false, err
	}
	// A fresh buffer: the upstream may read the last lines on its own
	// goroutine, after the call has returned.
	b := make([]byte, n+1)
	got, err := io.ReadFull(e.r.Body, b)
	switch {
	case err == io.ErrUnexpectedEOF && int64(got) == n:
	case err == nil:
		e.tooLarge.Store(true) // more than Content-Length: not HTTP/1.1, but bounded anyway
		return false, status.Errorf(codes.InvalidArgument, "request body longer than its Content-Length")
	default:
		return false, bodyError(err)
	}
	e.preloaded, e.preloadedSet = b[:got], true
	return true, nil
}

func (e *exchange) NextLine() ([]byte, error) {
	if e.preloadedSet {
		for len(e.preloaded) > 0 {
			line := e.preloaded
			if i := bytes.IndexByte(line, '\n'); i >= 0 {
				line, e.preloaded = line[:i], e.preloaded[i+1:]
			} else {
				e.preloaded = nil
			}
			if int64(len(line)) > e.h.maxBody {
				e.tooLarge.Store(true)
				return nil, status.Errorf(codes.InvalidArgument, "request message larger than the limit of %d bytes", e.h.maxBody)
			}
			if len(bytes.TrimSpace(line)) > 0 {
				return line, nil
			}
		}
		return nil, io.EOF
	}
	if e.lines == nil {
		if e.r.Body == nil || e.r.Body == http.NoBody {
			return nil, io.EOF
		}
		if err := e.checkType(); err != nil {
			return nil, err
		}
		e.lines = bufio.NewReaderSize(e.r.Body, 16<<10)
	}
	for {
		e.line = e.line[:0]
		for {
			frag, err := e.lines.ReadSlice('\n')
			if int64(len(e.line)+len(frag)) > e.h.maxBody+1 {
				e.tooLarge.Store(true)
				return nil, status.Errorf(codes.InvalidArgument, "request message larger than the limit of %d bytes", e.h.maxBody)
			}
			e.line = append(e.line, frag...)
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				if len(bytes.TrimSpace(e.line)) == 0 {
					return nil, io.EOF
				}
				return e.line, nil
			}
			if err != nil {
				return nil, bodyError(err)
			}
			break
		}
		if len(bytes.TrimSpace(e.line)) > 0 {
			return e.line, nil
		}
	}
}

func (e *exchange) RecvMsg() ([]byte, error) {
	return nil, status.Error(codes.Unimplemented, "the HTTP front door reached an upstream without JSON transcoding")
}

func (e *exchange) SendHeader(md metadata.MD) error {
	e.mu.Lock()
	e.header = metadata.Join(e.header, md)
	e.mu.Unlock()
	return nil
}

func (e *exchange) SetTrailer(md metadata.MD) {
	e.mu.Lock()
	e.trailer = metadata.Join(e.trailer, md)
	e.mu.Unlock()
}

func (e *exchange) SendMsg(b []byte) error {
	if e.method == nil {
		return status.Error(codes.Internal, "the HTTP front door reached an upstream without JSON transcoding")
	}
	if e.mode == modeUnary {
		if e.hasBody {
			return status.Error(codes.Internal, "a unary method sent a second response message")
		}
		e.body, e.hasBody = b, true
		return nil
	}
	if !e.started {
		e.startStream()
	}
	var err error
	if e.mode == modeSSE {
		_, err = e.w.Write(sseData)
		if err == nil {
			_, err = e.w.Write(b)
		}
		if err == nil {
			_, err = e.w.Write(sseEnd)
		}
	} else {
		_, err = e.w.Write(b)
		if err == nil {
			_, err = e.w.Write(newline)
		}
	}
	if err == nil {
		err = http.NewResponseController(e.w).Flush()
	}
	if err != nil {
		return status.Errorf(codes.Canceled, "writing to the HTTP client: %v", err)
	}
	return nil
}

// SendRaw sends a google.api.HttpBody answer: data as the body, with its
// content type ("" leaves the default). A stream's messages are written
// one after the other, with the first one's content type.
func (e *exchange) SendRaw(contentType string, data []byte) error {
	if e.method == nil {
		return status.Error(codes.Internal, "the HTTP front door reached an upstream without JSON transcoding")
	}
	if e.mode == modeUnary {
		if e.hasBody {
			return status.Error(codes.Internal, "a unary method sent a second response message")
		}
		e.body, e.hasBody, e.raw, e.rawType = append([]byte(nil), data...), true, true, contentType
		return nil
	}
	if !e.started {
		e.raw, e.rawType = true, contentType
		e.startStream()
	}
	_, err := e.w.Write(data)
	if err == nil {
		err = http.NewResponseController(e.w).Flush()
	}
	if err != nil {
		return status.Errorf(codes.Canceled, "writing to the HTTP client: %v", err)
	}
	return nil
}

// jsonContentType is shared by every answer: the server only reads it.
var jsonContentType = []string{"application/json"}

var (
	sseData = []byte("data: ")
	sseEnd  = []byte("\n\n")
	newline = []byte("\n")
)

// startStream writes the response header of a streaming answer.
func (e *exchange) startStream() {
	e.started = true
	hd := e.w.Header()
	e.mu.Lock()
	setHeaders(hd, e.header)
	e.mu.Unlock()
	switch {
	case e.raw:
		if e.rawType != "" {
			hd.Set("Content-Type", e.rawType)
		}
	case e.mode == modeSSE:
		hd.Set("Content-Type", "text/event-stream")
		hd.Set("Cache-Control", "no-cache")
	default:
		hd.Set("Content-Type", "application/x-ndjson")
	}
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Add("Trailer", "Grpc-Status")
	hd.Add("Trailer", "Grpc-Message")
	e.w.WriteHeader(http.StatusOK)
}

// setHeaders writes response metadata as HTTP headers; binary values
// (keys ending in -bin) in base64.
func setHeaders(hd http.Header, md metadata.MD) {
	for k, vs := range md {
		switch k {
		case "content-type", "content-length", "transfer-encoding", "connection", "trailer", "te", "upgrade", "keep-alive":
			continue
		}
		if k == "" || k[0] == ':' {
			continue
		}
		bin := strings.HasSuffix(k, "-bin")
		ck := http.CanonicalHeaderKey(k)
		for _, v := range vs {
			if bin {
				v = base64.RawStdEncoding.EncodeToString([]byte(v))
			}
			hd.Add(ck, v)
		}
	}
}

func setTrailers(hd http.Header, md metadata.MD) {
	tmp := http.Header{}
	setHeaders(tmp, md)
	for k, vs := range tmp {
		hd[http.TrailerPrefix+k] = vs
	}
}

// finish writes what is left of the answer once the call has ended.
func (e *exchange) finish(err error) {
	hd := e.w.Header()
	if e.started {
		st := status.Convert(err)
		e.mu.Lock()
		setTrailers(hd, e.trailer)
		e.mu.Unlock()
		hd.Set("Grpc-Status", strconv.Itoa(int(st.Code())))
		if st.Message() != "" {
			hd.Set("Grpc-Message", st.Message())
		}
		var out []byte
		switch {
		case e.raw:
			// A raw stream ends with its trailers only: its body is the
			// application's bytes.
		case e.mode == modeSSE:
			out = append(out, "event: status\ndata: "...)
			out = statusJSON(out, st)
			out = append(out, "\n\n"...)
		case err != nil:
			out = append(out, `{"error":`...)
			out = statusJSON(out, st)
			out = append(out, "}\n"...)
		}
		if len(out) > 0 {
			_, _ = e.w.Write(out)
		}
		return
	}
	e.mu.Lock()
	setHeaders(hd, e.header)
	setHeaders(hd, e.trailer)
	e.mu.Unlock()
	if err != nil {
		st := status.Convert(err)
		code := HTTPStatus(st.Code())
		switch {
		case e.tooLarge.Load():
			code = http.StatusRequestEntityTooLarge
		case e.badType.Load():
			code = http.StatusUnsupportedMediaType
		}
		var mna *transcode.MethodNotAllowedError
		if errors.As(err, &mna) {
			code = http.StatusMethodNotAllowed
			hd["Allow"] = []string{strings.Join(mna.Allowed, ", ")}
		}
		hd.Set("Content-Type", "application/json")
		hd.Set("Grpc-Status", strconv.Itoa(int(st.Code())))
		e.w.WriteHeader(code)
		_, _ = e.w.Write(statusJSON(nil, st))
		return
	}
	if e.mode != modeUnary && e.method != nil {
		// A stream that sent no message.
		e.startStream()
		e.finish(nil)
		return
	}
	if e.raw {
		if e.rawType != "" {
			hd.Set("Content-Type", e.rawType)
		}
		e.w.WriteHeader(http.StatusOK)
		_, _ = e.w.Write(e.body)
		return
	}
	hd["Content-Type"] = jsonContentType
	e.w.WriteHeader(http.StatusOK)
	if e.hasBody {
		_, _ = e.w.Write(e.body)
	} else {
		_, _ = e.w.Write([]byte("{}"))
	}
}
