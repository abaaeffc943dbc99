package httpfront_test

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway/descriptors"
	"github.com/mcpbridge/mcpbridge/gateway/rawcodec"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// filesProto is a service whose methods take and return google.api.HttpBody,
// built at run time (the example proto has none).
func filesProto(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	msg := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
	i64 := descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	field := func(name string, n int32, typ *descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Type: typ, Label: opt}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	method := func(name, in, out string, stream bool, rule *annotations.HttpRule) *descriptorpb.MethodDescriptorProto {
		o := &descriptorpb.MethodOptions{}
		proto.SetExtension(o, annotations.E_Http, rule)
		return &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String(in), OutputType: proto.String(out),
			ServerStreaming: proto.Bool(stream), Options: o}
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("files/v1/files.proto"), Package: proto.String("files.v1"), Syntax: proto.String("proto3"),
		Dependency: []string{"google/api/annotations.proto", "google/api/httpbody.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Get"), Field: []*descriptorpb.FieldDescriptorProto{field("name", 1, str, "")}},
			{Name: proto.String("Put"), Field: []*descriptorpb.FieldDescriptorProto{field("name", 1, str, ""), field("body", 2, msg, ".google.api.HttpBody")}},
			{Name: proto.String("Stored"), Field: []*descriptorpb.FieldDescriptorProto{field("name", 1, str, ""), field("size", 2, i64, ""), field("content_type", 3, str, "")}},
			{Name: proto.String("Wrapped"), Field: []*descriptorpb.FieldDescriptorProto{field("name", 1, str, ""), field("body", 2, msg, ".google.api.HttpBody")}},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("Files"), Method: []*descriptorpb.MethodDescriptorProto{
			method("Download", ".files.v1.Get", ".google.api.HttpBody", false, &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/files/{name}"}}),
			method("Upload", ".files.v1.Put", ".files.v1.Stored", false, &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/files/{name}"}, Body: "body"}),
			method("Echo", ".google.api.HttpBody", ".google.api.HttpBody", false, &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/echo"}, Body: "*"}),
			method("Chunks", ".files.v1.Get", ".google.api.HttpBody", true, &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/chunks/{name}"}}),
			method("Wrap", ".files.v1.Get", ".files.v1.Wrapped", false, &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/wrapped/{name}"}, ResponseBody: "body"}),
		}}},
	}
	_ = httpbody.HttpBody{} // its file registered
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// descriptorSetFile writes fd and its dependencies as a FileDescriptorSet.
func descriptorSetFile(t *testing.T, fd protoreflect.FileDescriptor) string {
	t.Helper()
	path := t.TempDir() + "/files.binpb"
	if err := os.WriteFile(path, mustMarshal(t, descriptors.FileSet(fd)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startFilesBackend serves files.v1.Files with the pass-through codec.
func startFilesBackend(t *testing.T, fd protoreflect.FileDescriptor) string {
	t.Helper()
	msgs := fd.Messages()
	hb := func(ct, data string) []byte {
		return mustMarshal(t, &httpbody.HttpBody{ContentType: ct, Data: []byte(data)})
	}
	handler := func(_ any, ss grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(ss)
		var in []byte
		if err := ss.RecvMsg(&in); err != nil {
			return err
		}
		send := func(b []byte) error { return ss.SendMsg(&b) }
		get := dynamicpb.NewMessage(msgs.ByName("Get"))
		switch method {
		case "/files.v1.Files/Download":
			_ = proto.Unmarshal(in, get)
			name := get.Get(msgs.ByName("Get").Fields().ByName("name")).String()
			if name == "missing" {
				return status.Error(codes.NotFound, "no file missing")
			}
			return send(hb("text/csv", "a,b\n1,2\n"+name))
		case "/files.v1.Files/Upload":
			put := dynamicpb.NewMessage(msgs.ByName("Put"))
			if err := proto.Unmarshal(in, put); err != nil {
				return err
			}
			pf := msgs.ByName("Put").Fields()
			var body httpbody.HttpBody
			b, _ := proto.Marshal(put.Get(pf.ByName("body")).Message().Interface())
			_ = proto.Unmarshal(b, &body)
			stored := dynamicpb.NewMessage(msgs.ByName("Stored"))
			sf := msgs.ByName("Stored").Fields()
			stored.Set(sf.ByName("name"), put.Get(pf.ByName("name")))
			stored.Set(sf.ByName("size"), protoreflect.ValueOfInt64(int64(len(body.GetData()))))
			stored.Set(sf.ByName("content_type"), protoreflect.ValueOfString(body.GetContentType()))
			return send(mustMarshal(t, stored))
		case "/files.v1.Files/Echo":
			var body httpbody.HttpBody
			if err := proto.Unmarshal(in, &body); err != nil {
				return err
			}
			return send(hb(body.GetContentType(), "echo:"+string(body.GetData())))
		case "/files.v1.Files/Chunks":
			for i := range 3 {
				if err := send(hb("application/octet-stream", fmt.Sprintf("chunk%d;", i))); err != nil {
					return err
				}
			}
			return nil
		case "/files.v1.Files/Wrap":
			w := dynamicpb.NewMessage(msgs.ByName("Wrapped"))
			wf := msgs.ByName("Wrapped").Fields()
			w.Set(wf.ByName("name"), protoreflect.ValueOfString("x"))
			inner := dynamicpb.NewMessage(wf.ByName("body").Message())
			_ = proto.Unmarshal(hb("image/svg+xml", "<svg/>"), inner)
			w.Set(wf.ByName("body"), protoreflect.ValueOfMessage(inner))
			return send(mustMarshal(t, w))
		}
		return status.Error(codes.Unimplemented, method)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.UnknownServiceHandler(handler), grpc.ForceServerCodecV2(rawcodec.Codec{}))
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

// TestHTTPBody: google.api.HttpBody requests take the raw body with its
// Content-Type, and HttpBody answers (whole, in a response_body field, or
// a stream of them) go out as raw bytes with their content type.
func TestHTTPBody(t *testing.T) {
	fd := filesProto(t)
	addr := startFilesBackend(t, fd)
	yaml := strings.Replace(baseYAML, `endpoints: ["BACKEND"]`, `endpoints: ["BACKEND"]
    descriptors: {reflection: false, file: "`+descriptorSetFile(t, fd)+`"}`, 1)
	d := startGateway(t, yaml, addr)
	u := base(d)

	a := do(t, "GET", u+"/v1/files/report", "", "")
	if a.code != 200 || a.header.Get("Content-Type") != "text/csv" || a.body != "a,b\n1,2\nreport" {
		t.Errorf("download: %d %q %q", a.code, a.header.Get("Content-Type"), a.body)
	}
	a = do(t, "GET", u+"/v1/files/missing", "", "")
	if a.code != 404 || decode(t, a.body)["code"] != float64(5) {
		t.Errorf("download error: %d %s", a.code, a.body)
	}
	a = do(t, "POST", u+"/v1/files/pic", "image/png", "\x89PNG\x00\x01binary")
	if m := decode(t, a.body); a.code != 200 || m["name"] != "pic" || m["size"] != "12" || m["contentType"] != "image/png" {
		t.Errorf("upload: %d %s", a.code, a.body)
	}
	a = do(t, "POST", u+"/v1/echo", "application/xml", "<a/>")
	if a.code != 200 || a.header.Get("Content-Type") != "application/xml" || a.body != "echo:<a/>" {
		t.Errorf("echo: %d %q %q", a.code, a.header.Get("Content-Type"), a.body)
	}
	a = do(t, "GET", u+"/v1/chunks/x", "", "")
	if a.code != 200 || a.header.Get("Content-Type") != "application/octet-stream" || a.body != "chunk0;chunk1;chunk2;" ||
		a.trailer.Get("Grpc-Status") != "0" {
		t.Errorf("chunks: %d %q %q trailer %v", a.code, a.header.Get("Content-Type"), a.body, a.trailer)
	}
	a = do(t, "GET", u+"/v1/wrapped/x", "", "")
	if a.code != 200 || a.header.Get("Content-Type") != "image/svg+xml" || a.body != "<svg/>" {
		t.Errorf("response_body: %d %q %q", a.code, a.header.Get("Content-Type"), a.body)
	}
	// The JSON form of the same method still works.
	a = do(t, "POST", u+"/files.v1.Files/Echo", "application/json", `{"contentType":"text/plain","data":"aGk="}`)
	if m := decode(t, a.body); a.code != 200 || m["data"] != "ZWNobzpoaQ==" {
		t.Errorf("JSON form: %d %s", a.code, a.body)
	}
}
