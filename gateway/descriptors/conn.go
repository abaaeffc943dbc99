package descriptors

import (
	"context"
	"io"
	"sync"

	"github.com/mcpbridge/mcpbridge/gateway"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// HandlerConn returns a grpc.ClientConnInterface whose calls are served by
// h, a gateway.Handler such as an upstream's: the gateway reaches a
// backend's reflection service through the upstream's pooled connections
// and balancer, whatever protocol (gRPC or MCP) it speaks. Messages must
// be proto.Messages. Each stream runs h.Serve on its own goroutine, which
// ends when the call ends or its context is cancelled.
func HandlerConn(h gateway.Handler) grpc.ClientConnInterface { return handlerConn{h} }

type handlerConn struct{ h gateway.Handler }

func (c handlerConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := c.NewStream(ctx, &grpc.StreamDesc{}, method, opts...)
	if err != nil {
		return err
	}
	if err := cs.SendMsg(args); err != nil {
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	if err := cs.RecvMsg(reply); err != nil {
		if err == io.EOF {
			return status.Error(codes.Internal, "descriptors: no response message")
		}
		return err
	}
	return nil
}

func (c handlerConn) NewStream(ctx context.Context, _ *grpc.StreamDesc, method string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	md, _ := metadata.FromOutgoingContext(ctx)
	s := &pipeStream{
		ctx:    ctx,
		cancel: cancel,
		in:     make(chan []byte),
		out:    make(chan []byte),
		hdr:    make(chan struct{}),
		done:   make(chan struct{}),
	}
	req := &gateway.Request{Protocol: "internal", Method: "POST", Path: method, Header: md.Copy()}
	go func() {
		err := c.h.Serve(req, (*serverSide)(s))
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		s.hdrOnce.Do(func() { close(s.hdr) })
		close(s.done)
	}()
	return s, nil
}

// pipeStream is both sides of one in-process call: the client side is its
// grpc.ClientStream methods, the server side (serverSide) the
// gateway.Stream the handler serves.
type pipeStream struct {
	ctx    context.Context
	cancel context.CancelFunc
	in     chan []byte // client → handler; closed by CloseSend
	out    chan []byte // handler → client
	done   chan struct{}

	closeOnce sync.Once
	hdrOnce   sync.Once
	hdr       chan struct{}

	mu      sync.Mutex
	header  metadata.MD
	trailer metadata.MD
	err     error
}

func (s *pipeStream) Header() (metadata.MD, error) {
	select {
	case <-s.hdr:
	case <-s.ctx.Done():
		return nil, status.FromContextError(s.ctx.Err()).Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header, nil
}

func (s *pipeStream) Trailer() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trailer
}

func (s *pipeStream) CloseSend() error {
	s.closeOnce.Do(func() { close(s.in) })
	return nil
}

func (s *pipeStream) Context() context.Context { return s.ctx }

func (s *pipeStream) SendMsg(m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "descriptors: %T is not a proto.Message", m)
	}
	b, err := proto.Marshal(pm)
	if err != nil {
		return status.Errorf(codes.Internal, "descriptors: marshal: %v", err)
	}
	select {
	case s.in <- b:
		return nil
	case <-s.done:
		return io.EOF
	case <-s.ctx.Done():
		return status.FromContextError(s.ctx.Err()).Err()
	}
}

func (s *pipeStream) RecvMsg(m any) error {
	var b []byte
	select {
	case b = <-s.out:
	case <-s.done:
		s.mu.Lock()
		err := s.err
		s.mu.Unlock()
		s.cancel()
		if err == nil {
			return io.EOF
		}
		return err
	case <-s.ctx.Done():
		return status.FromContextError(s.ctx.Err()).Err()
	}
	pm, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "descriptors: %T is not a proto.Message", m)
	}
	if err := proto.Unmarshal(b, pm); err != nil {
		return status.Errorf(codes.Internal, "descriptors: unmarshal: %v", err)
	}
	return nil
}

// serverSide is the handler's view of a pipeStream.
type serverSide pipeStream

var _ gateway.Stream = (*serverSide)(nil)

func (s *serverSide) Context() context.Context { return s.ctx }

func (s *serverSide) RecvMsg() ([]byte, error) {
	select {
	case b, ok := <-s.in:
		if !ok {
			return nil, io.EOF
		}
		return b, nil
	case <-s.ctx.Done():
		return nil, status.FromContextError(s.ctx.Err()).Err()
	}
}

func (s *serverSide) SendHeader(md metadata.MD) error {
	s.mu.Lock()
	s.header = md
	s.mu.Unlock()
	s.hdrOnce.Do(func() { close(s.hdr) })
	return nil
}

func (s *serverSide) SendMsg(b []byte) error {
	s.hdrOnce.Do(func() { close(s.hdr) })
	select {
	case s.out <- b:
		return nil
	case <-s.ctx.Done():
		return status.FromContextError(s.ctx.Err()).Err()
	}
}

func (s *serverSide) SetTrailer(md metadata.MD) {
	s.mu.Lock()
	s.trailer = metadata.Join(s.trailer, md)
	s.mu.Unlock()
}
