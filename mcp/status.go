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

// ErrRefused matches (errors.Is) the error of a call the server never
// processed because it was refused: the server's GOAWAY named a last
// accepted call id below the call's (PROTOCOL.md §8, "Drain"), or no
// connection took the call at all. Such a call is safe to retry, on the same
// Conn (which moves to a fresh connection) or elsewhere, even when it is not
// idempotent. The error is also a gRPC status error with code UNAVAILABLE.
var ErrRefused = errors.New("mcp: call refused before the server processed it")

// IsRefused reports whether err is (or wraps) the error of a call refused
// before the server processed it, and so safe to retry: errors.Is(err,
// ErrRefused). Other UNAVAILABLE errors, such as a connection lost while the
// call was in flight, may have been processed.
func IsRefused(err error) bool { return errors.Is(err, ErrRefused) }

// refusedError is a refused call's error: a status error that matches
// ErrRefused.
type refusedError struct{ st *status.Status }

func refusedErr(msg string) error {
	return &refusedError{st: status.New(codes.Unavailable, msg)}
}

func (e *refusedError) Error() string              { return e.st.Err().Error() }
func (e *refusedError) GRPCStatus() *status.Status { return e.st }
func (e *refusedError) Is(target error) bool       { return target == ErrRefused }
