// Package transcode is the gateway's JSON transcoding middleware: it turns
// JSON calls into protobuf calls for the upstream it wraps, and the
// upstream's protobuf answers back into JSON, from descriptors the gateway
// loads at run time (gateway/descriptors): no generated code of any backend.
//
// Two kinds of calls are transcoded:
//
//   - HTTP calls (from gateway/httpfront), after routing and filters: the
//     (rewritten) path maps to a method either as "POST /pkg.Service/Method"
//     or through the method's google.api.http bindings (path variables,
//     query parameters, body, response_body);
//   - MCP and gRPC calls whose content type is JSON (application/json,
//     application/grpc+json): each message is JSON, converted one by one.
//
// Every other call passes through untouched, at the cost of a comparison.
package transcode

import (
	"bytes"
	"context"
	"net/http"
	"strings"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/descriptors"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Options configure the JSON mapping.
type Options struct {
	// UseProtoNames writes fields by their proto names (user_id) instead
	// of lowerCamel JSON names (userId). Both are accepted on input.
	UseProtoNames bool
	// EmitDefaults writes fields that hold their default value.
	EmitDefaults bool
	// DiscardUnknown ignores unknown JSON fields and query parameters
	// instead of rejecting the request with INVALID_ARGUMENT.
	DiscardUnknown bool
}

// Exchange is what an HTTP front door offers the transcoder for one call,
// through the call's context (NewContext, FromContext).
type Exchange interface {
	// HTTPRequest is the client's request: its URL query and headers.
	HTTPRequest() *http.Request
	// ReadBody returns the whole request body (nil when empty), bounded by
	// the door's limit; the error is a status error.
	ReadBody() ([]byte, error)
	// ReadRawBody is ReadBody for a body of any content type: the data of a
	// google.api.HttpBody request.
	ReadRawBody() ([]byte, error)
	// SendRaw sends a google.api.HttpBody response message: data as the
	// body, with its content type.
	SendRaw(contentType string, data []byte) error
	// NextLine returns the next non-empty line of an NDJSON request body,
	// io.EOF at its end; the bytes are valid until the next call.
	NextLine() ([]byte, error)
	// Preload reads a whole NDJSON body ahead when its length is known and
	// within the limit, so that NextLine never blocks; false when it did
	// not (the body then streams).
	Preload() (bool, error)
	// Start tells the door the call's shape, once the method is known and
	// before any message is sent.
	Start(m *descriptors.Method)
	// Outgoing returns the metadata to forward upstream from md (the
	// request's header after filters).
	Outgoing(md metadata.MD) metadata.MD
}

type ctxKey struct{}

// NewContext returns ctx carrying ex.
func NewContext(ctx context.Context, ex Exchange) context.Context {
	return context.WithValue(ctx, ctxKey{}, ex)
}

// FromContext returns the Exchange of ctx, or nil.
func FromContext(ctx context.Context) Exchange {
	ex, _ := ctx.Value(ctxKey{}).(Exchange)
	return ex
}

type outgoingKey struct{}

// WithOutgoing returns ctx carrying f, the filter a front door applies to
// the metadata a call forwards upstream (after the route's filters): the
// HTTP front door's header allow-list, for gRPC-Web calls, which are not
// transcoded.
func WithOutgoing(ctx context.Context, f func(metadata.MD) metadata.MD) context.Context {
	return context.WithValue(ctx, outgoingKey{}, f)
}

// Wrap returns next with JSON transcoding in front, using the descriptors
// of src (looked up on every call, so that they follow reloads).
func Wrap(next gateway.Handler, src descriptors.Named, opts Options) gateway.Handler {
	return &transcoder{next: next, src: src, opts: opts}
}

type transcoder struct {
	next gateway.Handler
	src  descriptors.Named
	opts Options
}

// IsJSON reports whether a content type is one the transcoder converts on
// MCP and gRPC calls.
func IsJSON(ct string) bool {
	switch ct {
	case "", "application/grpc", "application/grpc+proto", "application/proto", "application/protobuf":
		return false
	case "application/json":
		return true
	}
	base, _, _ := strings.Cut(ct, ";")
	base = strings.TrimSpace(base)
	return strings.EqualFold(base, "application/json") || strings.EqualFold(base, "application/grpc+json")
}

func (t *transcoder) Serve(req *gateway.Request, s gateway.Stream) error {
	if req.Protocol == gateway.ProtocolHTTP {
		if ex := FromContext(s.Context()); ex != nil {
			return t.serveHTTP(req, s, ex)
		}
	}
	if f, ok := s.Context().Value(outgoingKey{}).(func(metadata.MD) metadata.MD); ok {
		out := *req
		out.Header = f(req.Header)
		req = &out
	}
	if IsJSON(req.ContentType) {
		if src := t.src.Source(); src != nil {
			return t.serveJSON(req, s, src)
		}
	}
	return t.next.Serve(req, s)
}

func (t *transcoder) noDescriptors() error {
	return status.Errorf(codes.Unimplemented, "upstream %s has no descriptors for JSON transcoding (set descriptors.reflection or descriptors.file)", t.src.Name)
}

// codec converts one method's messages.
type codec struct {
	opts  *Options
	idx   *descriptors.Index
	m     *descriptors.Method
	b     *descriptors.Binding // nil for the POST /pkg.Service/Method form
	vals  []string             // path variable values, parallel to b.PathFields
	query bool                 // apply query parameters
	r     *http.Request

	aux *methodAux // the method's precomputed fast paths
}

func (c *codec) unmarshalOptions() protojson.UnmarshalOptions {
	return protojson.UnmarshalOptions{DiscardUnknown: c.opts.DiscardUnknown, Resolver: c.idx.Types()}
}

// decode builds a request message from a JSON body (and, for HTTP
// bindings, the path variables and query parameters) and returns its
// protobuf encoding. what names the body in error messages.
func (c *codec) decode(body []byte, what string) ([]byte, error) {
	if c.b != nil && len(body) == 0 && c.noQuery() {
		if b, ok := encodePathOnly(nil, c.b.PathFields, c.vals); ok {
			return b, nil
		}
	}
	if len(body) > 0 && (c.b == nil || c.b.Body == "*" && c.noQuery()) {
		if c.aux == nil {
			c.aux = auxOf(c.m)
		}
		if in := c.aux.in; in != nil {
			if b, ok := decodeFlat(make([]byte, 0, len(body)), in, body); ok {
				if c.b == nil {
					return b, nil
				}
				// Path variables last: for scalars, the last value wins.
				if b, ok = encodePathOnly(b, c.b.PathFields, c.vals); ok {
					return b, nil
				}
			}
		}
	}
	msg := dynamicpb.NewMessage(c.m.Input)
	if len(bytes.TrimSpace(body)) > 0 {
		uo := c.unmarshalOptions()
		var err error
		switch {
		case c.b == nil || c.b.Body == "*":
			err = uo.Unmarshal(body, msg)
		case c.b.BodyField != nil:
			err = unmarshalField(uo, msg, c.b.BodyField, body)
		}
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%s: %s", what, jsonError(err))
		}
	}
	return c.finishRequest(msg, what)
}

