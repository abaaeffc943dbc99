package gateway_test

import (
	"context"
	"io"

	"google.golang.org/grpc/metadata"
)

// stream is an in-memory gateway.Stream: one request message in, the
// response messages collected.
type stream struct {
	ctx     context.Context
	in      [][]byte
	out     [][]byte
	header  metadata.MD
	trailer metadata.MD
}

func newStream(ctx context.Context, in ...[]byte) *stream { return &stream{ctx: ctx, in: in} }

func (s *stream) Context() context.Context { return s.ctx }

func (s *stream) RecvMsg() ([]byte, error) {
	if len(s.in) == 0 {
		return nil, io.EOF
	}
	m := s.in[0]
	s.in = s.in[1:]
	return m, nil
}

func (s *stream) SendHeader(md metadata.MD) error { s.header = md; return nil }
func (s *stream) SendMsg(m []byte) error          { s.out = append(s.out, m); return nil }
func (s *stream) SetTrailer(md metadata.MD)       { s.trailer = metadata.Join(s.trailer, md) }
