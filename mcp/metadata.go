package mcp

import (
	"strings"

	"github.com/mcpbridge/mcpbridge/frame"
	"google.golang.org/grpc/metadata"
)

// reservedKey reports whether a metadata key belongs to the protocol rather
// than to the application: such keys never appear in the metadata.MD that
// handlers and callers see.
func reservedKey(k string) bool {
	if len(k) > 0 && k[0] == ':' {
		return true
	}
	switch k {
	case frame.KeyTimeoutMs, frame.KeyErrorMessage, frame.KeyErrorDetails:
		return true
	}
	return false
}

// appendMD adds the application metadata md to a block. Keys are lower-cased
// (as gRPC does); keys or values MCP cannot carry, and reserved keys, are
// skipped: gRPC's own pseudo-headers and the like have no place on the wire.
func appendMD(m frame.Metadata, md metadata.MD) frame.Metadata {
	for k, vs := range md {
		if reservedKey(k) || k == "content-type" && len(vs) > 0 && vs[0] == "application/grpc" {
			continue
		}
		if !frame.ValidKey(k) {
			k = strings.ToLower(k)
			if !frame.ValidKey(k) || reservedKey(k) {
				continue
			}
		}
		for _, v := range vs {
			if len(m)+len(k)+len(v)+3 > frame.MaxMetaLen || !frame.ValidValue(k, v) {
				continue
			}
			m = m.Append(k, v)
		}
	}
	return m
}

// toMD converts a received block's application entries to a metadata.MD. It
// returns nil when there are none, so calls without metadata allocate none.
func toMD(m frame.Metadata) metadata.MD {
	var md metadata.MD
	for k, v := range m.All() {
		if reservedKey(string(k)) {
			continue
		}
		if md == nil {
			md = make(metadata.MD, 4)
		}
		key := string(k)
		md[key] = append(md[key], string(v))
	}
	return md
}
