package natsbus

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/mcpbridge/mcpbridge/pubsub"
)

// ErrInvalidHeader: a message header that NATS headers cannot carry
// unchanged. Publish returns an error wrapping it.
var ErrInvalidHeader = errors.New("natsbus: header not representable in NATS")

// Headers travel as NATS headers, key for key, values in order. A key ending
// in "-bin" carries arbitrary bytes, so its values are sent in standard
// base64 (as gRPC does) and decoded on receipt. Other values must survive
// the NATS header framing as is: no CR or LF, no leading or trailing space
// or tab. Keys must be printable ASCII without the characters
// `"(),/:;<=>?@[\]{}` (MCP/1 keys always are).

// headerKeyForbidden are the printable ASCII bytes nats.go refuses in a key.
const headerKeyForbidden = "\"()/,:;<=>?@[\\]{}"

// toNATS returns h as NATS headers. Without "-bin" keys it is h itself, not
// a copy.
func toNATS(h pubsub.Header) (nats.Header, error) {
	if len(h) == 0 {
		return nil, nil
	}
	binary := false
	for k, vs := range h {
		if err := checkHeaderKey(k); err != nil {
			return nil, err
		}
		if strings.HasSuffix(k, "-bin") {
			binary = true
			continue
		}
		for _, v := range vs {
			if err := checkHeaderValue(k, v); err != nil {
				return nil, err
			}
		}
	}
	if !binary {
		return nats.Header(h), nil
	}
	out := make(nats.Header, len(h))
	for k, vs := range h {
		if !strings.HasSuffix(k, "-bin") {
			out[k] = vs
			continue
		}
		enc := make([]string, len(vs))
		for i, v := range vs {
			enc[i] = base64.StdEncoding.EncodeToString([]byte(v))
		}
		out[k] = enc
	}
	return out, nil
}

func checkHeaderKey(k string) error {
	if k == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidHeader)
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(headerKeyForbidden, c) >= 0 {
			return fmt.Errorf("%w: key %q has byte %q at %d", ErrInvalidHeader, k, c, i)
		}
	}
	return nil
}

func checkHeaderValue(k, v string) error {
	if strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("%w: value of %q has a CR or LF (use a \"-bin\" key for binary values)", ErrInvalidHeader, k)
	}
	if v != "" && (isSpace(v[0]) || isSpace(v[len(v)-1])) {
		return fmt.Errorf("%w: value of %q has leading or trailing white space, which NATS headers drop", ErrInvalidHeader, k)
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// fromNATS returns NATS headers as a pubsub.Header. Without "-bin" keys it is
// h itself, not a copy. A "-bin" value that is not base64 is kept as sent.
func fromNATS(h nats.Header) pubsub.Header {
	if len(h) == 0 {
		return nil
	}
	binary := false
	for k := range h {
		if strings.HasSuffix(k, "-bin") {
			binary = true
			break
		}
	}
	if !binary {
		return pubsub.Header(h)
	}
	out := make(pubsub.Header, len(h))
	for k, vs := range h {
		if !strings.HasSuffix(k, "-bin") {
			out[k] = vs
			continue
		}
		dec := make([]string, len(vs))
		for i, v := range vs {
			dec[i] = v
			if b, err := base64.StdEncoding.DecodeString(v); err == nil {
				dec[i] = string(b)
			} else if b, err := base64.RawStdEncoding.DecodeString(v); err == nil {
				dec[i] = string(b)
			}
		}
		out[k] = dec
	}
	return out
}
