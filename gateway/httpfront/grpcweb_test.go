package httpfront_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/examples/userservice/users"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// webAnswer is a gRPC-Web response, parsed.
type webAnswer struct {
	code     int
	header   http.Header
	msgs     [][]byte
	trailers map[string]string
}

// grpcWeb makes a gRPC-Web call as a browser client does: the request
// framed, base64 with text.
func grpcWeb(t *testing.T, url string, text bool, req proto.Message, hdr ...string) webAnswer {
	t.Helper()
	b := mustMarshal(t, req)
	body := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(b)))
	body = append(body, b...)
	ct := "application/grpc-web+proto"
	if text {
		ct = "application/grpc-web-text"
		body = []byte(base64.StdEncoding.EncodeToString(body))
	}
	a := do(t, "POST", url, ct, string(body), append([]string{"X-Grpc-Web", "1"}, hdr...)...)
	out := webAnswer{code: a.code, header: a.header, trailers: map[string]string{}}
	raw := []byte(a.body)
	if text {
		var err error
		if raw, err = decodeChunks(raw); err != nil {
			t.Fatalf("base64 answer %q: %v", a.body, err)
		}
	}
	for len(raw) > 0 {
		if len(raw) < 5 {
			t.Fatalf("truncated frame in %q", raw)
		}
		flag, n := raw[0], binary.BigEndian.Uint32(raw[1:5])
		payload := raw[5 : 5+n]
		raw = raw[5+n:]
		if flag&0x80 == 0 {
			out.msgs = append(out.msgs, payload)
			continue
		}
		for line := range strings.SplitSeq(strings.TrimSpace(string(payload)), "\r\n") {
			k, v, _ := strings.Cut(line, ":")
			out.trailers[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// decodeChunks decodes base64 made of padded chunks one after the other.
func decodeChunks(b []byte) ([]byte, error) {
	var out []byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '=')
		end := len(b)
		if i >= 0 {
			end = i
			for end < len(b) && b[end] == '=' {
				end++
			}
		}
		d, err := base64.StdEncoding.DecodeString(string(b[:end]))
		if err != nil {
			return nil, err
		}
		out = append(out, d...)
		b = b[end:]
	}
	return out, nil
}

// TestGRPCWeb: gRPC-Web calls (binary and text) through the HTTP front
// door reach gRPC and MCP upstreams: unary, server streaming, errors with
// their status in the trailers frame, metadata both ways.
func TestGRPCWeb(t *testing.T) {
	_, gaddr := startBackend(t, nil, false)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms := mcp.NewServer()
	userv1.RegisterUserServiceServer(ms, svc{users.New()})
	go func() { _ = ms.Serve(lis) }()
	t.Cleanup(func() { _ = ms.Close() })
	mcpYAML := strings.Replace(baseYAML, `endpoints: ["BACKEND"]`, `protocol: mcp
    endpoints: ["BACKEND"]`, 1)
	for name, d := range map[string]string{
		"grpc": base(startGateway(t, baseYAML, gaddr)),
		"mcp":  base(startGateway(t, mcpYAML, lis.Addr().String())),
	} {
		for _, text := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "", true: "-text"}[text], func(t *testing.T) {
				a := grpcWeb(t, d+"/user.v1.UserService/GetUser", text, &userv1.UserRequest{UserId: "1"})
				var u userv1.UserResponse
				if a.code != 200 || len(a.msgs) != 1 || proto.Unmarshal(a.msgs[0], &u) != nil || u.GetName() != "Alice" || a.trailers["grpc-status"] != "0" {
					t.Fatalf("unary: %d %v %v", a.code, a.msgs, a.trailers)
				}
				if want := map[bool]string{false: "application/grpc-web+proto", true: "application/grpc-web-text+proto"}[text]; a.header.Get("Content-Type") != want {
					t.Errorf("Content-Type %q, want %q", a.header.Get("Content-Type"), want)
				}

				a = grpcWeb(t, d+"/user.v1.UserService/ListUsers", text, &userv1.ListUsersRequest{Limit: 2})
				if len(a.msgs) != 2 || a.trailers["grpc-status"] != "0" {
					t.Errorf("server stream: %d messages, trailers %v", len(a.msgs), a.trailers)
				}
				a = grpcWeb(t, d+"/user.v1.UserService/ListUsers", text, &userv1.ListUsersRequest{Limit: 99})
				if len(a.msgs) != 1 || a.trailers["grpc-status"] != "15" || a.trailers["grpc-message"] != "stream broke" {
					t.Errorf("broken stream: %d messages, trailers %v", len(a.msgs), a.trailers)
				}

				a = grpcWeb(t, d+"/user.v1.UserService/GetUser", text, &userv1.UserRequest{UserId: "details"})
				if a.code != 200 || len(a.msgs) != 0 || a.trailers["grpc-status"] != "3" || a.trailers["grpc-status-details-bin"] == "" {
					t.Errorf("error with details: %d %v", a.code, a.trailers)
				}

				a = grpcWeb(t, d+"/user.v1.UserService/GetUser", text, &userv1.UserRequest{UserId: "meta"}, "Authorization", "Bearer t", "Cookie", "c=1")
				if len(a.msgs) != 1 || proto.Unmarshal(a.msgs[0], &u) != nil {
					t.Fatalf("meta: %v %v", a.msgs, a.trailers)
				}
				if got := u.GetName(); !strings.Contains(got, "authorization") || strings.Contains(got, "cookie") || !strings.Contains(got, "x-grpc-web") {
					t.Errorf("metadata forwarded: %q (the allow-list: authorization and x-* yes, cookie no)", got)
				}
				if name == "grpc" && (a.header.Get("X-Resp-Header") != "h1" || a.trailers["x-resp-trailer"] != "t1") {
					t.Errorf("response metadata: header %v, trailers %v", a.header, a.trailers)
				}

				a = grpcWeb(t, d+"/no.Such/Method", text, &userv1.UserRequest{})
				if a.trailers["grpc-status"] == "0" || a.trailers["grpc-status"] == "" {
					t.Errorf("unknown method: %v", a.trailers)
				}
			})
		}
	}

	// Bad framing.
	d := base(startGateway(t, baseYAML, gaddr))
	a := do(t, "POST", d+"/user.v1.UserService/GetUser", "application/grpc-web+proto", "\x00\x00\x00\x00\x09ab")
	if !strings.Contains(a.body, "grpc-status:"+strconv.Itoa(int(codes.InvalidArgument))) {
		t.Errorf("truncated frame: %d %q", a.code, a.body)
	}
}
