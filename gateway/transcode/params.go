package transcode

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// setPath sets the field at path in msg from the string s (a path variable
// or a query parameter). Intermediate messages are created; a repeated
// last field gets s appended.
func setPath(msg protoreflect.Message, path []protoreflect.FieldDescriptor, s string) error {
	for _, fd := range path[:len(path)-1] {
		msg = msg.Mutable(fd).Message()
	}
	fd := path[len(path)-1]
	if fd.IsMap() {
		return fmt.Errorf("map field %s is set entry by entry, as %s[key]=value", fd.Name(), fd.Name())
	}
	v, err := parseValue(msg, fd, s)
	if err != nil {
		return err
	}
	if fd.IsList() {
		msg.Mutable(fd).List().Append(v)
		return nil
	}
	msg.Set(fd, v)
	return nil
}

// cutMapKey splits a query parameter naming a map entry, "labels[env]",
// into the field path and the key; ok is false for any other name.
func cutMapKey(param string) (path, key string, ok bool) {
	i := strings.IndexByte(param, '[')
	if i <= 0 || !strings.HasSuffix(param, "]") {
		return param, "", false
	}
	return param[:i], param[i+1 : len(param)-1], true
}

// setMapEntry sets the entry key of the map field at path in msg from the
// string s. The map's values must be scalars or enums.
func setMapEntry(msg protoreflect.Message, path []protoreflect.FieldDescriptor, key, s string) error {
	for _, fd := range path[:len(path)-1] {
		msg = msg.Mutable(fd).Message()
	}
	fd := path[len(path)-1]
	vd := fd.MapValue()
	if vd.Kind() == protoreflect.MessageKind || vd.Kind() == protoreflect.GroupKind {
		return fmt.Errorf("map field %s has message values, which cannot be set from a string", fd.Name())
	}
	k, err := parseValue(msg, fd.MapKey(), key)
	if err != nil {
		return fmt.Errorf("map key: %w", err)
	}
	v, err := parseValue(msg, vd, s)
	if err != nil {
		return err
	}
	msg.Mutable(fd).Map().Set(k.MapKey(), v)
	return nil
}

// parseValue parses s as a value of field fd.
func parseValue(msg protoreflect.Message, fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, error) {
	bad := func(err error) (protoreflect.Value, error) {
		return protoreflect.Value{}, fmt.Errorf("invalid value %q for %s field %s", s, kindName(fd), fd.Name())
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BytesKind:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			if b, err = base64.URLEncoding.DecodeString(s); err != nil {
				if b, err = base64.RawURLEncoding.DecodeString(s); err != nil {
					return bad(err)
				}
			}
		}
		return protoreflect.ValueOfBytes(b), nil
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return bad(err)
		}
		return protoreflect.ValueOfBool(b), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return bad(err)
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return bad(err)
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return bad(err)
		}
		return protoreflect.ValueOfUint32(uint32(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return bad(err)
		}
		return protoreflect.ValueOfUint64(n), nil
	case protoreflect.FloatKind:
		f, err := strconv.ParseFloat(s, 32)
		if err != nil || math.IsInf(f, 0) && !strings.Contains(strings.ToLower(s), "inf") {
			return bad(err)
		}
		return protoreflect.ValueOfFloat32(float32(f)), nil
	case protoreflect.DoubleKind:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return bad(err)
		}
		return protoreflect.ValueOfFloat64(f), nil
	case protoreflect.EnumKind:
		ed := fd.Enum()
		if ev := ed.Values().ByName(protoreflect.Name(s)); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("invalid value %q for enum field %s (%s)", s, fd.Name(), ed.FullName())
		}
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		var m protoreflect.Message
		if fd.IsList() {
			m = msg.Mutable(fd).List().NewElement().Message()
		} else {
			m = msg.NewField(fd).Message()
		}
		md := m.Descriptor()
		if strings.HasPrefix(string(md.FullName()), "google.protobuf.") && strings.HasSuffix(string(md.Name()), "Value") && md.Fields().Len() == 1 {
			// A wrapper: its value field from s.
			inner := md.Fields().ByName("value")
			if inner == nil {
				break
			}
			v, err := parseValue(m, inner, s)
			if err != nil {
				return protoreflect.Value{}, fmt.Errorf("invalid value %q for %s field %s", s, md.Name(), fd.Name())
			}
			m.Set(inner, v)
			return protoreflect.ValueOfMessage(m), nil
		}
		switch md.FullName() {
		case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask":
			if err := protojson.Unmarshal([]byte(strconv.Quote(s)), m.Interface()); err != nil {
				return protoreflect.Value{}, fmt.Errorf("invalid value %q for %s field %s", s, md.Name(), fd.Name())
			}
			return protoreflect.ValueOfMessage(m), nil
		}
		return protoreflect.Value{}, fmt.Errorf("message field %s (%s) cannot be set from a string", fd.Name(), md.FullName())
	}
	return protoreflect.Value{}, fmt.Errorf("field %s of kind %s cannot be set from a string", fd.Name(), fd.Kind())
}

func kindName(fd protoreflect.FieldDescriptor) string {
	return fd.Kind().String()
}
