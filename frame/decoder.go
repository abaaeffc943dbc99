package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
)

// Decoder buffer sizes. An idle Decoder holds only its small inline buffer;
// the large one is borrowed from a pool while frames arrive in bursts, and
// given back as soon as it has been drained.
const (
	smallBufLen = 512
	largeBufLen = 32 << 10
)

var largeBufs = sync.Pool{New: func() any { b := make([]byte, largeBufLen); return &b }}

// Decoder reads frames from a byte stream. It accepts reads of any size,
// including one byte at a time, and validates everything PROTOCOL.md makes a
// receiver check. It is not safe for concurrent use.
type Decoder struct {
	r          io.Reader
	buf        []byte // small[:] or a pooled large buffer
	large      *[]byte
	rpos, wpos int
	maxMessage int
	maxFrame   int
	small      [smallBufLen]byte
}

// NewDecoder returns a Decoder reading from r with the default limits
// (DefaultMaxMessage, DefaultMaxFrame).
func NewDecoder(r io.Reader) *Decoder {
	d := &Decoder{r: r, maxMessage: DefaultMaxMessage, maxFrame: DefaultMaxFrame}
	d.buf = d.small[:]
	return d
}

// SetLimits sets the message limit (a larger body is skipped and reported as
// ErrMessageTooLarge, a call error) and the hard frame limit (a larger frame
// is ErrFrameTooLarge, a connection error). A value ≤ 0 keeps the default.
// The message limit is capped at the frame limit.
func (d *Decoder) SetLimits(maxMessage, maxFrame int) {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	if maxMessage <= 0 {
		maxMessage = DefaultMaxMessage
	}
	d.maxFrame, d.maxMessage = maxFrame, min(maxMessage, maxFrame)
}

// Buffered returns the number of bytes read from the stream but not yet
// decoded.
func (d *Decoder) Buffered() int { return d.wpos - d.rpos }

// Release gives the decoder's large buffer back to its pool. Call it when the
// decoder will not be used again; Decode still works afterwards.
func (d *Decoder) Release() {
	if d.large != nil && d.rpos == d.wpos {
		largeBufs.Put(d.large)
		d.large = nil
		d.buf = d.small[:]
		d.rpos, d.wpos = 0, 0
	}
}

// Decode reads the next frame into f. f.Meta and f.Body alias the decoder's
// buffer and are valid only until the next call to Decode.
//
// At a clean end of stream between frames Decode returns io.EOF; inside a
// frame, ErrTruncated. A read error is returned as is. A body over the
// message limit returns ErrMessageTooLarge with f's header and metadata
// filled in (f.Body nil) after the body has been skipped; the decoder can go
// on. Every other *Error means the stream is unusable.
func (d *Decoder) Decode(f *Frame) error {
	if d.rpos == d.wpos {
		d.Release() // drained: hold only the small buffer while idle
		d.rpos, d.wpos = 0, 0
	}
	if err := d.fill(HeaderLen); err != nil {
		if err == io.EOF && d.wpos == d.rpos {
			return io.EOF
		}
		return d.truncated(err)
	}
	h, err := ParseHeader(d.buf[d.rpos:])
	if err != nil {
		return err
	}
	if h.MetaLen > MaxMetaLen {
		return &Error{Kind: KindFrameTooLarge, Detail: fmt.Sprintf("metadata block of %d bytes exceeds %d", h.MetaLen, MaxMetaLen)}
	}
	size := h.Size()
	if size > d.maxFrame {
		return &Error{Kind: KindFrameTooLarge, Detail: fmt.Sprintf("frame of %d bytes exceeds the %d-byte limit", size, d.maxFrame)}
	}
	if int(h.BodyLen) > d.maxMessage {
		return d.skip(f, h)
	}
	var raw []byte
	if size <= largeBufLen {
		if err := d.fill(size); err != nil {
			return d.truncated(err)
		}
		raw = d.buf[d.rpos : d.rpos+size]
		d.rpos += size
	} else {
		// Larger than any buffer we keep: read into a slice of its own.
		raw = make([]byte, size)
		n := copy(raw, d.buf[d.rpos:d.wpos])
		d.rpos += n
		if _, err := io.ReadFull(d.r, raw[n:]); err != nil {
			return d.truncated(err)
		}
	}
	if h.Flags.Has(FlagChecksum) {
		if err := checkCRC(raw); err != nil {
			return err
		}
	}
	meta := Metadata(raw[HeaderLen : HeaderLen+int(h.MetaLen)])
	if err := meta.Validate(); err != nil {
		return err
	}
	f.Header = h
	f.Meta = meta
	f.Body = raw[HeaderLen+int(h.MetaLen) : HeaderLen+int(h.MetaLen)+int(h.BodyLen)]
	return nil
}

