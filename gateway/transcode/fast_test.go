package transcode

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// flatTestMessage has one field of every kind the fast encoder handles.
func flatTestMessage(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	var fields []*descriptorpb.FieldDescriptorProto
	for i, k := range []descriptorpb.FieldDescriptorProto_Type{
		descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_BOOL,
		descriptorpb.FieldDescriptorProto_TYPE_INT32, descriptorpb.FieldDescriptorProto_TYPE_SINT32,
		descriptorpb.FieldDescriptorProto_TYPE_UINT32, descriptorpb.FieldDescriptorProto_TYPE_INT64,
		descriptorpb.FieldDescriptorProto_TYPE_SINT64, descriptorpb.FieldDescriptorProto_TYPE_UINT64,
		descriptorpb.FieldDescriptorProto_TYPE_FIXED32, descriptorpb.FieldDescriptorProto_TYPE_FIXED64,
		descriptorpb.FieldDescriptorProto_TYPE_SFIXED32, descriptorpb.FieldDescriptorProto_TYPE_SFIXED64,
	} {
		name := "f_" + k.String()
		fields = append(fields, &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(int32(i + 1)),
			Type: k.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String(protodescJSONName(name))})
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("flat.proto"), Package: proto.String("f"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Flat"), Field: fields}},
	}, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().ByName("Flat")
}

func protodescJSONName(s string) string {
	out := []byte{}
	up := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' {
			up = true
			continue
		}
		if up && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = false
		out = append(out, c)
	}
	return string(out)
}

func TestEncodeFlatMatchesProtojson(t *testing.T) {
	md := flatTestMessage(t)
	fm := buildFlat(md)
	if fm == nil {
		t.Fatal("not flat")
	}
	r := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "a", "héllo", "quote\" back\\slash", "ctl\x01\n\t", "<>&", "\u2028"}
	ints := []uint64{0, 1, math.MaxUint64, 1 << 31, 1 << 63, 42}
	for i := range 2000 {
		m := dynamicpb.NewMessage(md)
		fds := md.Fields()
		for j := range fds.Len() {
			fd := fds.Get(j)
			if r.IntN(3) == 0 {
				continue
			}
			switch fd.Kind() {
			case protoreflect.StringKind:
				m.Set(fd, protoreflect.ValueOfString(strs[r.IntN(len(strs))]))
			case protoreflect.BoolKind:
				m.Set(fd, protoreflect.ValueOfBool(r.IntN(2) == 0))
			case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
				m.Set(fd, protoreflect.ValueOfInt32(int32(ints[r.IntN(len(ints))])))
			case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
				m.Set(fd, protoreflect.ValueOfUint32(uint32(ints[r.IntN(len(ints))])))
			case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
				m.Set(fd, protoreflect.ValueOfInt64(int64(ints[r.IntN(len(ints))])))
			case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
				m.Set(fd, protoreflect.ValueOfUint64(ints[r.IntN(len(ints))]))
			}
		}
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 { // an unknown field and a repeated (last wins) one
			b = protowire.AppendTag(b, 99, protowire.BytesType)
			b = protowire.AppendString(b, "unknown")
			b = protowire.AppendTag(b, 3, protowire.VarintType)
			b = protowire.AppendVarint(b, 7)
			m = dynamicpb.NewMessage(md)
			if err := proto.Unmarshal(b, m); err != nil {
				t.Fatal(err)
			}
		}
		for _, opts := range []Options{{}, {UseProtoNames: true}, {EmitDefaults: true}} {
			got, ok := encodeFlat(nil, fm, b, &opts)
			if !ok {
				t.Fatalf("fast path refused %x", b)
			}
			want, err := protojson.MarshalOptions{UseProtoNames: opts.UseProtoNames, EmitUnpopulated: opts.EmitDefaults}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("fast output %s: %v", got, err)
			}
			_ = json.Unmarshal(want, &w)
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("opts %+v:\nfast     %s\nprotojson %s", opts, got, want)
			}
		}
	}
	// Malformed input falls back.
	if _, ok := encodeFlat(nil, fm, []byte{0x0a, 0x05, 'a'}, &Options{}); ok {
		t.Error("truncated message accepted")
	}
	if _, ok := encodeFlat(nil, fm, []byte{0x0a, 0x01, 0xff}, &Options{}); ok {
		t.Error("invalid UTF-8 accepted")
	}
	if _, ok := encodeFlat(nil, fm, []byte{0x08, 0x01}, &Options{}); ok {
		t.Error("wrong wire type accepted")
	}
}

// TestDecodeFlatMatchesProtojson: whatever the fast decoder accepts,
// protojson accepts too, with the same message.
func TestDecodeFlatMatchesProtojson(t *testing.T) {
	md := flatTestMessage(t)
	in := buildFlatIn(md)
	if in == nil {
		t.Fatal("not flat")
	}
	r := rand.New(rand.NewPCG(3, 4))
	keys := []string{}
	fds := md.Fields()
	for i := range fds.Len() {
		keys = append(keys, string(fds.Get(i).Name()), fds.Get(i).JSONName())
	}
	keys = append(keys, "unknown")
	vals := []string{`""`, `"x"`, `"héllo"`, `"a\"b"`, `"\u0041"`, `0`, `-0`, `1`, `-1`, `01`, `1.0`, `1e3`, `2147483647`, `2147483648`,
		`-2147483649`, `4294967295`, `4294967296`, `9223372036854775807`, `18446744073709551615`, `18446744073709551616`,
		`"123"`, `true`, `false`, `null`, `[]`, `{}`, `tru`, "\"\x01\""}
	accepted := 0
	for range 20000 {
		var sb []byte
		sb = append(sb, ' ', '{')
		n := r.IntN(4)
		for k := range n {
			if k > 0 {
				sb = append(sb, ',')
			}
			if r.IntN(2) == 0 {
				sb = append(sb, ' ')
			}
			sb = append(sb, '"')
			sb = append(sb, keys[r.IntN(len(keys))]...)
			sb = append(sb, '"', ':')
			sb = append(sb, vals[r.IntN(len(vals))]...)
		}
		sb = append(sb, '}')
		if r.IntN(20) == 0 {
			sb = append(sb, "x"...)
		}
		got, ok := decodeFlat(nil, in, sb)
		want := dynamicpb.NewMessage(md)
		err := protojson.Unmarshal(sb, want)
		if !ok {
			continue
		}
		accepted++
		if err != nil {
			t.Fatalf("fast path accepted %s, protojson: %v", sb, err)
		}
		gotMsg := dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(got, gotMsg); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(gotMsg, want) {
			t.Fatalf("%s: fast %v, protojson %v", sb, gotMsg, want)
		}
	}
	if accepted < 1000 {
		t.Errorf("fast path accepted only %d inputs", accepted)
	}
}
