// Package admin is the gateway's admin HTTP endpoint, served on its own
// listener (listeners.admin):
//
//	GET /healthz    200 "ok" while the process runs
//	GET /readyz     200 when ready, else 503; JSON {"ready":bool,"reason":string}
//	GET /config     the effective configuration, as JSON
//	GET /routes     the route table in force, as JSON
//	GET /upstreams  every upstream with its endpoints' health and load, as JSON
//	GET /metrics    Prometheus metrics (mounted by the daemon through Extra)
//
// Any other method answers 405, any other path 404. The handler reads state
// through the functions of Source on every request, so it always shows what
// is in force now; it is safe for concurrent use.
package admin

import (
	"encoding/json"
	"net/http"
)

// Source supplies what the endpoints show. A nil function answers 404.
type Source struct {
	// Ready reports whether the gateway takes traffic, and if not why.
	Ready func() (ready bool, reason string)
	// Config returns the effective configuration.
	Config func() any
	// Routes returns the route table in force.
	Routes func() any
	// Upstreams returns the upstreams' status.
	Upstreams func() any
	// Extra handlers mounted as they are (such as /metrics).
	Extra map[string]http.Handler
}

// Handler returns the admin endpoint's handler.
func Handler(src Source) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", get(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	}))
	if src.Ready != nil {
		mux.HandleFunc("/readyz", get(func(w http.ResponseWriter, _ *http.Request) {
			ok, reason := src.Ready()
			code := http.StatusOK
			if !ok {
				code = http.StatusServiceUnavailable
			}
			writeJSON(w, code, map[string]any{"ready": ok, "reason": reason})
		}))
	}
	for path, f := range map[string]func() any{"/config": src.Config, "/routes": src.Routes, "/upstreams": src.Upstreams} {
		if f == nil {
			continue
		}
		mux.HandleFunc(path, get(func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, f()) }))
	}
	for path, h := range src.Extra {
		mux.Handle(path, h)
	}
	return mux
}

func get(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "admin: cannot encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
