package rawcodec_test

import (
	"bytes"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway/rawcodec"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestRoundTrip(t *testing.T) {
	var c rawcodec.Codec
	in := []byte{0x0a, 0x01, 0x31}
	bs, err := c.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	if err := c.Unmarshal(bs, &out); err != nil || !bytes.Equal(out, in) {
		t.Fatalf("Unmarshal = %x, %v", out, err)
	}
	if _, err := c.Marshal("nope"); err == nil {
		t.Fatal("Marshal(string) succeeded")
	}
	if err := c.Unmarshal(bs, new(string)); err == nil {
		t.Fatal("Unmarshal(*string) succeeded")
	}
}

// A proto.Message (a service the gateway serves itself) goes through the
// proto codec.
func TestProtoMessageFallback(t *testing.T) {
	var c rawcodec.Codec
	in := wrapperspb.String("hello")
	bs, err := c.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := proto.Marshal(in)
	if got := bs.Materialize(); !bytes.Equal(got, want) {
		t.Fatalf("Marshal = %x, want %x", got, want)
	}
	out := new(wrapperspb.StringValue)
	if err := c.Unmarshal(bs, out); err != nil || out.GetValue() != "hello" {
		t.Fatalf("Unmarshal = %v, %v", out, err)
	}
}
