package upstream

import (
	"strings"

	"google.golang.org/grpc/metadata"
)

// outgoingMD returns the request metadata to send upstream: md itself
// when nothing in it must be dropped (or only keys the client library
// drops by itself), else a copy without them. Dropped: pseudo-headers,
// hop-by-hop HTTP headers, gRPC's and MCP's protocol keys, content-type
// (the call carries its own) and, towards gRPC, user-agent (grpc-go sends
// its own; towards MCP the client's is kept as metadata).
func outgoingMD(md metadata.MD, toGRPC bool) metadata.MD {
	copyNeeded := false
	for k, v := range md {
		if drop(k, toGRPC) && !libraryDrops(k, v, toGRPC) {
			copyNeeded = true
			break
		}
	}
	if !copyNeeded {
		return md
	}
	out := make(metadata.MD, len(md))
	for k, v := range md {
		if !drop(k, toGRPC) {
			out[k] = v
		}
	}
	return out
}

// drop reports whether key k is not forwarded.
func drop(k string, toGRPC bool) bool {
	if k == "" || k[0] == ':' {
		return true
	}
	switch k {
	case "content-type", "te", "host", "connection", "keep-alive", "proxy-connection",
		"transfer-encoding", "upgrade", "timeout-ms", "error-message", "error-details-bin":
		return true
	case "user-agent":
		return toGRPC
	}
	return strings.HasPrefix(k, "grpc-") && grpcReserved(k)
}

// grpcReserved are the grpc- keys of the gRPC protocol itself; other grpc-
// keys (grpc-trace-bin, grpc-tags-bin) are application metadata.
func grpcReserved(k string) bool {
	switch k {
	case "grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "grpc-message",
		"grpc-status", "grpc-status-details-bin", "grpc-message-type",
		"grpc-previous-rpc-attempts", "grpc-retry-pushback-ms":
		return true
	}
	return false
}

// libraryDrops reports whether the client library leaves k out by itself,
// so md need not be copied to drop it: grpc-go skips reserved and pseudo
// keys (and the MCP-only ones mean nothing to a gRPC server); mcp skips
// pseudo keys, its own reserved keys and content-type application/grpc.
func libraryDrops(k string, v []string, toGRPC bool) bool {
	if k[0] == ':' {
		return true
	}
	if toGRPC {
		switch k {
		case "content-type", "user-agent", "te", "grpc-timeout", "grpc-encoding",
			"grpc-message", "grpc-status", "grpc-message-type":
			return true
		}
		return false
	}
	switch k {
	case "timeout-ms", "error-message", "error-details-bin":
		return true
	case "content-type":
		return len(v) > 0 && v[0] == "application/grpc"
	}
	return false
}

// mcpContentType maps a request's content type to MCP's: gRPC's protobuf
// types become MCP's default (""), application/grpc+X becomes
// application/X, anything else is kept.
func mcpContentType(ct string) string {
	rest, ok := strings.CutPrefix(ct, "application/grpc")
	if !ok {
		return ct
	}
	switch {
	case rest == "" || rest == "+proto":
		return ""
	case rest[0] == '+':
		return "application/" + rest[1:]
	case rest[0] == ';':
		return ""
	}
	return ct
}

// responseMD returns a backend's header or trailer without the keys that
// belong to its transport (content-type, which grpc-go reports, and the
// rest of drop's list): those never reach the client as metadata. owned
// says md is the caller's to change; otherwise a copy is made when
// something must go.
func responseMD(md metadata.MD, owned bool) metadata.MD {
	copyNeeded := false
	for k := range md {
		if drop(k, false) {
			copyNeeded = true
			break
		}
	}
	if !copyNeeded {
		return md
	}
	if owned {
		for k := range md {
			if drop(k, false) {
				delete(md, k)
			}
		}
		return md
	}
	out := make(metadata.MD, len(md))
	for k, v := range md {
		if !drop(k, false) {
			out[k] = v
		}
	}
	return out
}
