package frame

// Kind names the class of a decoding error. Its String form is the name used
// in the protocol's test vectors ("magic", "checksum", ...).
type Kind uint8

// Error kinds.
const (
	KindMagic           Kind = iota + 1 // bad magic: not an MCP/1 peer
	KindVersion                         // unsupported protocol version
	KindType                            // unknown frame type
	KindFlags                           // a reserved flag bit is set
	KindNoMessageBody                   // NO_MESSAGE with a non-empty body
	KindChecksum                        // CRC-32C mismatch
	KindMetadata                        // malformed metadata block
	KindTruncated                       // the stream ended inside a frame
	KindFrameTooLarge                   // frame over the hard limit, or metadata over MaxMetaLen
	KindMessageTooLarge                 // body over the message limit (a call error; the frame was skipped)
)

var kindNames = [...]string{
	KindMagic:           "magic",
	KindVersion:         "version",
	KindType:            "type",
	KindFlags:           "flags",
	KindNoMessageBody:   "no_message_body",
	KindChecksum:        "checksum",
	KindMetadata:        "metadata",
	KindTruncated:       "truncated",
	KindFrameTooLarge:   "frame_too_large",
	KindMessageTooLarge: "message_too_large",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Error is a decoding or validation error. Detail says precisely what was
// wrong and is safe to send to the peer (it holds no local state).
type Error struct {
	Kind   Kind
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "mcp frame: " + e.Kind.String()
	}
	return "mcp frame: " + e.Kind.String() + ": " + e.Detail
}

// Is makes errors.Is(err, ErrX) true for every *Error of ErrX's kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && (t.Detail == "" || t.Detail == e.Detail)
}

// Connection reports whether the error ends the connection (every kind but
// KindMessageTooLarge, after which the decoder has skipped the frame's body
// and can go on).
func (e *Error) Connection() bool { return e.Kind != KindMessageTooLarge }

// Sentinels for errors.Is.
var (
	ErrMagic           = &Error{Kind: KindMagic}
	ErrVersion         = &Error{Kind: KindVersion}
	ErrType            = &Error{Kind: KindType}
	ErrFlags           = &Error{Kind: KindFlags}
	ErrNoMessageBody   = &Error{Kind: KindNoMessageBody}
	ErrChecksum        = &Error{Kind: KindChecksum}
	ErrMetadata        = &Error{Kind: KindMetadata}
	ErrTruncated       = &Error{Kind: KindTruncated}
	ErrFrameTooLarge   = &Error{Kind: KindFrameTooLarge}
	ErrMessageTooLarge = &Error{Kind: KindMessageTooLarge}
)
