package grpcfront

import (
	"context"
	"io"
	"slices"
	"strings"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/descriptors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Reflection method paths (v1alpha's messages are v1's, field for field).
const (
	reflectionV1      = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	reflectionV1Alpha = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
)

// Registrar is a server reflection can be registered on and that lists its
// services: a *grpc.Server, or the MCP front door's *mcp.Server.
type Registrar interface {
	grpc.ServiceRegistrar
	GetServiceInfo() map[string]grpc.ServiceInfo
}

// RegisterReflection serves gRPC server reflection (v1 and v1alpha) on srv
// as one view of the gateway: the services registered on srv itself (the
// gateway's own, such as pubsub.v1.PubSub) are described from their
// compiled-in descriptors, and every other request is forwarded through
// router as a reflection call of its own, to whichever upstream the route
// table sends reflection to. list_services merges both lists, so grpcurl
// lists the gateway's services next to the backends'. Without a route for
// reflection only the gateway's own services are described. Register it
// after the gateway's own services.
func RegisterReflection(srv Registrar, router gateway.Handler) {
	r := &reflector{srv: srv, conn: descriptors.HandlerConn(router)}
	for _, name := range []string{"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"} {
		srv.RegisterService(&grpc.ServiceDesc{
			ServiceName: name,
			HandlerType: (*any)(nil),
			Streams: []grpc.StreamDesc{{
				StreamName:    "ServerReflectionInfo",
				Handler:       func(_ any, ss grpc.ServerStream) error { return r.serve(ss) },
				ServerStreams: true,
				ClientStreams: true,
			}},
			Metadata: "grpc/reflection/v1/reflection.proto",
		}, r)
	}
}

type reflector struct {
	srv  Registrar
	conn grpc.ClientConnInterface
}

// serve answers one reflection stream, request by request.
func (r *reflector) serve(ss grpc.ServerStream) error {
	ctx := ss.Context()
	// The forwarded stream carries the client's metadata, so that the
	// route table picks the upstream it would pick for the call itself.
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		ctx = metadata.NewOutgoingContext(ctx, md.Copy())
	}
	up := &upstreamReflection{conn: r.conn, ctx: ctx}
	defer up.close()
	for {
		req := new(rpb.ServerReflectionRequest)
		if err := ss.RecvMsg(req); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		resp := r.answer(req, up)
		resp.ValidHost = req.GetHost()
		resp.OriginalRequest = req
		if err := ss.SendMsg(resp); err != nil {
			return err
		}
	}
}

// local returns the services registered on the front door itself, but
// reflection.
func (r *reflector) local() []string {
	var names []string
	for name := range r.srv.GetServiceInfo() {
		if !strings.HasPrefix(name, "grpc.reflection.") {
			names = append(names, name)
		}
	}
	return names
}

func (r *reflector) answer(req *rpb.ServerReflectionRequest, up *upstreamReflection) *rpb.ServerReflectionResponse {
	local := r.local()
	switch m := req.GetMessageRequest().(type) {
	case *rpb.ServerReflectionRequest_ListServices:
		names := slices.Clone(local)
		names = append(names, "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection")
		if resp, err := up.ask(req); err == nil {
			for _, s := range resp.GetListServicesResponse().GetService() {
				names = append(names, s.GetName())
			}
		}
		slices.Sort(names)
		names = slices.Compact(names)
		out := &rpb.ListServiceResponse{}
		for _, n := range names {
			out.Service = append(out.Service, &rpb.ServiceResponse{Name: n})
		}
		return &rpb.ServerReflectionResponse{MessageResponse: &rpb.ServerReflectionResponse_ListServicesResponse{ListServicesResponse: out}}
	case *rpb.ServerReflectionRequest_FileContainingSymbol:
		if ownSymbol(local, m.FileContainingSymbol) {
			if d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(m.FileContainingSymbol)); err == nil {
				return fileResponse(d.ParentFile())
			}
		}
	case *rpb.ServerReflectionRequest_FileByFilename:
		if fd, err := protoregistry.GlobalFiles.FindFileByPath(m.FileByFilename); err == nil && ownFile(local, fd) {
			return fileResponse(fd)
		}
	}
	resp, err := up.ask(req)
	if err != nil {
		st := status.Convert(err)
		return &rpb.ServerReflectionResponse{MessageResponse: &rpb.ServerReflectionResponse_ErrorResponse{ErrorResponse: &rpb.ErrorResponse{
			ErrorCode: int32(st.Code()), ErrorMessage: st.Message(),
		}}}
	}
	return resp
}

