package frame_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"
	"testing/iotest"

	"github.com/mcpbridge/mcpbridge/frame"
)

type vectorFile struct {
	Valid []struct {
		Name  string `json:"name"`
		Hex   string `json:"hex"`
		Frame struct {
			Type    string `json:"type"`
			Flags   uint8  `json:"flags"`
			Status  uint8  `json:"status"`
			DstAddr uint16 `json:"dst_addr"`
			SeqID   uint32 `json:"seq_id"`
			Meta    []struct {
				Key      string `json:"key"`
				ValueHex string `json:"value_hex"`
			} `json:"meta"`
			BodyHex string `json:"body_hex"`
		} `json:"frame"`
	} `json:"valid"`
	Invalid []struct {
		Name  string `json:"name"`
		Hex   string `json:"hex"`
		Error string `json:"error"`
	} `json:"invalid"`
}

func loadVectors(t testing.TB) vectorFile {
	t.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Valid) == 0 || len(v.Invalid) == 0 {
		t.Fatal("vectors.json holds no vectors")
	}
	return v
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// splitReader returns its data in chunks cut at the given offsets.
type splitReader struct {
	data []byte
	cuts []int
	pos  int
}

func (r *splitReader) Read(p []byte) (int, error) {
	if r.pos >= len(r.data) {
		return 0, io.EOF
	}
	end := len(r.data)
	for _, c := range r.cuts {
		if c > r.pos && c < end {
			end = c
		}
	}
	n := copy(p, r.data[r.pos:end])
	r.pos += n
	return n, nil
}

func TestValidVectors(t *testing.T) {
	v := loadVectors(t)
	for _, tc := range v.Valid {
		t.Run(tc.Name, func(t *testing.T) {
			wire := mustHex(t, tc.Hex)
			typ, ok := frame.ParseType(tc.Frame.Type)
			if !ok {
				t.Fatalf("unknown type %q", tc.Frame.Type)
			}
			var meta frame.Metadata
			for _, e := range tc.Frame.Meta {
				meta = meta.AppendBytes(e.Key, mustHex(t, e.ValueHex))
			}
			want := frame.Frame{
				Header: frame.Header{Type: typ, Flags: frame.Flags(tc.Frame.Flags), Status: tc.Frame.Status,
					DstAddr: tc.Frame.DstAddr, SeqID: tc.Frame.SeqID},
				Meta: meta,
				Body: mustHex(t, tc.Frame.BodyHex),
			}
			if err := want.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			// Encode gives exactly the vector's bytes.
			if got := want.Append(nil); !bytes.Equal(got, wire) {
				t.Fatalf("encode:\n got %x\nwant %x", got, wire)
			}
			// Decode gives exactly the vector's fields, however the bytes are split.
			readers := map[string]func() io.Reader{
				"whole":    func() io.Reader { return bytes.NewReader(wire) },
				"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(wire)) },
			}
			for name, mk := range readers {
				checkDecode(t, name, mk(), &want, wire)
			}
			for cut := 1; cut < len(wire); cut++ {
				checkDecode(t, "split", &splitReader{data: wire, cuts: []int{cut}}, &want, wire)
			}
		})
	}
}

func checkDecode(t *testing.T, how string, r io.Reader, want *frame.Frame, wire []byte) {
	t.Helper()
	d := frame.NewDecoder(r)
	var f frame.Frame
	if err := d.Decode(&f); err != nil {
		t.Fatalf("%s: decode: %v", how, err)
	}
	want.MetaLen, want.BodyLen = uint16(len(want.Meta)), uint32(len(want.Body))
	if f.Header != want.Header || !bytes.Equal(f.Meta, want.Meta) || !bytes.Equal(f.Body, want.Body) {
		t.Fatalf("%s: decoded %+v meta %x body %x, want %+v meta %x body %x", how, f.Header, f.Meta, f.Body, want.Header, want.Meta, want.Body)
	}
	if got := f.Append(nil); !bytes.Equal(got, wire) {
		t.Fatalf("%s: re-encode %x, want %x", how, got, wire)
	}
	if err := d.Decode(&f); err != io.EOF {
		t.Fatalf("%s: second decode = %v, want io.EOF", how, err)
	}
}

