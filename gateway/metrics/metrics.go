// Package metrics is the gateway's Prometheus metrics, served on the admin
// listener at /metrics: every call by front door, route and status code,
// its duration, and the upstreams' endpoints as /upstreams shows them.
//
// Labels are bounded by the configuration, never by what clients send: a
// call is labelled by the ID of the route that served it, "unrouted" when
// none matched, and "gateway" when the gateway served it itself
// (pubsub.v1.PubSub, reflection).
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/mcpbridge/mcpbridge/pubsub"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"
)

// Route labels that are not route IDs.
const (
	Unrouted = "unrouted" // no route matched
	Gateway  = "gateway"  // served by the gateway itself
)

// Endpoint is one upstream endpoint's state, read at each scrape.
type Endpoint struct {
	Upstream, Addr  string
	Healthy         bool
	InFlight        int64
	Calls, Failures uint64
}

// Metrics holds the gateway's metrics. Its methods are safe for concurrent
// use.
type Metrics struct {
	reg   *prometheus.Registry
	calls *prometheus.CounterVec
	dur   *prometheus.HistogramVec
	cache sync.Map // series: *series by seriesKey, so a call costs no label hashing
}

type seriesKey struct {
	front, route string
	code         codes.Code
}

type series struct {
	calls prometheus.Counter
	dur   prometheus.Observer
}

// New returns the metrics; endpoints, if not nil, is called at each scrape
// for the upstreams' endpoints, and extra collectors are registered too.
func New(endpoints func() []Endpoint, extra ...prometheus.Collector) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcpbridge_calls_total",
		Help: "Calls the gateway served, by front door (mcp, grpc, http, grpc-web), route and gRPC status code.",
	}, []string{"front", "route", "code"})
	m.dur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mcpbridge_call_duration_seconds",
		Help:    "How long calls took, from the front door's first sight of them to their end, by front door and route.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"front", "route"})
	m.reg.MustRegister(m.calls, m.dur,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if endpoints != nil {
		m.reg.MustRegister(endpointCollector(endpoints))
	}
	m.reg.MustRegister(extra...)
	return m
}

// Observe counts one call that ended with code after d.
func (m *Metrics) Observe(front, route string, code codes.Code, d time.Duration) {
	if route == "" {
		route = Unrouted
	}
	k := seriesKey{front, route, code}
	v, ok := m.cache.Load(k)
	if !ok {
		v, _ = m.cache.LoadOrStore(k, &series{
			calls: m.calls.WithLabelValues(front, route, code.String()),
			dur:   m.dur.WithLabelValues(front, route),
		})
	}
	s := v.(*series)
	s.calls.Inc()
	s.dur.Observe(d.Seconds())
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// endpointCollector reports the endpoints at each scrape.
type endpointCollector func() []Endpoint

var (
	descHealthy  = prometheus.NewDesc("mcpbridge_upstream_endpoint_healthy", "1 when the endpoint takes calls (passes its health checks, not ejected).", []string{"upstream", "endpoint"}, nil)
	descInFlight = prometheus.NewDesc("mcpbridge_upstream_endpoint_in_flight", "Calls in flight on the endpoint.", []string{"upstream", "endpoint"}, nil)
	descCalls    = prometheus.NewDesc("mcpbridge_upstream_endpoint_calls_total", "Attempts made on the endpoint.", []string{"upstream", "endpoint"}, nil)
	descFailures = prometheus.NewDesc("mcpbridge_upstream_endpoint_failures_total", "Attempts on the endpoint that failed (transport failures, passive ejection's count).", []string{"upstream", "endpoint"}, nil)
)

func (f endpointCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descHealthy
	ch <- descInFlight
	ch <- descCalls
	ch <- descFailures
}

func (f endpointCollector) Collect(ch chan<- prometheus.Metric) {
	for _, e := range f() {
		healthy := 0.0
		if e.Healthy {
			healthy = 1
		}
		ch <- prometheus.MustNewConstMetric(descHealthy, prometheus.GaugeValue, healthy, e.Upstream, e.Addr)
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(e.InFlight), e.Upstream, e.Addr)
		ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(e.Calls), e.Upstream, e.Addr)
		ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(e.Failures), e.Upstream, e.Addr)
	}
}

// Bus returns a collector of a pub/sub bus's counters, read at each scrape.
func Bus(stats func() pubsub.Stats) prometheus.Collector { return busCollector(stats) }

type busCollector func() pubsub.Stats

var (
	descPublished = prometheus.NewDesc("mcpbridge_pubsub_published_total", "Messages the bus accepted (PUBLISH frames, pubsub.v1 Publish).", nil, nil)
	descDelivered = prometheus.NewDesc("mcpbridge_pubsub_delivered_total", "Messages queued to subscriptions (one message to three subscriptions counts three).", nil, nil)
	descDropped   = prometheus.NewDesc("mcpbridge_pubsub_dropped_total", "Messages lost to full subscription queues (pubsub.slow_consumer).", nil, nil)
	descSubs      = prometheus.NewDesc("mcpbridge_pubsub_subscriptions", "Live subscriptions.", nil, nil)
)

func (f busCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPublished
	ch <- descDelivered
	ch <- descDropped
	ch <- descSubs
}

func (f busCollector) Collect(ch chan<- prometheus.Metric) {
	st := f()
	ch <- prometheus.MustNewConstMetric(descPublished, prometheus.CounterValue, float64(st.Published))
	ch <- prometheus.MustNewConstMetric(descDelivered, prometheus.CounterValue, float64(st.Delivered))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(descSubs, prometheus.GaugeValue, float64(st.Subscriptions))
}
