package upstream

import (
	"context"
	"sync"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// healthLoop runs a round of active checks at start and at every tick
// until Close.
func (u *Upstream) healthLoop() {
	defer u.wg.Done()
	hc := u.cfg.HealthCheck
	t := u.opts.newTicker(hc.Interval.Std())
	defer t.Stop()
	u.checkRound()
	for {
		select {
		case <-u.ctx.Done():
			return
		case <-t.C():
			u.checkRound()
		}
	}
}

// checkRound checks every endpoint once, in parallel, and applies the
// thresholds.
func (u *Upstream) checkRound() {
	eps := u.members()
	errs := make([]error, len(eps))
	var wg sync.WaitGroup
	for i, e := range eps {
		wg.Go(func() { errs[i] = u.check(e) })
	}
	wg.Wait()
	if u.ctx.Err() != nil {
		return // closing: the checks were cut short
	}
	hc := u.cfg.HealthCheck
	changed := false
	var events []Event
	for i, e := range eps {
		err := errs[i]
		events = append(events, Event{Kind: EventCheck, Endpoint: e.addr, Err: err})
		e.checked.Store(true)
		if err == nil {
			e.checkFail = 0
			e.checkPass++
			if e.unhealthy.Load() && e.checkPass >= hc.HealthyThreshold {
				e.unhealthy.Store(false)
				changed = true
				events = append(events, Event{Kind: EventHealthy, Endpoint: e.addr})
			}
			continue
		}
		e.checkPass = 0
		e.checkFail++
		msg := status.Convert(err).Message()
		e.lastErr.Store(&msg)
		if !e.unhealthy.Load() && e.checkFail >= hc.UnhealthyThreshold {
			e.unhealthy.Store(true)
			changed = true
			events = append(events, Event{Kind: EventUnhealthy, Endpoint: e.addr, Err: err})
		}
	}
	if changed {
		u.rebuild()
	}
	for _, ev := range events {
		u.observe(ev)
	}
}

// check runs one active check of e: grpc.health.v1 Check with service ""
// for gRPC, PING for MCP. nil means it passed.
func (u *Upstream) check(e *endpoint) error {
	ctx, cancel := context.WithTimeout(u.ctx, u.cfg.HealthCheck.Timeout.Std())
	defer cancel()
	if e.cc != nil {
		resp, err := healthpb.NewHealthClient(e.cc).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
			return status.Errorf(codes.Unavailable, "health check: %s", s)
		}
		return nil
	}
	mc, err := e.mcpConn(ctx)
	if err != nil {
		return err
	}
	_, err = mc.Ping(ctx)
	return err
}
