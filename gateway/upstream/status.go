package upstream

import "time"

// UpstreamStatus is an upstream as the admin endpoint shows it.
type UpstreamStatus struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	Balancer string `json:"balancer"`
	// DNS is the name the endpoints are resolved from, if any.
	DNS string `json:"dns,omitempty"`
	// Ready: at least one endpoint takes calls.
	Ready     bool             `json:"ready"`
	Endpoints []EndpointStatus `json:"endpoints"`
}

// EndpointStatus is one endpoint's health and load.
type EndpointStatus struct {
	Addr   string `json:"addr"`
	Weight int    `json:"weight"`
	// Healthy: the endpoint takes calls (it passes active checks, when
	// configured, and is not ejected).
	Healthy bool `json:"healthy"`
	// HealthCheck is "passing", "failing" (taken out by active checks) or
	// "" when checks are off or none has run yet.
	HealthCheck string `json:"health_check,omitempty"`
	// EjectedUntil is when a passive ejection ends, if one is in force.
	EjectedUntil *time.Time `json:"ejected_until,omitempty"`
	// Conn is the connection's state: IDLE, CONNECTING, READY,
	// TRANSIENT_FAILURE or SHUTDOWN (gRPC's connectivity states).
	Conn                string `json:"conn"`
	InFlight            int64  `json:"in_flight"`
	ConsecutiveFailures int64  `json:"consecutive_failures"`
	// Calls and Failures count attempts and transport failures since the
	// endpoint was created.
	Calls    uint64 `json:"calls"`
	Failures uint64 `json:"failures"`
	// LastError is the last transport failure or failed check.
	LastError string `json:"last_error,omitempty"`
}

// Status returns the upstream's state now.
func (u *Upstream) Status() UpstreamStatus {
	sn := u.current()
	st := UpstreamStatus{
		Name:      u.name,
		Protocol:  u.cfg.Protocol,
		Balancer:  u.cfg.Balancer,
		Ready:     len(sn.healthy) > 0,
		Endpoints: []EndpointStatus{},
	}
	if d := u.cfg.DNS; d != nil {
		st.DNS = d.Name
	}
	now := u.opts.now().UnixNano()
	for _, e := range u.members() {
		es := EndpointStatus{
			Addr:                e.addr,
			Weight:              e.weight,
			Conn:                e.connState(),
			InFlight:            e.InFlight(),
			ConsecutiveFailures: e.fails.Load(),
			Calls:               e.calls.Load(),
			Failures:            e.failures.Load(),
		}
		if e.checked.Load() {
			es.HealthCheck = "passing"
		}
		if e.unhealthy.Load() {
			es.HealthCheck = "failing"
		}
		if e.ejectedAt(now) {
			t := time.Unix(0, e.ejectedUntil.Load())
			es.EjectedUntil = &t
		}
		es.Healthy = es.HealthCheck != "failing" && es.EjectedUntil == nil
		if p := e.lastErr.Load(); p != nil {
			es.LastError = *p
		}
		st.Endpoints = append(st.Endpoints, es)
	}
	return st
}
