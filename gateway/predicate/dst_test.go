package predicate_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/predicate"
)

func TestDst(t *testing.T) {
	tests := []struct {
		name string
		args string
		dst  uint16
		want bool
	}{
		{"hex", "0x0102", 0x0102, true},
		{"hex upper", "0X01FF", 0x01ff, true},
		{"decimal", "258", 0x0102, true},
		{"other", "0x0102", 0x0103, false},
		{"list", "7, 0x0102", 7, true},
		{"range", "0x0200-0x02ff", 0x0250, true},
		{"range end", "0x0200-0x02ff", 0x02ff, true},
		{"outside range", "0x0200-0x02ff", 0x0300, false},
		{"0 is no address", "1-0xffff", 0, false},
		{"max", "65535", 0xffff, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := predicate.DstFromArgs(gateway.ShorthandArgs(tt.args))
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Match(context.Background(), &gateway.Request{Protocol: gateway.ProtocolMCP, DstAddr: tt.dst})
			if err != nil || got != tt.want {
				t.Fatalf("Dst=%s Match(%#x) = %v, %v; want %v", tt.args, tt.dst, got, err, tt.want)
			}
		})
	}
}

func TestDstErrors(t *testing.T) {
	for _, tt := range []struct {
		args, wantErr string
	}{
		{"", `missing argument "addrs"`},
		{"0", `bad address "0": 0 means no address`},
		{"65536", `bad address "65536"`},
		{"0x", `bad address "0x"`},
		{"-1", `bad address "-1": want an address or a range`},
		{"0x10-", `bad address "0x10-": want an address or a range`},
		{"0x10-0x01", "end before start"},
		{"abc", `bad address "abc"`},
	} {
		if _, err := predicate.DstFromArgs(gateway.ShorthandArgs(tt.args)); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Dst=%s error = %v, want %q", tt.args, err, tt.wantErr)
		}
	}
}
