package transcode

import (
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway/descriptors"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/fieldmaskpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

// testMessage builds, at run time, a message with well-known and scalar
// fields.
func testMessage(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	f := func(name string, n int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string, repeated bool) *descriptorpb.FieldDescriptorProto {
		fd := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Type: typ.Enum(),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()}
		if repeated {
			fd.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
		}
		if typeName != "" {
			fd.TypeName = proto.String(typeName)
		}
		return fd
	}
	msg := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("t.proto"), Package: proto.String("t"), Syntax: proto.String("proto3"),
		Dependency: []string{"google/protobuf/timestamp.proto", "google/protobuf/duration.proto", "google/protobuf/wrappers.proto", "google/protobuf/field_mask.proto"},
		EnumType: []*descriptorpb.EnumDescriptorProto{{Name: proto.String("E"), Value: []*descriptorpb.EnumValueDescriptorProto{
			{Name: proto.String("E_UNSPECIFIED"), Number: proto.Int32(0)}, {Name: proto.String("E_ONE"), Number: proto.Int32(1)}}}},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Inner"), Field: []*descriptorpb.FieldDescriptorProto{f("name", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, "", false)}},
			{Name: proto.String("M"), Field: []*descriptorpb.FieldDescriptorProto{
				f("ts", 1, msg, ".google.protobuf.Timestamp", false),
				f("d", 2, msg, ".google.protobuf.Duration", false),
				f("w", 3, msg, ".google.protobuf.Int32Value", false),
				f("b", 4, msg, ".google.protobuf.BoolValue", false),
				f("fm", 5, msg, ".google.protobuf.FieldMask", false),
				f("tags", 6, descriptorpb.FieldDescriptorProto_TYPE_STRING, "", true),
				f("e", 7, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".t.E", false),
				f("raw", 8, descriptorpb.FieldDescriptorProto_TYPE_BYTES, "", false),
				f("inner", 9, msg, ".t.Inner", false),
				f("u64", 10, descriptorpb.FieldDescriptorProto_TYPE_UINT64, "", false),
				f("dbl", 11, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, "", false),
				f("s", 12, msg, ".google.protobuf.StringValue", false),
				f("counts", 13, msg, ".t.M.CountsEntry", true),
				f("kinds", 14, msg, ".t.M.KindsEntry", true),
				f("inners", 15, msg, ".t.M.InnersEntry", true),
			}, NestedType: []*descriptorpb.DescriptorProto{
				{Name: proto.String("CountsEntry"), Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)}, Field: []*descriptorpb.FieldDescriptorProto{
					f("key", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, "", false), f("value", 2, descriptorpb.FieldDescriptorProto_TYPE_INT32, "", false)}},
				{Name: proto.String("KindsEntry"), Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)}, Field: []*descriptorpb.FieldDescriptorProto{
					f("key", 1, descriptorpb.FieldDescriptorProto_TYPE_INT32, "", false), f("value", 2, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".t.E", false)}},
				{Name: proto.String("InnersEntry"), Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)}, Field: []*descriptorpb.FieldDescriptorProto{
					f("key", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, "", false), f("value", 2, msg, ".t.Inner", false)}},
			}},
		},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().ByName("M")
}

func TestSetPathWellKnownTypes(t *testing.T) {
	md := testMessage(t)
	m := dynamicpb.NewMessage(md)
	for _, kv := range [][2]string{
		{"ts", "2024-05-06T07:08:09Z"}, {"d", "1.5s"}, {"w", "42"}, {"b", "true"}, {"fm", "name,inner.name"},
		{"tags", "a"}, {"tags", "b"}, {"e", "E_ONE"}, {"raw", "aGk="}, {"inner.name", "x"}, {"u64", "18446744073709551615"},
		{"dbl", "2.5"}, {"s", "str"},
	} {
		fp, err := descriptors.FieldPath(md, kv[0], true)
		if err != nil {
			t.Fatalf("%s: %v", kv[0], err)
		}
		if err := setPath(m, fp, kv[1]); err != nil {
			t.Fatalf("%s=%s: %v", kv[0], kv[1], err)
		}
	}
	got, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(got), " ", "")
	for _, want := range []string{`"ts":"2024-05-06T07:08:09Z"`, `"d":"1.500s"`, `"w":42`, `"b":true`, `"fm":"name,inner.name"`,
		`"tags":["a","b"]`, `"e":"E_ONE"`, `"raw":"aGk="`, `"inner":{"name":"x"}`, `"u64":"18446744073709551615"`, `"dbl":2.5`, `"s":"str"`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %s", s, want)
		}
	}
	for _, kv := range [][2]string{{"ts", "yesterday"}, {"d", "1 hour"}, {"w", "x"}, {"b", "maybe"}, {"e", "E_TWO"}, {"u64", "-1"}, {"inner", "x"}} {
		fp, err := descriptors.FieldPath(md, kv[0], true)
		if err != nil {
			t.Fatalf("%s: %v", kv[0], err)
		}
		if err := setPath(dynamicpb.NewMessage(md), fp, kv[1]); err == nil {
			t.Errorf("%s=%s accepted", kv[0], kv[1])
		}
	}
}

// TestSetMapEntry: map entries from query parameters, as labels[key]=value.
func TestSetMapEntry(t *testing.T) {
	md := testMessage(t)
	m := dynamicpb.NewMessage(md)
	for _, kv := range [][2]string{{"counts[a]", "1"}, {"counts[b c]", "2"}, {"kinds[7]", "E_ONE"}} {
		name, key, ok := cutMapKey(kv[0])
		if !ok {
			t.Fatalf("cutMapKey(%q) found no key", kv[0])
		}
		fp, err := descriptors.FieldPath(md, name, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := setMapEntry(m, fp, key, kv[1]); err != nil {
			t.Fatalf("%s=%s: %v", kv[0], kv[1], err)
		}
	}
	got, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(got), " ", "")
	for _, want := range []string{`"counts":{`, `"a":1`, `"bc":2`, `"kinds":{"7":"E_ONE"}`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %s", s, want)
		}
	}
	for _, kv := range [][2]string{{"counts[a]", "x"}, {"kinds[x]", "E_ONE"}, {"inners[a]", "x"}} {
		name, key, _ := cutMapKey(kv[0])
		fp, err := descriptors.FieldPath(md, name, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := setMapEntry(dynamicpb.NewMessage(md), fp, key, kv[1]); err == nil {
			t.Errorf("%s=%s accepted", kv[0], kv[1])
		}
	}
	for _, p := range []string{"counts", "[a]", "counts[a"} {
		if _, _, ok := cutMapKey(p); ok {
			t.Errorf("cutMapKey(%q) found a key", p)
		}
	}
}

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{
		"": false, "application/grpc": false, "application/json": true, "application/json; charset=utf-8": true,
		"Application/JSON": true, "application/grpc+json": true, "application/proto": false, "text/json": false,
	} {
		if IsJSON(ct) != want {
			t.Errorf("IsJSON(%q) = %v", ct, !want)
		}
	}
}