func TestInvalidVectors(t *testing.T) {
	v := loadVectors(t)
	for _, tc := range v.Invalid {
		t.Run(tc.Name, func(t *testing.T) {
			wire := mustHex(t, tc.Hex)
			for cut := 0; cut < len(wire); cut++ {
				var f frame.Frame
				err := frame.NewDecoder(&splitReader{data: wire, cuts: []int{cut}}).Decode(&f)
				var fe *frame.Error
				if !errors.As(err, &fe) {
					t.Fatalf("cut %d: err = %v, want a *frame.Error", cut, err)
				}
				if fe.Kind.String() != tc.Error {
					t.Fatalf("cut %d: kind %q (%v), want %q", cut, fe.Kind, err, tc.Error)
				}
				if !fe.Connection() {
					t.Fatalf("cut %d: %v is not a connection error", cut, err)
				}
			}
		})
	}
}

func TestStreamOfFrames(t *testing.T) {
	v := loadVectors(t)
	var all []byte
	for _, tc := range v.Valid {
		all = append(all, mustHex(t, tc.Hex)...)
	}
	for _, r := range []io.Reader{bytes.NewReader(all), iotest.OneByteReader(bytes.NewReader(all)), iotest.HalfReader(bytes.NewReader(all))} {
		d := frame.NewDecoder(r)
		var f frame.Frame
		for i, tc := range v.Valid {
			if err := d.Decode(&f); err != nil {
				t.Fatalf("frame %d (%s): %v", i, tc.Name, err)
			}
			if got := f.Append(nil); !bytes.Equal(got, mustHex(t, tc.Hex)) {
				t.Fatalf("frame %d (%s): %x", i, tc.Name, got)
			}
		}
		if err := d.Decode(&f); err != io.EOF {
			t.Fatalf("after last: %v", err)
		}
	}
}

func TestLimits(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 100_000)
	meta := frame.Metadata(nil).Append(frame.KeyPath, "/a.B/C")
	tests := []struct {
		name      string
		flags     frame.Flags
		maxMsg    int
		maxFrame  int
		body      []byte
		wantKind  frame.Kind // 0 = decodes
		nextFrame bool       // the next frame still decodes
	}{
		{name: "large body within limits", body: big, maxMsg: 200_000, maxFrame: 300_000},
		{name: "large checksummed body", flags: frame.FlagChecksum, body: big, maxMsg: 200_000, maxFrame: 300_000},
		{name: "over message limit is skipped", body: big, maxMsg: 1000, maxFrame: 300_000, wantKind: frame.KindMessageTooLarge, nextFrame: true},
		{name: "over message limit, checksummed", flags: frame.FlagChecksum, body: big, maxMsg: 1000, maxFrame: 300_000, wantKind: frame.KindMessageTooLarge, nextFrame: true},
		{name: "over frame limit", body: big, maxMsg: 1000, maxFrame: 50_000, wantKind: frame.KindFrameTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := frame.Header{Type: frame.TypeRequest, Flags: frame.FlagEndStream | tc.flags, SeqID: 9}
			wire := frame.AppendFrame(nil, h, meta, tc.body)
			wire = frame.AppendFrame(wire, frame.Header{Type: frame.TypePing, SeqID: 1}, nil, []byte("hi"))
			for _, r := range []io.Reader{bytes.NewReader(wire), iotest.HalfReader(bytes.NewReader(wire))} {
				d := frame.NewDecoder(r)
				d.SetLimits(tc.maxMsg, tc.maxFrame)
				var f frame.Frame
				err := d.Decode(&f)
				if tc.wantKind == 0 {
					if err != nil || !bytes.Equal(f.Body, tc.body) {
						t.Fatalf("decode: %v (body %d bytes)", err, len(f.Body))
					}
				} else {
					var fe *frame.Error
					if !errors.As(err, &fe) || fe.Kind != tc.wantKind {
						t.Fatalf("err = %v, want kind %v", err, tc.wantKind)
					}
					if !tc.nextFrame {
						return
					}
					if f.SeqID != 9 || f.Body != nil {
						t.Fatalf("skipped frame header %+v body %d", f.Header, len(f.Body))
					}
					if p, _ := f.Meta.Get(frame.KeyPath); string(p) != "/a.B/C" {
						t.Fatalf("skipped frame :path = %q", p)
					}
				}
				if err := d.Decode(&f); err != nil || f.Type != frame.TypePing || string(f.Body) != "hi" {
					t.Fatalf("next frame: %v %+v", err, f.Header)
				}
			}
		})
	}
}

