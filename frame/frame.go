// Package frame is the MCP/1 wire codec: the 18-byte header, frame types and
// flags, the metadata block, the optional CRC-32C trailer, an encoder that
// appends frames to a byte slice, and an incremental decoder that reads frames
// from any io.Reader, whatever sizes its reads return.
//
// MCP here is the Message Communication Protocol of the mcpbridge project
// (docs/protocol.md), not the Model Context Protocol.
//
// The package has no goroutines and does no networking. A Decoder is not safe
// for concurrent use; every other value is immutable or owned by its caller.
// Encoding and decoding a Header allocate nothing.
//
// Errors: every malformed input is reported as an *Error whose Kind names what
// was wrong ("magic", "version", "type", "flags", "no_message_body",
// "checksum", "metadata", "truncated", "frame_too_large",
// "message_too_large"); test for them with errors.Is against the Err*
// sentinels. All but ErrMessageTooLarge are connection errors: the stream
// cannot be resynchronised after them.
package frame

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Wire constants.
const (
	Magic     uint16 = 0x4D43 // "MC"
	Version   uint8  = 0x01
	HeaderLen        = 18 // fixed header size in bytes
	CRCLen           = 4  // size of the CRC-32C trailer

	// MaxMetaLen is the largest metadata block a receiver accepts (16 KiB).
	MaxMetaLen = 16 << 10
	// MaxPingBody is the largest PING/PONG body a sender may use.
	MaxPingBody = 64
	// DefaultMaxMessage is the default per-message body limit (4 MiB, as gRPC).
	DefaultMaxMessage = 4 << 20
	// DefaultMaxFrame is the default hard frame limit (64 MiB).
	DefaultMaxFrame = 64 << 20
)

// Type is a frame type (PROTOCOL.md §2).
type Type uint8

// Frame types.
const (
	TypeRequest     Type = 0x00
	TypeResponse    Type = 0x01
	TypeNotify      Type = 0x02
	TypePing        Type = 0x03
	TypePong        Type = 0x04
	TypeStream      Type = 0x05
	TypeCancel      Type = 0x06
	TypeSubscribe   Type = 0x07
	TypeUnsubscribe Type = 0x08
	TypePublish     Type = 0x09
	TypeGoAway      Type = 0x0A

	maxType = TypeGoAway
)

var typeNames = [...]string{
	"REQUEST", "RESPONSE", "NOTIFY", "PING", "PONG", "STREAM", "CANCEL",
	"SUBSCRIBE", "UNSUBSCRIBE", "PUBLISH", "GOAWAY",
}

// String returns the protocol's name of the type, such as "REQUEST".
func (t Type) String() string {
	if t <= maxType {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(0x%02x)", uint8(t))
}

// ParseType returns the Type named s ("REQUEST", "PUBLISH", ...).
func ParseType(s string) (Type, bool) {
	for i, n := range typeNames {
		if n == s {
			return Type(i), true
		}
	}
	return 0, false
}

// Flags is the frame's flag bit set (PROTOCOL.md §3).
type Flags uint8

// Flag bits.
const (
	FlagEndStream Flags = 0x01 // the sender sends no more messages on this call
	FlagChecksum  Flags = 0x02 // a CRC-32C trailer follows the body
	FlagNoMessage Flags = 0x04 // the frame carries no message; body_len is 0

	reservedFlags Flags = 0xF8
)

// Has reports whether every bit of g is set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// Header is the fixed 18-byte frame header.
type Header struct {
	Type    Type
	Flags   Flags
	Status  uint8  // gRPC code number; 0 on every frame but RESPONSE and GOAWAY
	DstAddr uint16 // logical destination node; 0 = route by metadata
	SeqID   uint32
	MetaLen uint16
	BodyLen uint32
}

// Size is the total size of the frame this header describes, CRC included.
func (h *Header) Size() int {
	n := HeaderLen + int(h.MetaLen) + int(h.BodyLen)
	if h.Flags.Has(FlagChecksum) {
		n += CRCLen
	}
	return n
}

// Put writes the header into b[:HeaderLen]. It panics if b is shorter, like
// encoding/binary; it performs no validation.
func (h *Header) Put(b []byte) {
	_ = b[HeaderLen-1]
	binary.BigEndian.PutUint16(b[0:], Magic)
	b[2] = Version
	b[3] = byte(h.Type)
	b[4] = byte(h.Flags)
	b[5] = h.Status
	binary.BigEndian.PutUint16(b[6:], h.DstAddr)
	binary.BigEndian.PutUint32(b[8:], h.SeqID)
	binary.BigEndian.PutUint16(b[12:], h.MetaLen)
	binary.BigEndian.PutUint32(b[14:], h.BodyLen)
}

// ParseHeader decodes and validates the fixed header in b, which must hold at
// least HeaderLen bytes (else ErrTruncated). It checks magic, version, type,
// reserved flags and NO_MESSAGE with a body; limits are the Decoder's job.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrTruncated
	}
	if binary.BigEndian.Uint16(b[0:]) != Magic {
		return Header{}, errMagic(b)
	}
	if b[2] != Version {
		return Header{}, &Error{Kind: KindVersion, Detail: fmt.Sprintf("version %d not supported (want %d)", b[2], Version)}
	}
	h := Header{
		Type:    Type(b[3]),
		Flags:   Flags(b[4]),
		Status:  b[5],
		DstAddr: binary.BigEndian.Uint16(b[6:]),
		SeqID:   binary.BigEndian.Uint32(b[8:]),
		MetaLen: binary.BigEndian.Uint16(b[12:]),
		BodyLen: binary.BigEndian.Uint32(b[14:]),
	}
	if h.Type > maxType {
		return Header{}, &Error{Kind: KindType, Detail: fmt.Sprintf("unknown frame type 0x%02x", b[3])}
	}
	if h.Flags&reservedFlags != 0 {
		return Header{}, &Error{Kind: KindFlags, Detail: fmt.Sprintf("reserved flag bits 0x%02x set", uint8(h.Flags&reservedFlags))}
	}
	if h.Flags.Has(FlagNoMessage) && h.BodyLen != 0 {
		return Header{}, &Error{Kind: KindNoMessageBody, Detail: fmt.Sprintf("NO_MESSAGE frame with a %d-byte body", h.BodyLen)}
	}
	return h, nil
}

