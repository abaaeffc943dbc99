package transcode

import (
	"github.com/mcpbridge/mcpbridge/gateway/descriptors"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// google.api.HttpBody carries a body of any content type as bytes, the
// way grpc-gateway and Envoy's transcoder treat it: a request body bound to
// one arrives as its data (with the request's Content-Type), and a response
// that is one (or whose response_body field is one) leaves as its data,
// with its content_type.

const httpBodyName = "google.api.HttpBody"

// HttpBody's fields.
const (
	httpBodyContentType protowire.Number = 1
	httpBodyData        protowire.Number = 2
)

func isHTTPBody(md protoreflect.MessageDescriptor) bool {
	return md != nil && md.FullName() == httpBodyName
}

// rawRequest reports whether binding b maps the request body to an
// HttpBody: the whole request, or its body field.
func rawRequest(m *descriptors.Method, b *descriptors.Binding) bool {
	if b == nil {
		return false
	}
	switch {
	case b.Body == "*":
		return isHTTPBody(m.Input)
	case b.BodyField != nil:
		return b.BodyField.Kind() == protoreflect.MessageKind && !b.BodyField.IsList() && isHTTPBody(b.BodyField.Message())
	}
	return false
}

// rawResponse reports whether the HTTP answer of m under binding b is an
// HttpBody's data.
func rawResponse(m *descriptors.Method, b *descriptors.Binding) bool {
	if b != nil && b.ResponseBody != nil {
		fd := b.ResponseBody
		return fd.Kind() == protoreflect.MessageKind && !fd.IsList() && isHTTPBody(fd.Message())
	}
	return b != nil && isHTTPBody(m.Output)
}

// decodeRaw builds the request message of a raw body: the HttpBody (the
// whole request or its body field) holds contentType and body; query
// parameters and path variables set the other fields.
func (c *codec) decodeRaw(body []byte, contentType string) ([]byte, error) {
	msg := dynamicpb.NewMessage(c.m.Input)
	hb := protoreflect.Message(msg)
	if c.b.Body != "*" {
		hb = msg.Mutable(c.b.BodyField).Message()
	}
	fields := hb.Descriptor().Fields()
	if fd := fields.ByNumber(httpBodyContentType); fd != nil && contentType != "" {
		hb.Set(fd, protoreflect.ValueOfString(contentType))
	}
	if fd := fields.ByNumber(httpBodyData); fd != nil && len(body) > 0 {
		hb.Set(fd, protoreflect.ValueOfBytes(body))
	}
	return c.finishRequest(msg, "request body")
}

// parseHTTPBody reads an HttpBody's content type and data from its
// encoding. Fields other than those two (extensions) are ignored.
func parseHTTPBody(b []byte) (contentType string, data []byte, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", nil, protowire.ParseError(n)
		}
		b = b[n:]
		if typ == protowire.BytesType && (num == httpBodyContentType || num == httpBodyData) {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return "", nil, protowire.ParseError(n)
			}
			if num == httpBodyContentType {
				contentType = string(v)
			} else {
				data = v
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return "", nil, protowire.ParseError(n)
		}
		b = b[n:]
	}
	return contentType, data, nil
}

// rawAnswer extracts the HttpBody of a response message: the whole
// message, or its response_body field (every occurrence, merged).
func (c *codec) rawAnswer(b []byte) (contentType string, data []byte, err error) {
	if c.b.ResponseBody == nil {
		contentType, data, err = parseHTTPBody(b)
	} else {
		want := c.b.ResponseBody.Number()
		for len(b) > 0 && err == nil {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				err = protowire.ParseError(n)
				break
			}
			b = b[n:]
			if num == want && typ == protowire.BytesType {
				v, n := protowire.ConsumeBytes(b)
				if n < 0 {
					err = protowire.ParseError(n)
					break
				}
				ct, d, perr := parseHTTPBody(v)
				if ct != "" {
					contentType = ct
				}
				if d != nil {
					data = d
				}
				err = perr
				b = b[n:]
				continue
			}
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				err = protowire.ParseError(n)
				break
			}
			b = b[n:]
		}
	}
	if err != nil {
		return "", nil, status.Errorf(codes.Internal, "response of %s is not a valid %s: %v", c.m.Path, c.m.Output.FullName(), err)
	}
	return contentType, data, nil
}
