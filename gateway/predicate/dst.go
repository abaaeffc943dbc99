package predicate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mcpbridge/mcpbridge/gateway"
)

// Dst matches the MCP dst_addr of a request against addresses and ranges:
// Dst=0x0102, 7, 0x0200-0x02ff. Addresses are decimal or 0x hex, 1 to 65535;
// dst_addr 0 means "route by metadata" and never matches. Calls from other
// front doors have dst_addr 0.
type Dst struct {
	ranges []DstRange
}

// DstRange is an inclusive range of MCP addresses.
type DstRange struct {
	Lo, Hi uint16
}

var _ gateway.Predicate = (*Dst)(nil)

var dstParams = []gateway.Param{{Name: "addrs", List: true}}

// NewDst returns a Dst predicate matching any of ranges.
func NewDst(ranges ...DstRange) (*Dst, error) {
	if len(ranges) == 0 {
		return nil, errors.New("no address")
	}
	for _, r := range ranges {
		if r.Lo == 0 || r.Hi < r.Lo {
			return nil, fmt.Errorf("bad address range %#04x-%#04x", r.Lo, r.Hi)
		}
	}
	return &Dst{ranges: append([]DstRange(nil), ranges...)}, nil
}

// ParseDstRange parses "0x0102", "258" or "0x0100-0x01ff".
func ParseDstRange(s string) (DstRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	if strings.TrimSpace(lo) == "" || isRange && strings.TrimSpace(hi) == "" {
		return DstRange{}, fmt.Errorf("bad address %q: want an address or a range lo-hi", s)
	}
	a, err := parseAddr(lo)
	if err != nil {
		return DstRange{}, err
	}
	b := a
	if isRange {
		if b, err = parseAddr(hi); err != nil {
			return DstRange{}, err
		}
		if b < a {
			return DstRange{}, fmt.Errorf("bad address range %q: end before start", s)
		}
	}
	return DstRange{Lo: a, Hi: b}, nil
}

func parseAddr(s string) (uint16, error) {
	s = strings.TrimSpace(s)
	base := 10
	digits := s
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		base, digits = 16, rest
	}
	n, err := strconv.ParseUint(digits, base, 16)
	if err != nil || digits == "" || digits[0] == '+' {
		return 0, fmt.Errorf("bad address %q: want 1-65535, decimal or 0x hex", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("bad address %q: 0 means no address", s)
	}
	return uint16(n), nil
}

// DstFromArgs builds Dst from configuration: Dst=0x0102, 0x0200-0x02ff or
// {addrs: [0x0102]}.
func DstFromArgs(a gateway.Args) (gateway.Predicate, error) {
	v, err := a.Bind(dstParams...)
	if err != nil {
		return nil, err
	}
	var ranges []DstRange
	for _, s := range v.List("addrs") {
		r, err := ParseDstRange(s)
		if err != nil {
			return nil, err
		}
		ranges = append(ranges, r)
	}
	return NewDst(ranges...)
}

// Match reports whether req.DstAddr is in one of the ranges.
func (d *Dst) Match(_ context.Context, req *gateway.Request) (bool, error) {
	for _, r := range d.ranges {
		if req.DstAddr >= r.Lo && req.DstAddr <= r.Hi {
			return true, nil
		}
	}
	return false, nil
}
