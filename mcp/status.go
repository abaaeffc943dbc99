package mcp

import (
	"context"
	"errors"

	"github.com/mcpbridge/mcpbridge/frame"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	spb "google.golang.org/genproto/googleapis/rpc/status"
)

// toStatus converts a handler's error to a status (nil → OK).
func toStatus(err error) *status.Status {
	if err == nil {
		return nil
	}
	if s, ok := status.FromError(err); ok {
		return s
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return status.New(codes.DeadlineExceeded, err.Error())
	}
	if errors.Is(err, context.Canceled) {
		return status.New(codes.Canceled, err.Error())
	}
	return status.New(codes.Unknown, err.Error())
}

// appendStatus adds error-message and error-details-bin for a non-OK status.
func appendStatus(m frame.Metadata, s *status.Status) frame.Metadata {
	if s == nil || s.Code() == codes.OK {
		return m
	}
	lossy := false // error-message cannot carry the message as it is
	if msg := s.Message(); msg != "" {
		clean := sanitize(msg)
		lossy = clean != msg
		m = m.Append(frame.KeyErrorMessage, clean)
	}
	// error-details-bin carries the whole google.rpc.Status: the details, and
	// a message that is not printable ASCII (UTF-8, newlines) unchanged.
	if p := s.Proto(); len(p.GetDetails()) > 0 || lossy {
		if b, err := proto.Marshal(p); err == nil && len(m)+len(b)+20 <= frame.MaxMetaLen {
			m = m.AppendBytes(frame.KeyErrorDetails, b)
		}
	}
	return m
}

// statusFromFrame reads the status of a RESPONSE.
func statusFromFrame(code uint8, m frame.Metadata) error {
	if code == 0 {
		return nil
	}
	if b, ok := m.Get(frame.KeyErrorDetails); ok {
		p := &spb.Status{}
		if proto.Unmarshal(b, p) == nil && p.Code == int32(code) {
			return status.ErrorProto(p)
		}
	}
	msg, _ := m.Get(frame.KeyErrorMessage)
	return status.Error(codes.Code(code), string(msg))
}

// ctxStatus is the status for a context that ended.
func ctxStatus(ctx context.Context) error {
	return status.FromContextError(ctx.Err()).Err()
}
