package frame

import (
	"encoding/binary"
	"fmt"
	"iter"
	"strings"
)

// Reserved metadata keys (PROTOCOL.md §5).
const (
	KeyPath          = ":path"
	KeyTopic         = ":topic"
	KeyQueue         = ":queue"
	KeyContentType   = "content-type"
	KeyTimeoutMs     = "timeout-ms"
	KeyErrorMessage  = "error-message"
	KeyErrorDetails  = "error-details-bin"
	KeyAuthorization = "authorization"
)

// Metadata is an encoded metadata block: a sequence of entries, each a 1-byte
// key length, the key, a 2-byte value length and the value. Keeping the block
// encoded lets a receiver look up a key without allocating, and a sender
// build a block with append.
//
// A Metadata returned by a Decoder is valid only until its next call; Clone
// it to keep it.
type Metadata []byte

// Append adds one entry. It does not validate: keys and values from
// untrusted sources should be checked with ValidKey and ValidValue, or the
// whole block with Validate.
func (m Metadata) Append(key, value string) Metadata {
	m = append(m, byte(len(key)))
	m = append(m, key...)
	m = binary.BigEndian.AppendUint16(m, uint16(len(value)))
	return append(m, value...)
}

// AppendBytes is Append for a value held as bytes.
func (m Metadata) AppendBytes(key string, value []byte) Metadata {
	m = append(m, byte(len(key)))
	m = append(m, key...)
	m = binary.BigEndian.AppendUint16(m, uint16(len(value)))
	return append(m, value...)
}

// Clone returns a copy of m that does not alias the decoder's buffer.
func (m Metadata) Clone() Metadata {
	if m == nil {
		return nil
	}
	return append(Metadata(nil), m...)
}

// All iterates the entries in order. The slices alias m. Iteration stops at
// the first malformed entry; call Validate first on untrusted input (the
// Decoder already has).
func (m Metadata) All() iter.Seq2[[]byte, []byte] {
	return func(yield func(k, v []byte) bool) {
		for b := []byte(m); len(b) > 0; {
			k, v, rest, ok := next(b)
			if !ok || !yield(k, v) {
				return
			}
			b = rest
		}
	}
}

// Get returns the first value of key, without allocating.
func (m Metadata) Get(key string) ([]byte, bool) {
	for b := []byte(m); len(b) > 0; {
		k, v, rest, ok := next(b)
		if !ok {
			return nil, false
		}
		if string(k) == key {
			return v, true
		}
		b = rest
	}
	return nil, false
}

// Len returns the number of entries.
func (m Metadata) Len() int {
	n := 0
	for range m.All() {
		n++
	}
	return n
}

func next(b []byte) (k, v, rest []byte, ok bool) {
	if len(b) < 1 {
		return nil, nil, nil, false
	}
	kl := int(b[0])
	if kl == 0 || len(b) < 1+kl+2 {
		return nil, nil, nil, false
	}
	k = b[1 : 1+kl]
	vl := int(binary.BigEndian.Uint16(b[1+kl:]))
	off := 1 + kl + 2
	if len(b) < off+vl {
		return nil, nil, nil, false
	}
	return k, b[off : off+vl], b[off+vl:], true
}

// Validate checks that the entries exactly fill the block, that every key is
// 1–255 bytes of a-z 0-9 - _ . or a reserved ":" key, and that every value
// is printable ASCII unless its key ends in "-bin".
func (m Metadata) Validate() error {
	if len(m) > MaxMetaLen {
		return &Error{Kind: KindFrameTooLarge, Detail: fmt.Sprintf("metadata block of %d bytes exceeds %d", len(m), MaxMetaLen)}
	}
	b := []byte(m)
	for i := 0; len(b) > 0; i++ {
		if b[0] == 0 {
			return &Error{Kind: KindMetadata, Detail: fmt.Sprintf("entry %d: key of length 0", i)}
		}
		k, v, rest, ok := next(b)
		if !ok {
			return &Error{Kind: KindMetadata, Detail: fmt.Sprintf("entry %d overruns the %d-byte block", i, len(m))}
		}
		if !validKey(k) {
			return &Error{Kind: KindMetadata, Detail: fmt.Sprintf("entry %d: invalid key %q", i, k)}
		}
		if !validValue(k, v) {
			return &Error{Kind: KindMetadata, Detail: fmt.Sprintf("entry %d: key %q has a non-printable value", i, k)}
		}
		b = rest
	}
	return nil
}

// ValidKey reports whether key may be sent as a metadata key.
func ValidKey(key string) bool { return validKey([]byte(key)) }

// ValidValue reports whether value may be sent under key.
func ValidValue(key, value string) bool { return validValue([]byte(key), []byte(value)) }

func validKey(k []byte) bool {
	if len(k) == 0 || len(k) > 255 {
		return false
	}
	if k[0] == ':' {
		switch string(k) {
		case KeyPath, KeyTopic, KeyQueue:
			return true
		}
		return false
	}
	for _, c := range k {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func validValue(k, v []byte) bool {
	if len(v) > 0xFFFF {
		return false
	}
	if strings.HasSuffix(string(k), "-bin") {
		return true
	}
	for _, c := range v {
		if c < 0x20 || c > 0x7E {
			return false
		}
	}
	return true
}
