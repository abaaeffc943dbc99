package transcode

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// FuzzFlat: the fast paths never panic, and agree with protojson whenever
// they accept their input.
func FuzzFlat(f *testing.F) {
	for _, s := range []string{`{}`, `{"fSTRING":"x","fINT32":-5}`, `{"f_TYPE_UINT64":18446744073709551615}`, ` { "fBOOL" : true } `, `{"fINT64":01}`, `{"`, `{"fSTRING":"\u00e9"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		md := flatTestMessage(t)
		in := buildFlatIn(md)
		if got, ok := decodeFlat(nil, in, b); ok {
			want := dynamicpb.NewMessage(md)
			if err := protojson.Unmarshal(b, want); err != nil {
				t.Fatalf("fast path accepted %q, protojson: %v", b, err)
			}
			m := dynamicpb.NewMessage(md)
			if err := proto.Unmarshal(got, m); err != nil || !proto.Equal(m, want) {
				t.Fatalf("%q: fast %v (%v), protojson %v", b, m, err, want)
			}
		}
		// The same bytes as a protobuf response.
		if out, ok := encodeFlat(nil, in.fm, b, &Options{}); ok {
			m := dynamicpb.NewMessage(md)
			if err := proto.Unmarshal(b, m); err != nil {
				t.Fatalf("fast encoder accepted %x, proto: %v", b, err)
			}
			m.SetUnknown(nil) // protojson leaves unknown fields out too
			back := dynamicpb.NewMessage(md)
			if err := protojson.Unmarshal(out, back); err != nil || !proto.Equal(back, m) {
				t.Fatalf("%x: fast JSON %s (%v) is not %v", b, out, err, m)
			}
		}
	})
}
