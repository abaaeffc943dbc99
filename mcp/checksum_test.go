package mcp_test

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc/codes"
)

// CRC-32C on: every shape works whichever side sets the CHECKSUM flag
// (receivers always check a flagged frame).
func TestChecksums(t *testing.T) {
	tests := []struct {
		name           string
		client, server bool
	}{
		{name: "both sides", client: true, server: true},
		{name: "client only", client: true},
		{name: "server only", server: true},
		{name: "neither"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := startUsers(t, mcp.WithChecksums(tc.server))
			exerciseShapes(t, dial(t, addr, mcp.WithChecksums(tc.client)))
		})
	}
}

// On the wire: a server with checksums on flags every frame it sends, with
// a correct CRC-32C; a frame whose CRC does not match (a flipped bit in the
// body) is a connection error, answered with GOAWAY.
func TestChecksumOnTheWire(t *testing.T) {
	addr, _ := startUsers(t, mcp.WithChecksums(true))
	p := dialRaw(t, addr)
	p.request(1, userv1.UserService_GetUser_FullMethodName, &userv1.UserRequest{UserId: "1"})
	raw := p.nextNonPing()
	if raw.Type != frame.TypeResponse || raw.Status != 0 || !raw.Flags.Has(frame.FlagChecksum) {
		t.Fatalf("got %v status %d flags %#x, want RESPONSE OK with CHECKSUM", raw.Type, raw.Status, raw.Flags)
	}
	// The decoder checked the CRC; check it by hand as well.
	enc := frame.AppendFrame(nil, raw.Header, raw.Meta, raw.Body)
	n := len(enc) - frame.CRCLen
	if got, want := crc32.Checksum(enc[:n], crc32.MakeTable(crc32.Castagnoli)), binary.BigEndian.Uint32(enc[n:]); got != want {
		t.Fatalf("CRC-32C %#x, trailer %#x", got, want)
	}

	meta := frame.Metadata(nil).Append(frame.KeyPath, userv1.UserService_GetUser_FullMethodName)
	good := frame.AppendFrame(nil, frame.Header{Type: frame.TypeRequest, Flags: frame.FlagEndStream | frame.FlagChecksum, SeqID: 2}, meta, []byte{0x0a, 0x01, '2'})
	p.writeRaw(good)
	if f := p.nextNonPing(); f.Type != frame.TypeResponse || f.SeqID != 2 || f.Status != 0 {
		t.Fatalf("checksummed request: %v seq %d status %d", f.Type, f.SeqID, f.Status)
	}
	bad := frame.AppendFrame(nil, frame.Header{Type: frame.TypeRequest, Flags: frame.FlagEndStream | frame.FlagChecksum, SeqID: 3}, meta, []byte{0x0a, 0x01, '2'})
	bad[len(bad)-5] ^= 0x01 // the body's last byte
	p.writeRaw(bad)
	expectGoAway(t, p, codes.InvalidArgument, 2, "checksum")
}
