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
		return router.Serve(req, &stream{ss: ss})
	}
}

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
