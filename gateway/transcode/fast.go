package transcode

import (
	"strconv"
	"unicode/utf8"

	"github.com/mcpbridge/mcpbridge/gateway/descriptors"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Fast paths for the common shapes, which skip dynamic messages: a request
// made only of path variables that are top-level scalar fields, and a
// response whose fields are all implicit-presence scalars (no floats,
// bytes, enums, messages or repeated fields). Anything else, or anything
// unusual in the data, takes the general path, whose errors are precise.

// flatField is one field of a flat message.
type flatField struct {
	num      protowire.Number
	kind     protoreflect.Kind
	jsonName string
	protoNam string
}

// flatMessage describes a message the fast encoder handles; nil when it
// does not.
type flatMessage struct {
	fields []flatField // declaration order
	byNum  []int16     // field number → index in fields, -1 if none
}

// maxFlatNumber bounds the field numbers of a flat message (a dense table).
const maxFlatNumber = 64

// methodAux is what the transcoder keeps per method (descriptors.Method.Aux).
type methodAux struct {
	out *flatMessage // nil: the response type is not flat
	in  *flatIn      // nil: the request type is not flat
}

func auxOf(m *descriptors.Method) *methodAux {
	if a, ok := m.Aux().(*methodAux); ok {
		return a
	}
	a := &methodAux{out: buildFlat(m.Output), in: buildFlatIn(m.Input)}
	m.SetAux(a)
	return a
}

func buildFlat(md protoreflect.MessageDescriptor) *flatMessage {
	fds := md.Fields()
	if fds.Len() == 0 || md.ExtensionRanges().Len() > 0 {
		return nil
	}
	fm := &flatMessage{byNum: make([]int16, maxFlatNumber+1)}
	for i := range fm.byNum {
		fm.byNum[i] = -1
	}
	for i := range fds.Len() {
		fd := fds.Get(i)
		if fd.IsList() || fd.IsMap() || fd.HasPresence() || fd.Number() > maxFlatNumber {
			return nil
		}
		switch fd.Kind() {
		case protoreflect.StringKind, protoreflect.BoolKind,
			protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Uint32Kind,
			protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind,
			protoreflect.Fixed32Kind, protoreflect.Fixed64Kind, protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		default:
			return nil
		}
		fm.byNum[fd.Number()] = int16(len(fm.fields))
		fm.fields = append(fm.fields, flatField{num: fd.Number(), kind: fd.Kind(), jsonName: fd.JSONName(), protoNam: string(fd.Name())})
	}
	return fm
}

// flatValue is a decoded field: an integer (as uint64 bits) or a string.
type flatValue struct {
	set bool
	n   uint64
	s   []byte
}

// maxFlatFields bounds the fields of a flat message kept on the stack.
const maxFlatFields = 16

// encodeFlat writes b, a protobuf message of type fm, as protojson would;
// ok is false when it cannot (the general path must then run).
func encodeFlat(dst []byte, fm *flatMessage, b []byte, opts *Options) ([]byte, bool) {
	if len(fm.fields) > maxFlatFields {
		return dst, false
	}
	var vals [maxFlatFields]flatValue
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || !num.IsValid() {
			return dst, false
		}
		b = b[n:]
		idx := -1
		if int(num) < len(fm.byNum) {
			idx = int(fm.byNum[num])
		}
		if idx < 0 {
			// Unknown field: protojson leaves it out.
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return dst, false
			}
			b = b[n:]
			continue
		}
		f := &fm.fields[idx]
		v := &vals[idx]
		switch f.kind {
		case protoreflect.StringKind:
			if typ != protowire.BytesType {
				return dst, false
			}
			s, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return dst, false
			}
			b = b[n:]
			v.s, v.set = s, true
		case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
			if typ != protowire.Fixed32Type {
				return dst, false
			}
			x, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return dst, false
			}
			b = b[n:]
			v.n, v.set = uint64(x), true
		case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
			if typ != protowire.Fixed64Type {
				return dst, false
			}
			x, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return dst, false
			}
			b = b[n:]
			v.n, v.set = x, true
		default:
			if typ != protowire.VarintType {
				return dst, false
			}
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return dst, false
			}
			b = b[n:]
			v.n, v.set = x, true
		}
	}
	dst = append(dst, '{')
	first := true
	for i := range fm.fields {
		f := &fm.fields[i]
		v := &vals[i]
		zero := !v.set || (f.kind == protoreflect.StringKind && len(v.s) == 0) || (f.kind != protoreflect.StringKind && v.n == 0)
		if zero && !opts.EmitDefaults {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		if opts.UseProtoNames {
			dst = append(dst, f.protoNam...)
		} else {
			dst = append(dst, f.jsonName...)
		}
		dst = append(dst, '"', ':')
		switch f.kind {
		case protoreflect.StringKind:
			if !utf8.Valid(v.s) {
				return dst, false
			}
			dst = appendJSONString(dst, v.s)
		case protoreflect.BoolKind:
			dst = strconv.AppendBool(dst, v.n != 0)
		case protoreflect.Int32Kind:
			dst = strconv.AppendInt(dst, int64(int32(v.n)), 10)
		case protoreflect.Sint32Kind:
			dst = strconv.AppendInt(dst, int64(int32(protowire.DecodeZigZag(v.n&0xffffffff))), 10)
		case protoreflect.Sfixed32Kind:
			dst = strconv.AppendInt(dst, int64(int32(uint32(v.n))), 10)
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
			dst = strconv.AppendUint(dst, uint64(uint32(v.n)), 10)
		case protoreflect.Int64Kind, protoreflect.Sfixed64Kind:
			dst = append(dst, '"')
			dst = strconv.AppendInt(dst, int64(v.n), 10)
			dst = append(dst, '"')
		case protoreflect.Sint64Kind:
			dst = append(dst, '"')
			dst = strconv.AppendInt(dst, protowire.DecodeZigZag(v.n), 10)
			dst = append(dst, '"')
		case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			dst = append(dst, '"')
			dst = strconv.AppendUint(dst, v.n, 10)
			dst = append(dst, '"')
		}
	}
	return append(dst, '}'), true
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s, valid UTF-8, as a JSON string.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// encodePathOnly encodes a request made only of path variables bound to
// top-level string or integer fields; ok is false otherwise (or when a
// value does not parse: the general path then says why).
func encodePathOnly(dst []byte, pathFields [][]protoreflect.FieldDescriptor, vals []string) ([]byte, bool) {
	for i, fp := range pathFields {
		if len(fp) != 1 {
			return dst, false
		}
		fd := fp[0]
		if fd.IsList() || fd.IsMap() {
			return dst, false
		}
		s := vals[i]
		switch fd.Kind() {
		case protoreflect.StringKind:
			if !utf8.ValidString(s) {
				return dst, false
			}
			if s == "" && !fd.HasPresence() {
				continue
			}
			dst = protowire.AppendTag(dst, fd.Number(), protowire.BytesType)
			dst = protowire.AppendString(dst, s)
		case protoreflect.Int32Kind:
			n, err := strconv.ParseInt(s, 10, 32)
			if err != nil {
				return dst, false
			}
			dst = protowire.AppendTag(dst, fd.Number(), protowire.VarintType)
			dst = protowire.AppendVarint(dst, uint64(n))
		case protoreflect.Int64Kind:
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return dst, false
			}
			dst = protowire.AppendTag(dst, fd.Number(), protowire.VarintType)
			dst = protowire.AppendVarint(dst, uint64(n))
		case protoreflect.Uint32Kind:
			n, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return dst, false
			}
			dst = protowire.AppendTag(dst, fd.Number(), protowire.VarintType)
			dst = protowire.AppendVarint(dst, n)
		case protoreflect.Uint64Kind:
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return dst, false
			}
			dst = protowire.AppendTag(dst, fd.Number(), protowire.VarintType)
			dst = protowire.AppendVarint(dst, n)
		default:
			return dst, false
		}
	}
	return dst, true
}