// finishRequest sets a request message's query parameters and path
// variables (for an HTTP binding) and returns its protobuf encoding.
func (c *codec) finishRequest(msg *dynamicpb.Message, what string) ([]byte, error) {
	if c.b != nil {
		if c.query && c.b.Body != "*" && c.r != nil && c.r.URL.RawQuery != "" {
			if err := c.applyQuery(msg); err != nil {
				return nil, err
			}
		}
		for i, fp := range c.b.PathFields {
			if err := setPath(msg, fp, c.vals[i]); err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "path variable %s: %v", fieldPathName(fp), err)
			}
		}
	}
	b, err := proto.MarshalOptions{}.Marshal(msg)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%s: %v", what, err)
	}
	return b, nil
}

// noQuery reports whether query parameters play no part.
func (c *codec) noQuery() bool {
	return !c.query || c.r == nil || c.r.URL.RawQuery == "" || c.b == nil || c.b.Body == "*"
}

// unmarshalField decodes body into field fd of msg (a google.api.http body
// naming one field).
func unmarshalField(uo protojson.UnmarshalOptions, msg *dynamicpb.Message, fd protoreflect.FieldDescriptor, body []byte) error {
	if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() {
		return uo.Unmarshal(body, msg.Mutable(fd).Message().Interface())
	}
	w := make([]byte, 0, len(body)+len(fd.Name())+6)
	w = append(w, `{"`...)
	w = append(w, fd.Name()...)
	w = append(w, `":`...)
	w = append(w, body...)
	w = append(w, '}')
	return uo.Unmarshal(w, msg)
}

