package upstream_test

import (
	"context"
	"io"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/rawcodec"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// benchStream is a lean half-closed front-door stream for one unary call,
// reset between calls.
type benchStream struct {
	ctx  context.Context
	msg  []byte
	read int
	got  int
}

func (s *benchStream) Context() context.Context { return s.ctx }
func (s *benchStream) HalfClosed() bool         { return true }
func (s *benchStream) RecvMsg() ([]byte, error) {
	s.read++
	if s.read == 1 {
		return s.msg, nil
	}
	return nil, io.EOF
}
func (s *benchStream) SendHeader(metadata.MD) error { return nil }
func (s *benchStream) SendMsg([]byte) error         { s.got++; return nil }
func (s *benchStream) SetTrailer(metadata.MD)       {}

// BenchmarkUnary compares one unary call through Upstream.Serve with the
// same call made directly on a connection, per backend protocol, on
// loopback in one process (the ratio is the upstream layer's overhead; the
// end-to-end gateway benchmarks live with the daemon).
func BenchmarkUnary(b *testing.B) {
	msg, _ := proto.Marshal(&userv1.UserRequest{UserId: "1"})
	for _, p := range []string{"grpc", "mcp"} {
		be := startBackend(b, p, "b", "")
		b.Run(p+"/upstream", func(b *testing.B) {
			u := newUpstream(b, upstreamConfig("users", p, "round_robin", be))
			req := &gateway.Request{Protocol: gateway.ProtocolMCP, Method: "POST", Path: pathGet}
			st := &benchStream{ctx: context.Background(), msg: msg}
			b.ReportAllocs()
			for b.Loop() {
				st.read, st.got = 0, 0
				if err := u.Serve(req, st); err != nil || st.got != 1 {
					b.Fatal(err)
				}
			}
		})
		b.Run(p+"/direct", func(b *testing.B) {
			ctx := context.Background()
			var call func() error
			if p == "grpc" {
				cc, err := grpc.NewClient("passthrough:///"+be.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					b.Fatal(err)
				}
				defer cc.Close()
				call = func() error {
					var out []byte
					return cc.Invoke(ctx, pathGet, &msg, &out, grpc.ForceCodecV2(rawcodec.Codec{}))
				}
			} else {
				mc, err := mcp.Dial(ctx, be.addr)
				if err != nil {
					b.Fatal(err)
				}
				defer mc.Close()
				call = func() error {
					_, err := mc.InvokeRaw(ctx, mcp.RawRequest{Path: pathGet}, msg)
					return err
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