// flatIn is the request side of a flat message: fields by JSON and proto
// name.
type flatIn struct {
	fm     *flatMessage
	byName map[string]int
	fds    []protoreflect.FieldDescriptor
}

func buildFlatIn(md protoreflect.MessageDescriptor) *flatIn {
	fm := buildFlat(md)
	if fm == nil {
		return nil
	}
	in := &flatIn{fm: fm, byName: map[string]int{}}
	for i, f := range fm.fields {
		in.byName[f.jsonName] = i
		in.byName[f.protoNam] = i
		in.fds = append(in.fds, md.Fields().ByNumber(f.num))
	}
	return in
}

// decodeFlat converts a JSON object of a flat message to protobuf,
// appended to dst; ok is false when the input is anything but plain (an
// escape in a string, a number with a fraction or exponent, a quoted
// 64-bit integer, an unknown or repeated key, null, malformed JSON): the
// general path then decodes it, with its precise errors.
func decodeFlat(dst []byte, in *flatIn, b []byte) ([]byte, bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return dst, false
	}
	i = skipWS(b, i+1)
	var seen uint64
	if i < len(b) && b[i] == '}' {
		return dst, skipWS(b, i+1) == len(b)
	}
	for {
		key, j, ok := plainString(b, i)
		if !ok {
			return dst, false
		}
		idx, known := in.byName[string(key)]
		if !known || seen&(1<<idx) != 0 {
			return dst, false
		}
		seen |= 1 << idx
		i = skipWS(b, j)
		if i >= len(b) || b[i] != ':' {
			return dst, false
		}
		i = skipWS(b, i+1)
		f := &in.fm.fields[idx]
		switch f.kind {
		case protoreflect.StringKind:
			s, j, ok := plainString(b, i)
			if !ok {
				return dst, false
			}
			if len(s) > 0 {
				dst = protowire.AppendTag(dst, f.num, protowire.BytesType)
				dst = protowire.AppendBytes(dst, s)
			}
			i = j
		case protoreflect.BoolKind:
			switch {
			case hasPrefixAt(b, i, "true"):
				dst = protowire.AppendTag(dst, f.num, protowire.VarintType)
				dst = protowire.AppendVarint(dst, 1)
				i += 4
			case hasPrefixAt(b, i, "false"):
				i += 5
			default:
				return dst, false
			}
		default:
			j := i
			if j < len(b) && b[j] == '-' {
				j++
			}
			for j < len(b) && '0' <= b[j] && b[j] <= '9' {
				j++
			}
			digits := b[i:j]
			if len(digits) > 0 && digits[0] == '-' {
				digits = digits[1:]
			}
			if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' || j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
				return dst, false // not a plain JSON integer
			}
			var err error
			dst, err = appendInt(dst, f, string(b[i:j]))
			if err != nil {
				return dst, false
			}
			i = j
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return dst, false
		}
		if b[i] == '}' {
			return dst, skipWS(b, i+1) == len(b)
		}
		if b[i] != ',' {
			return dst, false
		}
		i = skipWS(b, i+1)
	}
}