func errMagic(b []byte) error {
	return &Error{Kind: KindMagic, Detail: fmt.Sprintf("bad magic 0x%04x (want 0x%04x): not an MCP/1 peer", binary.BigEndian.Uint16(b), Magic)}
}

// castagnoli is the CRC-32C table; crc32 uses the CPU's instruction where present.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Frame is one decoded or to-be-encoded frame. Meta is the encoded metadata
// block (see Metadata); Body is the message. The Header's MetaLen and BodyLen
// are derived from Meta and Body when encoding.
type Frame struct {
	Header
	Meta Metadata
	Body []byte
}

// Append encodes f at the end of dst and returns the extended slice. MetaLen
// and BodyLen are taken from len(f.Meta) and len(f.Body); a CRC-32C trailer is
// appended when f.Flags has FlagChecksum. Append does not validate f: use
// Validate for frames built from untrusted values.
func (f *Frame) Append(dst []byte) []byte {
	return AppendFrame(dst, f.Header, f.Meta, f.Body)
}

// AppendFrame encodes one frame with header h (MetaLen and BodyLen replaced by
// the lengths of meta and body) at the end of dst. It allocates only if dst
// lacks capacity.
func AppendFrame(dst []byte, h Header, meta Metadata, body []byte) []byte {
	h.MetaLen = uint16(len(meta))
	h.BodyLen = uint32(len(body))
	start := len(dst)
	dst = grow(dst, h.Size())[:start+HeaderLen]
	h.Put(dst[start:])
	dst = append(dst, meta...)
	dst = append(dst, body...)
	if h.Flags.Has(FlagChecksum) {
		sum := crc32.Checksum(dst[start:], castagnoli)
		dst = binary.BigEndian.AppendUint32(dst, sum)
	}
	return dst
}

// Validate checks what an encoder can get wrong: sizes within the protocol's
// field widths and MaxMetaLen, no reserved flags, NO_MESSAGE without a body,
// a PING/PONG body within MaxPingBody, and well-formed metadata.
func (f *Frame) Validate() error {
	if f.Type > maxType {
		return &Error{Kind: KindType, Detail: fmt.Sprintf("unknown frame type 0x%02x", uint8(f.Type))}
	}
	if f.Flags&reservedFlags != 0 {
		return &Error{Kind: KindFlags, Detail: "reserved flag bits set"}
	}
	if f.Flags.Has(FlagNoMessage) && len(f.Body) != 0 {
		return &Error{Kind: KindNoMessageBody, Detail: "NO_MESSAGE frame with a body"}
	}
	if len(f.Meta) > MaxMetaLen {
		return &Error{Kind: KindFrameTooLarge, Detail: fmt.Sprintf("metadata block of %d bytes exceeds %d", len(f.Meta), MaxMetaLen)}
	}
	if uint64(len(f.Body)) > 0xFFFFFFFF {
		return &Error{Kind: KindFrameTooLarge, Detail: "body exceeds 4 GiB"}
	}
	if (f.Type == TypePing || f.Type == TypePong) && len(f.Body) > MaxPingBody {
		return &Error{Kind: KindFrameTooLarge, Detail: fmt.Sprintf("%s body of %d bytes exceeds %d", f.Type, len(f.Body), MaxPingBody)}
	}
	return f.Meta.Validate()
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n+cap(b)/4)
	copy(nb, b)
	return nb
}