// ownSymbol reports whether sym is one of the services in local, or a
// method or other name within one.
func ownSymbol(local []string, sym string) bool {
	for _, s := range local {
		if sym == s || strings.HasPrefix(sym, s+".") {
			return true
		}
	}
	return false
}

// ownFile reports whether fd is the file of a service in local, or one it
// imports.
func ownFile(local []string, fd protoreflect.FileDescriptor) bool {
	for _, s := range local {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(s))
		if err != nil {
			continue
		}
		if hasFile(d.ParentFile(), fd.Path(), map[string]bool{}) {
			return true
		}
	}
	return false
}

func hasFile(f protoreflect.FileDescriptor, path string, seen map[string]bool) bool {
	if f.Path() == path {
		return true
	}
	if seen[f.Path()] {
		return false
	}
	seen[f.Path()] = true
	imps := f.Imports()
	for i := range imps.Len() {
		if hasFile(imps.Get(i).FileDescriptor, path, seen) {
			return true
		}
	}
	return false
}

// fileResponse is fd and everything it imports, as serialized
// FileDescriptorProtos, fd first.
func fileResponse(fd protoreflect.FileDescriptor) *rpb.ServerReflectionResponse {
	files := descriptors.FileSet(fd).GetFile()
	out := make([][]byte, 0, len(files))
	for i := len(files) - 1; i >= 0; i-- { // FileSet puts fd last
		if b, err := proto.Marshal(files[i]); err == nil {
			out = append(out, b)
		}
	}
	return &rpb.ServerReflectionResponse{MessageResponse: &rpb.ServerReflectionResponse_FileDescriptorResponse{
		FileDescriptorResponse: &rpb.FileDescriptorResponse{FileDescriptorProto: out},
	}}
}

// upstreamReflection is the reflection stream forwarded through the route
// table, opened on the first request that needs it: v1, or v1alpha when
// the upstream answers v1 with UNIMPLEMENTED. After an error the next
// request opens a new one.
type upstreamReflection struct {
	conn   grpc.ClientConnInterface
	ctx    context.Context
	cancel context.CancelFunc
	cs     grpc.ClientStream
	alpha  bool
}

var reflectionDesc = grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

func (u *upstreamReflection) ask(req *rpb.ServerReflectionRequest) (*rpb.ServerReflectionResponse, error) {
	resp, err := u.try(req)
	if status.Code(err) == codes.Unimplemented && !u.alpha {
		u.alpha = true
		resp, err = u.try(req)
	}
	return resp, err
}

func (u *upstreamReflection) try(req *rpb.ServerReflectionRequest) (*rpb.ServerReflectionResponse, error) {
	if u.cs == nil {
		path := reflectionV1
		if u.alpha {
			path = reflectionV1Alpha
		}
		ctx, cancel := context.WithCancel(u.ctx)
		cs, err := u.conn.NewStream(ctx, &reflectionDesc, path)
		if err != nil {
			cancel()
			return nil, err
		}
		u.cs, u.cancel = cs, cancel
	}
	resp := new(rpb.ServerReflectionResponse)
	err := u.cs.SendMsg(req)
	if err == nil || err == io.EOF { // io.EOF: the call ended; RecvMsg says how
		err = u.cs.RecvMsg(resp)
	}
	if err != nil {
		u.close()
		if err == io.EOF {
			err = status.Error(codes.Unavailable, "grpcfront: the upstream ended the reflection stream")
		}
		return nil, err
	}
	return resp, nil
}

func (u *upstreamReflection) close() {
	if u.cancel != nil {
		u.cancel()
	}
	u.cs, u.cancel = nil, nil
}