func hasPrefixAt(b []byte, i int, s string) bool {
	return len(b)-i >= len(s) && string(b[i:i+len(s)]) == s
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string without escapes or control characters,
// in valid UTF-8, at b[i]; it returns its contents and the index after it.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s := b[i+1 : j]
			if !utf8.Valid(s) {
				return nil, 0, false
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// appendInt appends integer field f from its decimal text; a value out of
// range is an error.
func appendInt(dst []byte, f *flatField, s string) ([]byte, error) {
	var u uint64
	switch f.kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return dst, err
		}
		switch f.kind {
		case protoreflect.Sint32Kind:
			u = protowire.EncodeZigZag(n)
		case protoreflect.Sfixed32Kind:
			u = uint64(uint32(int32(n)))
		default:
			u = uint64(n)
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return dst, err
		}
		u = uint64(n)
		if f.kind == protoreflect.Sint64Kind {
			u = protowire.EncodeZigZag(n)
		}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return dst, err
		}
		u = n
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return dst, err
		}
		u = n
	default:
		return dst, strconv.ErrSyntax
	}
	if u == 0 {
		return dst, nil // the default: not encoded
	}
	switch f.kind {
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		dst = protowire.AppendTag(dst, f.num, protowire.Fixed32Type)
		return protowire.AppendFixed32(dst, uint32(u)), nil
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		dst = protowire.AppendTag(dst, f.num, protowire.Fixed64Type)
		return protowire.AppendFixed64(dst, u), nil
	}
	dst = protowire.AppendTag(dst, f.num, protowire.VarintType)
	return protowire.AppendVarint(dst, u), nil
}
