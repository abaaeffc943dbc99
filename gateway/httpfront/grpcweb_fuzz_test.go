package httpfront

import (
	"encoding/base64"
	"testing"
)

// FuzzGRPCWebBody: any request body, binary or -text, is split into
// messages or refused with an error; never a panic, and the messages fit
// in the body.
func FuzzGRPCWebBody(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 2, 'h', 'i'})
	f.Add([]byte{0, 0, 0, 0, 2, 'h', 'i', 0x80, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0, 0})
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte(base64.StdEncoding.EncodeToString([]byte{0, 0, 0, 0, 1, 'x'}) + "AAAAAAA="))
	f.Fuzz(func(t *testing.T, body []byte) {
		if msgs, err := splitWebFrames(body); err == nil {
			total := 0
			for _, m := range msgs {
				total += len(m) + 5
			}
			if total > len(body) {
				t.Fatalf("%d bytes of messages from a %d-byte body", total, len(body))
			}
		}
		if raw, err := decodeWebText(body); err == nil && len(raw) > len(body) {
			t.Fatalf("%d bytes decoded from %d of base64", len(raw), len(body))
		}
	})
}
