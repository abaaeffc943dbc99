package pubsub

import (
	"maps"
	"strings"
)

// Header is a message's metadata: each key maps to its values, in the order
// they were added. The methods lowercase the key, as MCP/1 and gRPC metadata
// keys are lowercase; a key ending in "-bin" carries arbitrary bytes, any
// other key printable ASCII. A nil Header is empty and valid to read.
type Header map[string][]string

// Get returns the first value of key, or "" if it has none.
func (h Header) Get(key string) string {
	if v := h[strings.ToLower(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Values returns the values of key, in order. The slice is the Header's own;
// do not modify it.
func (h Header) Values(key string) []string { return h[strings.ToLower(key)] }

// Add appends value to the values of key.
func (h Header) Add(key, value string) {
	key = strings.ToLower(key)
	h[key] = append(h[key], value)
}

// Set replaces the values of key with value.
func (h Header) Set(key, value string) { h[strings.ToLower(key)] = []string{value} }

// Del removes key and its values.
func (h Header) Del(key string) { delete(h, strings.ToLower(key)) }

// Clone returns a deep copy of h (nil if h is nil), for a subscriber that
// wants to change a received message's header.
func (h Header) Clone() Header {
	if h == nil {
		return nil
	}
	c := make(Header, len(h))
	for k, v := range h {
		c[k] = append([]string(nil), v...)
	}
	return c
}

// Equal reports whether h and o hold the same keys with the same values in
// the same order (nil and empty are equal).
func (h Header) Equal(o Header) bool {
	return maps.EqualFunc(h, o, func(a, b []string) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	})
}
