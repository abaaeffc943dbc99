package upstream

import (
	"context"
	"fmt"
	"net"
	"slices"

	"github.com/mcpbridge/mcpbridge/gateway/config"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// startDNS resolves the upstream's name once and starts the refresh loop.
// A failed first resolution leaves the upstream without endpoints until a
// refresh succeeds.
func (u *Upstream) startDNS() error {
	d := u.cfg.DNS
	if _, _, err := net.SplitHostPort(d.Name); err != nil {
		return fmt.Errorf("upstream %s: dns name %q: %v", u.name, d.Name, err)
	}
	if d.Refresh <= 0 {
		return fmt.Errorf("upstream %s: dns refresh must be positive", u.name)
	}
	u.resolve()
	u.wg.Add(1)
	go u.dnsLoop()
	return nil
}

func (u *Upstream) dnsLoop() {
	defer u.wg.Done()
	t := u.opts.newTicker(u.cfg.DNS.Refresh.Std())
	defer t.Stop()
	for {
		select {
		case <-u.ctx.Done():
			return
		case <-t.C():
			u.resolve()
		}
	}
}

// resolve looks the name up and makes the endpoint set match the answer;
// a failed or empty answer keeps the set as it is.
func (u *Upstream) resolve() {
	host, port, _ := net.SplitHostPort(u.cfg.DNS.Name)
	ctx, cancel := context.WithTimeout(u.ctx, DNSResolveTimeout)
	ips, err := u.opts.resolve(ctx, host)
	cancel()
	if err == nil && len(ips) == 0 {
		err = status.Errorf(codes.Unavailable, "dns: %s resolved to no address", host)
	}
	if err != nil {
		if u.ctx.Err() == nil {
			u.observe(Event{Kind: EventResolveFailed, Err: err})
		}
		return
	}
	addrs := make([]string, 0, len(ips))
	for _, ip := range ips {
		addrs = append(addrs, net.JoinHostPort(ip, port))
	}
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	if len(addrs) > MaxEndpoints {
		addrs = addrs[:MaxEndpoints]
	}

	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return
	}
	keep := make([]*endpoint, 0, len(addrs))
	var removed, added []*endpoint
	var failures []error
	for _, e := range u.eps {
		if _, found := slices.BinarySearch(addrs, e.addr); found {
			keep = append(keep, e)
		} else {
			removed = append(removed, e)
		}
	}
	for _, a := range addrs {
		if slices.ContainsFunc(keep, func(e *endpoint) bool { return e.addr == a }) {
			continue
		}
		e, err := newEndpoint(u, a, config.DefaultEndpointWeight)
		if err != nil {
			failures = append(failures, err)
			continue
		}
		added = append(added, e)
		keep = append(keep, e)
	}
	slices.SortFunc(keep, func(a, b *endpoint) int {
		switch {
		case a.addr < b.addr:
			return -1
		case a.addr > b.addr:
			return 1
		}
		return 0
	})
	changed := len(removed) > 0 || len(added) > 0
	if changed {
		u.eps = keep
	}
	u.mu.Unlock()
	if changed {
		u.rebuild()
	}
	for _, e := range removed {
		e.retire()
		u.observe(Event{Kind: EventRemoved, Endpoint: e.addr})
	}
	for _, e := range added {
		u.observe(Event{Kind: EventAdded, Endpoint: e.addr})
	}
	for _, err := range failures {
		u.observe(Event{Kind: EventResolveFailed, Err: err})
	}
}