// skip consumes a frame whose body is over the message limit, keeping its
// header and metadata and checking its CRC, without holding the body.
func (d *Decoder) skip(f *Frame, h Header) error {
	head := HeaderLen + int(h.MetaLen)
	if err := d.fill(head); err != nil {
		return d.truncated(err)
	}
	var crc uint32
	check := h.Flags.Has(FlagChecksum)
	if check {
		crc = crc32.Update(0, castagnoli, d.buf[d.rpos:d.rpos+head])
	}
	meta := Metadata(d.buf[d.rpos+HeaderLen : d.rpos+head])
	if err := meta.Validate(); err != nil {
		return err
	}
	// Keep the metadata valid while the body streams through the buffer:
	// move it out of the way first.
	metaCopy := meta.Clone()
	d.rpos += head
	for left := int(h.BodyLen); left > 0; {
		if d.rpos == d.wpos {
			d.rpos, d.wpos = 0, 0
			if err := d.fill(1); err != nil {
				return d.truncated(err)
			}
		}
		n := min(left, d.wpos-d.rpos)
		if check {
			crc = crc32.Update(crc, castagnoli, d.buf[d.rpos:d.rpos+n])
		}
		d.rpos += n
		left -= n
	}
	if check {
		if err := d.fill(CRCLen); err != nil {
			return d.truncated(err)
		}
		got := binary.BigEndian.Uint32(d.buf[d.rpos:])
		d.rpos += CRCLen
		if got != crc {
			return &Error{Kind: KindChecksum, Detail: fmt.Sprintf("crc32c 0x%08x, computed 0x%08x", got, crc)}
		}
	}
	f.Header = h
	f.Meta = metaCopy
	f.Body = nil
	return &Error{Kind: KindMessageTooLarge, Detail: fmt.Sprintf("message of %d bytes exceeds the %d-byte limit", h.BodyLen, d.maxMessage)}
}

func checkCRC(raw []byte) error {
	n := len(raw) - CRCLen
	want := binary.BigEndian.Uint32(raw[n:])
	if got := crc32.Checksum(raw[:n], castagnoli); got != want {
		return &Error{Kind: KindChecksum, Detail: fmt.Sprintf("crc32c 0x%08x, computed 0x%08x", want, got)}
	}
	return nil
}

func (d *Decoder) truncated(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{Kind: KindTruncated, Detail: "stream ended inside a frame"}
	}
	return err
}

// fill makes at least n bytes (n ≤ largeBufLen) available at d.buf[d.rpos:].
func (d *Decoder) fill(n int) error {
	if d.wpos-d.rpos >= n {
		return nil
	}
	if n > len(d.buf) || (d.large == nil && d.wpos == len(d.buf)) {
		// The small buffer cannot hold what is needed, or it filled up
		// (a burst is arriving): move to a large one.
		d.upgrade()
	}
	if d.rpos+n > len(d.buf) {
		d.wpos = copy(d.buf, d.buf[d.rpos:d.wpos])
		d.rpos = 0
	}
	for empty := 0; d.wpos-d.rpos < n; {
		m, err := d.r.Read(d.buf[d.wpos:])
		d.wpos += m
		if err != nil {
			if d.wpos-d.rpos >= n {
				return nil
			}
			return err
		}
		if m == 0 {
			if empty++; empty >= 100 {
				return io.ErrNoProgress
			}
		}
	}
	return nil
}

func (d *Decoder) upgrade() {
	if d.large != nil {
		return
	}
	d.large = largeBufs.Get().(*[]byte)
	big := *d.large
	d.wpos = copy(big, d.buf[d.rpos:d.wpos])
	d.rpos = 0
	d.buf = big
}
