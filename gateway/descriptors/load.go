package descriptors

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Reflection method paths: v1 first, v1alpha as the fallback. Their
// messages are the same on the wire.
const (
	reflectV1      = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	reflectV1Alpha = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
)

// maxReflectFiles bounds the files one reflection load fetches.
const maxReflectFiles = 10_000

// Reflect fetches, by gRPC server reflection over cc, the descriptors of
// every service the server lists (except the reflection service itself)
// and their dependencies. It uses grpc.reflection.v1 and falls back to
// v1alpha when the server does not implement v1.
func Reflect(ctx context.Context, cc grpc.ClientConnInterface) (*descriptorpb.FileDescriptorSet, error) {
	set, err := reflect(ctx, cc, reflectV1)
	if status.Code(err) == codes.Unimplemented {
		set, err = reflect(ctx, cc, reflectV1Alpha)
	}
	return set, err
}

func reflect(ctx context.Context, cc grpc.ClientConnInterface, method string) (*descriptorpb.FileDescriptorSet, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method)
	if err != nil {
		return nil, err
	}
	ask := func(req *reflectpb.ServerReflectionRequest) (*reflectpb.ServerReflectionResponse, error) {
		if err := cs.SendMsg(req); err != nil {
			if err == io.EOF {
				err = cs.RecvMsg(new(reflectpb.ServerReflectionResponse))
				if err == nil || err == io.EOF {
					err = status.Error(codes.Internal, "reflection stream ended")
				}
			}
			return nil, err
		}
		resp := new(reflectpb.ServerReflectionResponse)
		if err := cs.RecvMsg(resp); err != nil {
			if err == io.EOF {
				err = status.Error(codes.Internal, "reflection stream ended")
			}
			return nil, err
		}
		if e := resp.GetErrorResponse(); e != nil {
			return nil, status.Error(codes.Code(e.GetErrorCode()), e.GetErrorMessage())
		}
		return resp, nil
	}
	resp, err := ask(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}})
	if err != nil {
		return nil, err
	}
	files := map[string]*descriptorpb.FileDescriptorProto{}
	var order []string
	add := func(r *reflectpb.ServerReflectionResponse) error {
		for _, b := range r.GetFileDescriptorResponse().GetFileDescriptorProto() {
			fd := &descriptorpb.FileDescriptorProto{}
			if err := proto.Unmarshal(b, fd); err != nil {
				return status.Errorf(codes.Internal, "reflection: bad file descriptor: %v", err)
			}
			if _, ok := files[fd.GetName()]; !ok {
				files[fd.GetName()] = fd
				order = append(order, fd.GetName())
			}
		}
		if len(files) > maxReflectFiles {
			return status.Errorf(codes.ResourceExhausted, "reflection: more than %d files", maxReflectFiles)
		}
		return nil
	}
	for _, svc := range resp.GetListServicesResponse().GetService() {
		name := svc.GetName()
		if strings.HasPrefix(name, "grpc.reflection.") {
			continue
		}
		r, err := ask(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: name}})
		if err != nil {
			return nil, fmt.Errorf("reflection: service %s: %w", name, err)
		}
		if err := add(r); err != nil {
			return nil, err
		}
	}
	// Fetch the dependencies the server did not send along.
	for i := 0; i < len(order); i++ {
		for _, dep := range files[order[i]].GetDependency() {
			if _, ok := files[dep]; ok {
				continue
			}
			r, err := ask(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_FileByFilename{FileByFilename: dep}})
			if err != nil {
				return nil, fmt.Errorf("reflection: file %s: %w", dep, err)
			}
			if err := add(r); err != nil {
				return nil, err
			}
		}
	}
	_ = cs.CloseSend()
	set := &descriptorpb.FileDescriptorSet{}
	for _, n := range order {
		set.File = append(set.File, files[n])
	}
	return set, nil
}

// LoadFile reads a FileDescriptorSet (protoc --descriptor_set_out
// --include_imports, or buf build -o) from path.
func LoadFile(path string) (*descriptorpb.FileDescriptorSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(b, set); err != nil {
		return nil, fmt.Errorf("descriptor set %s: %w", path, err)
	}
	return set, nil
}

// merge returns the files of a, then those of b whose names a lacks.
func merge(a, b *descriptorpb.FileDescriptorSet) *descriptorpb.FileDescriptorSet {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	out := &descriptorpb.FileDescriptorSet{File: slices.Clone(a.File)}
	have := map[string]bool{}
	for _, f := range a.File {
		have[f.GetName()] = true
	}
	for _, f := range b.File {
		if !have[f.GetName()] {
			out.File = append(out.File, f)
		}
	}
	return out
}

// FileSet returns files and everything they import, each file once and
// after its imports, as a FileDescriptorSet: what NewIndex and a
// descriptor-set file take.
func FileSet(files ...protoreflect.FileDescriptor) *descriptorpb.FileDescriptorSet {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		imps := f.Imports()
		for i := range imps.Len() {
			add(imps.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	for _, f := range files {
		add(f)
	}
	return set
}
