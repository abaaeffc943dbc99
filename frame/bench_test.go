package frame_test

import (
	"bytes"
	"testing"

	"github.com/mcpbridge/mcpbridge/frame"
)

func BenchmarkHeaderPut(b *testing.B) {
	b.ReportAllocs()
	h := frame.Header{Type: frame.TypeRequest, Flags: frame.FlagEndStream, SeqID: 42, MetaLen: 34, BodyLen: 64}
	var buf [frame.HeaderLen]byte
	for b.Loop() {
		h.Put(buf[:])
	}
}

func BenchmarkParseHeader(b *testing.B) {
	b.ReportAllocs()
	h := frame.Header{Type: frame.TypeRequest, Flags: frame.FlagEndStream, SeqID: 42, MetaLen: 34, BodyLen: 64}
	var buf [frame.HeaderLen]byte
	h.Put(buf[:])
	for b.Loop() {
		if _, err := frame.ParseHeader(buf[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func unaryRequest(flags frame.Flags) []byte {
	meta := frame.Metadata(nil).Append(frame.KeyPath, "/user.v1.UserService/GetUser")
	return frame.AppendFrame(nil, frame.Header{Type: frame.TypeRequest, Flags: frame.FlagEndStream | flags, SeqID: 1}, meta, bytes.Repeat([]byte{1}, 64))
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, bc := range []struct {
		name  string
		flags frame.Flags
	}{{"plain", 0}, {"checksum", frame.FlagChecksum}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			meta := frame.Metadata(nil).Append(frame.KeyPath, "/user.v1.UserService/GetUser")
			body := bytes.Repeat([]byte{1}, 64)
			buf := make([]byte, 0, 256)
			b.SetBytes(int64(len(unaryRequest(bc.flags))))
			for b.Loop() {
				buf = frame.AppendFrame(buf[:0], frame.Header{Type: frame.TypeRequest, Flags: frame.FlagEndStream | bc.flags, SeqID: 1}, meta, body)
			}
		})
	}
}

// loopReader replays the same bytes forever.
type loopReader struct {
	data []byte
	pos  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.pos:])
		n += c
		r.pos = (r.pos + c) % len(r.data)
	}
	return n, nil
}

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name  string
		flags frame.Flags
	}{{"plain", 0}, {"checksum", frame.FlagChecksum}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			wire := unaryRequest(bc.flags)
			b.SetBytes(int64(len(wire)))
			d := frame.NewDecoder(&loopReader{data: bytes.Repeat(wire, 64)})
			var f frame.Frame
			for b.Loop() {
				if err := d.Decode(&f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
