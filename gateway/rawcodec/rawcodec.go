// Package rawcodec is a gRPC codec that passes messages through as bytes, so
// the gateway forwards protobuf payloads without decoding them (ARCHITECTURE
// decision 1). Use it with grpc.ForceServerCodecV2 on a proxying server and
// grpc.ForceCodecV2 on a proxying client; messages are *[]byte.
//
// Any other message (a proto.Message of a service the gateway serves itself,
// such as pubsub.v1.PubSub or grpc.health.v1) goes through grpc-go's proto
// codec, so one server can proxy unknown services and serve its own.
//
// Its name is "proto": on the wire nothing changes (application/grpc+proto),
// the bytes are simply not parsed.
package rawcodec

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	encproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// Codec is the pass-through codec. The zero value is ready to use and safe
// for concurrent use.
type Codec struct{}

var _ encoding.CodecV2 = Codec{}

// Name is "proto", so peers see an ordinary protobuf call.
func (Codec) Name() string { return "proto" }

// Marshal returns the bytes of v, which must be *[]byte or []byte. It does not
// copy them: the caller must not change them until the message is sent.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	switch b := v.(type) {
	case *[]byte:
		return mem.BufferSlice{mem.SliceBuffer(*b)}, nil
	case []byte:
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	if c := encoding.GetCodecV2(encproto.Name); c != nil {
		return c.Marshal(v)
	}
	return nil, fmt.Errorf("rawcodec: cannot marshal %T, want *[]byte", v)
}

// Unmarshal stores a copy of the message's bytes in v, which must be *[]byte.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		if c := encoding.GetCodecV2(encproto.Name); c != nil {
			return c.Unmarshal(data, v)
		}
		return fmt.Errorf("rawcodec: cannot unmarshal into %T, want *[]byte", v)
	}
	*b = data.Materialize()
	return nil
}
