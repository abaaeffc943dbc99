// Package grpcfront is the gateway's gRPC front door: a grpc.Server that
// proxies any service and method, of any shape, without generated code. An
// unknown-service handler presents each call to the route table as a
// gateway.Request; a pass-through codec (gateway/rawcodec) carries messages
// as bytes. Metadata, headers, trailers, status, deadlines and cancellation
// pass through.
//
// The codec carries *[]byte messages as they are and protobuf messages
// encoded, so services registered on the server directly (the gateway's
// own: pubsub.v1.PubSub, and reflection with RegisterReflection) work as on
// any grpc.Server.
package grpcfront

import (
	"context"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/rawcodec"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// StreamHandler returns the grpc.StreamHandler that routes calls through
// router; use it with grpc.UnknownServiceHandler.
func StreamHandler(router *gateway.Router) grpc.StreamHandler {
	return func(_ any, ss grpc.ServerStream) error {
		method, ok := grpc.MethodFromServerStream(ss)
		if !ok {
			return status.Error(codes.Internal, "grpcfront: no method in stream")
		}
		md, _ := metadata.FromIncomingContext(ss.Context())
		req := &gateway.Request{
			Protocol: gateway.ProtocolGRPC,
			Method:   "POST",
			Path:     method,
			Header:   md,
		}
		if ct := md.Get("content-type"); len(ct) > 0 {
			req.ContentType = ct[0]
		}
		err := router.Serve(req, &stream{ss: ss})
		if slot, ok := ss.Context().Value(routeSlotKey{}).(*string); ok {
			*slot = req.RouteID
			if *slot == "" {
				*slot = Unrouted
			}
		}
		return err
	}
}

// Unrouted is the route label of a call no route matched.
const Unrouted = "unrouted"

type routeSlotKey struct{}

// Observer is told of each call's end: the route that served it (its ID,
// Unrouted, or "" for a service registered on the server itself), its
// code and its duration.
type Observer func(route string, code codes.Code, d time.Duration)

// ObserveInterceptors return the interceptors that tell observe of every
// call the server serves, proxied or its own.
func ObserveInterceptors(observe Observer) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	unary := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		observe("", status.Code(err), time.Since(start))
		return resp, err
	}
	stream := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		slot := new(string)
		err := handler(srv, &slotStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), routeSlotKey{}, slot)})
		observe(*slot, status.Code(err), time.Since(start))
		return err
	}
	return unary, stream
}

// slotStream is a ServerStream whose context carries the route slot.
type slotStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *slotStream) Context() context.Context { return s.ctx }

// NewServer returns a grpc.Server that proxies every call through router.
// opts are appended (limits, keepalive, credentials, interceptors).
func NewServer(router *gateway.Router, opts ...grpc.ServerOption) *grpc.Server {
	base := []grpc.ServerOption{
		grpc.UnknownServiceHandler(StreamHandler(router)),
		grpc.ForceServerCodecV2(rawcodec.Codec{}),
	}
	return grpc.NewServer(append(base, opts...)...)
}

// stream adapts a grpc.ServerStream to gateway.Stream.
type stream struct{ ss grpc.ServerStream }

var _ gateway.Stream = (*stream)(nil)

func (s *stream) RecvMsg() ([]byte, error) {
	var b []byte
	if err := s.ss.RecvMsg(&b); err != nil {
		return nil, err
	}
	return b, nil
}

func (s *stream) SendMsg(b []byte) error          { return s.ss.SendMsg(&b) }
func (s *stream) SendHeader(md metadata.MD) error { return s.ss.SendHeader(md) }
func (s *stream) SetTrailer(md metadata.MD)       { s.ss.SetTrailer(md) }
func (s *stream) Context() context.Context        { return s.ss.Context() }
