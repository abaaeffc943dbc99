// Package header validates header (metadata) names and values the way both
// gRPC and HTTP front doors accept them.
package header

import (
	"fmt"
	"strings"
)

// Name returns s lower-cased if it is a valid metadata key: non-empty, made
// of [0-9a-z-_.] after lower-casing, and not starting with ':'.
func Name(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty header name")
	}
	n := strings.ToLower(s)
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			continue
		}
		return "", fmt.Errorf("bad header name %q: only letters, digits, '-', '_' and '.'", s)
	}
	return n, nil
}

// Value checks a header value for name: binary keys ("-bin") take anything,
// others printable ASCII.
func Value(name, v string) error {
	if strings.HasSuffix(name, "-bin") {
		return nil
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return fmt.Errorf("bad value for header %q: only printable ASCII", name)
		}
	}
	return nil
}