func TestMetadataTooLarge(t *testing.T) {
	var meta frame.Metadata
	for len(meta) <= frame.MaxMetaLen {
		meta = meta.Append("x-pad", string(bytes.Repeat([]byte{'a'}, 1000)))
	}
	f := frame.Frame{Header: frame.Header{Type: frame.TypeRequest}, Meta: meta}
	if err := f.Validate(); !errors.Is(err, frame.ErrFrameTooLarge) {
		t.Fatalf("Validate = %v", err)
	}
	wire := frame.AppendFrame(nil, f.Header, meta, nil)
	if err := frame.NewDecoder(bytes.NewReader(wire)).Decode(&f); !errors.Is(err, frame.ErrFrameTooLarge) {
		t.Fatalf("Decode = %v", err)
	}
}

func TestMetadataValidation(t *testing.T) {
	tests := []struct {
		name string
		meta frame.Metadata
		ok   bool
	}{
		{"empty", nil, true},
		{"reserved key", frame.Metadata(nil).Append(":topic", "a/b"), true},
		{"unknown reserved key", frame.Metadata(nil).Append(":nope", "a"), false},
		{"upper-case key", frame.Metadata(nil).Append("X-Tag", "a"), false},
		{"space in key", frame.Metadata(nil).Append("x tag", "a"), false},
		{"control byte in value", frame.Metadata(nil).Append("x-tag", "a\nb"), false},
		{"binary value on -bin key", frame.Metadata(nil).Append("x-bin", "\x00\xff"), true},
		{"trailing garbage", append(frame.Metadata(nil).Append("a", "b"), 3), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.meta.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, frame.ErrMetadata) {
				t.Fatalf("Validate = %v, want ErrMetadata", err)
			}
		})
	}
}

func TestMetadataAccess(t *testing.T) {
	m := frame.Metadata(nil).Append("x-tag", "a").Append("x-tag", "b").Append("other", "c")
	if v, ok := m.Get("x-tag"); !ok || string(v) != "a" {
		t.Fatalf("Get = %q %v", v, ok)
	}
	if _, ok := m.Get("missing"); ok {
		t.Fatal("Get(missing) found something")
	}
	var got []string
	for k, v := range m.All() {
		got = append(got, string(k)+"="+string(v))
	}
	if want := "x-tag=a x-tag=b other=c"; joined(got) != want || m.Len() != 3 {
		t.Fatalf("All = %q, Len = %d", got, m.Len())
	}
}

func joined(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	return b.String()
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	wire := frame.AppendFrame(nil, frame.Header{Type: frame.TypePing}, nil, nil)
	d := frame.NewDecoder(io.MultiReader(bytes.NewReader(wire[:5]), iotest.ErrReader(boom)))
	var f frame.Frame
	if err := d.Decode(&f); err != boom {
		t.Fatalf("Decode = %v, want the reader's error", err)
	}
}

func TestHeaderNoAlloc(t *testing.T) {
	h := frame.Header{Type: frame.TypeRequest, Flags: frame.FlagEndStream, SeqID: 42, MetaLen: 10, BodyLen: 99}
	var b [frame.HeaderLen]byte
	allocs := testing.AllocsPerRun(100, func() {
		h.Put(b[:])
		if _, err := frame.ParseHeader(b[:]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("header encode+decode allocates %v times", allocs)
	}
}
