package mcp

import (
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Messages are protobuf (content-type application/proto, the default). A
// *[]byte or []byte passes through as the encoded message, for proxies.

func marshalAppend(b []byte, m any) ([]byte, error) {
	switch v := m.(type) {
	case proto.Message:
		return proto.MarshalOptions{}.MarshalAppend(b, v)
	case *[]byte:
		return append(b, *v...), nil
	case []byte:
		return append(b, v...), nil
	}
	return nil, fmt.Errorf("mcp: cannot marshal %T: not a proto.Message", m)
}

func unmarshal(b []byte, m any) error {
	switch v := m.(type) {
	case proto.Message:
		if err := proto.Unmarshal(b, v); err != nil {
			return status.Errorf(codes.InvalidArgument, "mcp: bad message: %v", err)
		}
		return nil
	case *[]byte:
		*v = b
		return nil
	}
	return status.Errorf(codes.Internal, "mcp: cannot unmarshal into %T: not a proto.Message", m)
}

// Scratch buffers for marshalling, pooled; a large one is not kept.
const maxKeptScratch = 64 << 10

// The pool holds *[]byte and callers give the same pointer back, so that
// neither getting nor putting a buffer allocates.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// getScratch returns a pooled buffer: append to (*bp)[:0].
func getScratch() *[]byte { return scratch.Get().(*[]byte) }

// putScratch gives bp back, holding b: what the caller appended to *bp,
// which may have grown into a new array.
func putScratch(bp *[]byte, b []byte) {
	if cap(b) > maxKeptScratch || cap(b) == 0 {
		b = make([]byte, 0, 512)
	}
	*bp = b[:0]
	scratch.Put(bp)
}
