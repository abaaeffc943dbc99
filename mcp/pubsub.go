package mcp

import (
	"context"
	"errors"
	"strconv"

	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/pubsub"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Publish/subscribe on MCP/1 (PROTOCOL.md §7), what both sides share: how a
// pubsub.Message travels in a PUBLISH frame, and how bus errors become
// statuses.
//
// A PUBLISH frame carries the topic in :topic, the payload as its body (an
// empty payload is a zero-length body, not NO_MESSAGE) and the message's
// header as application metadata, content-type included. The protocol's own
// keys (":"-prefixed, timeout-ms, error-message, error-details-bin) and
// authorization, which holds the publisher's credentials, never become
// message headers. Metadata values are printable ASCII unless the key ends
// in "-bin", so topics and filters sent over MCP are printable ASCII too.

// pubsubReserved reports whether a metadata key is the protocol's, not a
// message header.
func pubsubReserved(k []byte) bool {
	return len(k) > 0 && k[0] == ':' || string(k) == frame.KeyAuthorization || reservedKey(string(k))
}

// appendHeader adds the entries of h that MCP metadata can carry to m,
// within frame.MaxMetaLen; the rest are skipped (a message published over
// another front door may carry headers MCP cannot).
func appendHeader(m frame.Metadata, h pubsub.Header) frame.Metadata {
	for k, vs := range h {
		if !frame.ValidKey(k) || pubsubReserved([]byte(k)) {
			continue
		}
		for _, v := range vs {
			if len(m)+len(k)+len(v)+3 > frame.MaxMetaLen || !frame.ValidValue(k, v) {
				continue
			}
			m = m.Append(k, v)
		}
	}
	return m
}

// checkHeader reports the first entry of h that a PUBLISH cannot carry.
func checkHeader(h pubsub.Header) error {
	for k, vs := range h {
		switch {
		case !frame.ValidKey(k):
			return status.Errorf(codes.InvalidArgument, "mcp: header key %q is not a valid metadata key (lowercase a-z 0-9 - _ .)", k)
		case pubsubReserved([]byte(k)):
			return status.Errorf(codes.InvalidArgument, "mcp: header key %q is reserved", k)
		}
		for _, v := range vs {
			if !frame.ValidValue(k, v) {
				return status.Errorf(codes.InvalidArgument, "mcp: header %q has a value that is not printable ASCII (use a \"-bin\" key for bytes)", k)
			}
		}
	}
	return nil
}

// headerFromMeta returns the message header a PUBLISH frame's metadata
// carries, nil when there is none.
func headerFromMeta(m frame.Metadata) pubsub.Header {
	var h pubsub.Header
	for k, v := range m.All() {
		if pubsubReserved(k) {
			continue
		}
		if h == nil {
			h = make(pubsub.Header, 2)
		}
		h[string(k)] = append(h[string(k)], string(v))
	}
	return h
}

// checkTopicValue reports whether name (a topic or filter, already valid for
// package pubsub) can travel as a :topic metadata value.
func checkTopicValue(what, name string) error {
	if len(name)+len(frame.KeyTopic)+3 > frame.MaxMetaLen {
		return status.Errorf(codes.InvalidArgument, "mcp: %s of %d bytes does not fit in the %d-byte metadata block", what, len(name), frame.MaxMetaLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c > 0x7E {
			return status.Errorf(codes.InvalidArgument, "mcp: %s %s has byte %#02x at %d; MCP/1 carries printable ASCII topics only", what, strconv.Quote(shortName(name)), c, i)
		}
	}
	return nil
}

func shortName(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// busStatus converts an error of a pubsub.Bus to the status sent to a peer.
// The bus's own errors say what was wrong with the topic, filter or queue
// name and are passed on; any other error (a transport's) is not, since it
// may describe the server's internals.
func busStatus(err error) *status.Status {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pubsub.ErrInvalidTopic), errors.Is(err, pubsub.ErrInvalidFilter),
		errors.Is(err, pubsub.ErrInvalidOption), errors.Is(err, pubsub.ErrNilMessage):
		return status.New(codes.InvalidArgument, err.Error())
	case errors.Is(err, pubsub.ErrTooManySubscriptions), errors.Is(err, pubsub.ErrSlowConsumer):
		return status.New(codes.ResourceExhausted, err.Error())
	case errors.Is(err, pubsub.ErrClosed):
		return status.New(codes.Unavailable, "pubsub: the bus is closed")
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, err.Error())
	}
	if s, ok := status.FromError(err); ok {
		return s
	}
	return status.New(codes.Unknown, "pubsub: the bus failed")
}

// newMessage returns a Message for a received PUBLISH with a copy of body.
// A small body is allocated together with the Message, in one object: one
// allocation per received message instead of two. Payload's capacity is
// its length, so an append by the receiver copies it.
func newMessage(topic string, h pubsub.Header, body []byte) *pubsub.Message {
	n := len(body)
	var m *pubsub.Message
	switch {
	case n == 0:
		return &pubsub.Message{Topic: topic, Header: h}
	case n <= 16:
		x := new(struct {
			m pubsub.Message
			b [16]byte
		})
		x.m.Payload = x.b[:n:n]
		m = &x.m
	case n <= 64:
		x := new(struct {
			m pubsub.Message
			b [64]byte
		})
		x.m.Payload = x.b[:n:n]
		m = &x.m
	case n <= 128:
		x := new(struct {
			m pubsub.Message
			b [128]byte
		})
		x.m.Payload = x.b[:n:n]
		m = &x.m
	case n <= 256:
		x := new(struct {
			m pubsub.Message
			b [256]byte
		})
		x.m.Payload = x.b[:n:n]
		m = &x.m
	default:
		return &pubsub.Message{Topic: topic, Header: h, Payload: append([]byte(nil), body...)}
	}
	copy(m.Payload, body)
	m.Topic, m.Header = topic, h
	return m
}
