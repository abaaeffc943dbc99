package frame_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/mcpbridge/mcpbridge/frame"
)

// FuzzDecode decodes arbitrary input whole and in two halves (as nats-server's
// parser fuzzer does): the decoder must never panic, both readings must agree,
// and every frame it accepts must re-encode to exactly the bytes it read.
func FuzzDecode(f *testing.F) {
	v := loadVectors(f)
	for _, tc := range v.Valid {
		f.Add(mustHex(f, tc.Hex), uint16(3))
	}
	for _, tc := range v.Invalid {
		f.Add(mustHex(f, tc.Hex), uint16(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		whole := decodeAll(t, bytes.NewReader(data))
		split := 0
		if len(data) > 0 {
			split = int(cut) % (len(data) + 1)
		}
		halves := decodeAll(t, &splitReader{data: data, cuts: []int{split}})
		if len(whole.frames) != len(halves.frames) || !sameErr(whole.err, halves.err) {
			t.Fatalf("whole: %d frames, %v; halves: %d frames, %v", len(whole.frames), whole.err, len(halves.frames), halves.err)
		}
		var re []byte
		for i := range whole.frames {
			if !bytes.Equal(whole.frames[i], halves.frames[i]) {
				t.Fatalf("frame %d differs when split at %d", i, split)
			}
			re = append(re, whole.frames[i]...)
		}
		if !bytes.Equal(re, data[:len(re)]) {
			t.Fatalf("accepted frames re-encode to %x, input was %x", re, data[:len(re)])
		}
	})
}

type decoded struct {
	frames [][]byte
	err    error
}

func decodeAll(t *testing.T, r io.Reader) decoded {
	d := frame.NewDecoder(r)
	d.SetLimits(1<<16, 1<<20)
	var out decoded
	for {
		var f frame.Frame
		err := d.Decode(&f)
		if err != nil {
			var fe *frame.Error
			if errors.As(err, &fe) && !fe.Connection() {
				// A skipped oversized message: the stream goes on, but the
				// frame cannot be re-encoded; stop comparing bytes here.
				out.err = err
				return out
			}
			if err != io.EOF {
				out.err = err
			}
			return out
		}
		if err := f.Validate(); err != nil {
			t.Fatalf("decoder accepted a frame Validate rejects: %v", err)
		}
		out.frames = append(out.frames, f.Append(nil))
	}
}

func sameErr(a, b error) bool {
	var ea, eb *frame.Error
	if errors.As(a, &ea) != errors.As(b, &eb) {
		return false
	}
	if ea != nil {
		return ea.Kind == eb.Kind
	}
	return (a == nil) == (b == nil)
}
