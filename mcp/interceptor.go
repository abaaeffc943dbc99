package mcp

import (
	"context"

	"google.golang.org/grpc"
)

// Interceptor chains, outermost first, as grpc-go composes them.

func chainUnaryServer(ints []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	switch len(ints) {
	case 0:
		return nil
	case 1:
		return ints[0]
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return ints[0](ctx, req, info, unaryServerStep(ints, 0, info, handler))
	}
}

func unaryServerStep(ints []grpc.UnaryServerInterceptor, i int, info *grpc.UnaryServerInfo, final grpc.UnaryHandler) grpc.UnaryHandler {
	if i == len(ints)-1 {
		return final
	}
	return func(ctx context.Context, req any) (any, error) {
		return ints[i+1](ctx, req, info, unaryServerStep(ints, i+1, info, final))
	}
}

func chainStreamServer(ints []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	switch len(ints) {
	case 0:
		return nil
	case 1:
		return ints[0]
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return ints[0](srv, ss, info, streamServerStep(ints, 0, info, handler))
	}
}

func streamServerStep(ints []grpc.StreamServerInterceptor, i int, info *grpc.StreamServerInfo, final grpc.StreamHandler) grpc.StreamHandler {
	if i == len(ints)-1 {
		return final
	}
	return func(srv any, ss grpc.ServerStream) error {
		return ints[i+1](srv, ss, info, streamServerStep(ints, i+1, info, final))
	}
}

func chainUnaryClient(ints []grpc.UnaryClientInterceptor) grpc.UnaryClientInterceptor {
	switch len(ints) {
	case 0:
		return nil
	case 1:
		return ints[0]
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return ints[0](ctx, method, req, reply, cc, unaryClientStep(ints, 0, invoker), opts...)
	}
}

func unaryClientStep(ints []grpc.UnaryClientInterceptor, i int, final grpc.UnaryInvoker) grpc.UnaryInvoker {
	if i == len(ints)-1 {
		return final
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return ints[i+1](ctx, method, req, reply, cc, unaryClientStep(ints, i+1, final), opts...)
	}
}

func chainStreamClient(ints []grpc.StreamClientInterceptor) grpc.StreamClientInterceptor {
	switch len(ints) {
	case 0:
		return nil
	case 1:
		return ints[0]
	}
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return ints[0](ctx, desc, cc, method, streamClientStep(ints, 0, streamer), opts...)
	}
}

func streamClientStep(ints []grpc.StreamClientInterceptor, i int, final grpc.Streamer) grpc.Streamer {
	if i == len(ints)-1 {
		return final
	}
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return ints[i+1](ctx, desc, cc, method, streamClientStep(ints, i+1, final), opts...)
	}
}