func (c *codec) applyQuery(msg *dynamicpb.Message) error {
	q := c.r.URL.Query()
	for key, vals := range q {
		if c.boundByPath(key) {
			continue
		}
		name, mapKey, isEntry := cutMapKey(key)
		fp, err := descriptors.FieldPath(c.m.Input, name, true)
		if err != nil {
			if c.opts.DiscardUnknown {
				continue
			}
			return status.Errorf(codes.InvalidArgument, "query parameter %q: %v", key, err)
		}
		last := fp[len(fp)-1]
		if isEntry || last.IsMap() {
			if !isEntry || !last.IsMap() {
				return status.Errorf(codes.InvalidArgument, "query parameter %q: a map field's entry is set as %s[key]=value", key, name)
			}
			if len(vals) > 1 {
				return status.Errorf(codes.InvalidArgument, "query parameter %q: given %d times for one map entry", key, len(vals))
			}
			if err := setMapEntry(msg, fp, mapKey, vals[0]); err != nil {
				return status.Errorf(codes.InvalidArgument, "query parameter %q: %v", key, err)
			}
			continue
		}
		if !last.IsList() && len(vals) > 1 {
			return status.Errorf(codes.InvalidArgument, "query parameter %q: given %d times for a singular field", key, len(vals))
		}
		for _, v := range vals {
			if err := setPath(msg, fp, v); err != nil {
				return status.Errorf(codes.InvalidArgument, "query parameter %q: %v", key, err)
			}
		}
	}
	return nil
}

func (c *codec) boundByPath(key string) bool {
	for _, fp := range c.b.PathFields {
		if fieldPathName(fp) == key {
			return true
		}
	}
	return false
}

func fieldPathName(fp []protoreflect.FieldDescriptor) string {
	if len(fp) == 1 {
		return string(fp[0].Name())
	}
	var b strings.Builder
	for i, fd := range fp {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(string(fd.Name()))
	}
	return b.String()
}

// encode converts a protobuf response message to JSON, appended to dst.
func (c *codec) encode(dst, b []byte) ([]byte, error) {
	if c.b == nil || c.b.ResponseBody == nil {
		if fm := c.flatOut(); fm != nil {
			if out, ok := encodeFlat(dst, fm, b, c.opts); ok {
				return out, nil
			}
		}
	}
	msg := dynamicpb.NewMessage(c.m.Output)
	if err := (proto.UnmarshalOptions{Resolver: c.idx.Types()}).Unmarshal(b, msg); err != nil {
		return dst, status.Errorf(codes.Internal, "response of %s is not a valid %s: %v", c.m.Path, c.m.Output.FullName(), err)
	}
	mo := protojson.MarshalOptions{UseProtoNames: c.opts.UseProtoNames, EmitUnpopulated: c.opts.EmitDefaults, Resolver: c.idx.Types()}
	var err error
	if c.b != nil && c.b.ResponseBody != nil {
		dst, err = marshalField(mo, dst, msg, c.b.ResponseBody)
	} else {
		dst, err = mo.MarshalAppend(dst, msg)
	}
	if err != nil {
		return dst, status.Errorf(codes.Internal, "response of %s to JSON: %v", c.m.Path, err)
	}
	return dst, nil
}

func (c *codec) flatOut() *flatMessage {
	if c.aux == nil {
		c.aux = auxOf(c.m)
	}
	return c.aux.out
}

// jsonError makes a protojson error message read well in an HTTP answer.
func jsonError(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "proto: ")
	msg = strings.TrimPrefix(msg, "proto:\u00a0") // protojson's unstable spacing
	return strings.TrimSpace(msg)
}
