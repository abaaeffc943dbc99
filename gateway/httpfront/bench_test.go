package httpfront_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway/httpfront"
)

// discardWriter is a reusable http.ResponseWriter.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(c int)           { w.code = c }
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// BenchmarkUnary measures the front door and transcoding of one unary call
// (the HTTP server and client left out) to a real gRPC backend.
func BenchmarkUnary(b *testing.B) {
	for _, tc := range []struct{ name, method, path, body string }{
		{"get", "GET", "/v1/users/1", ""},
		{"post", "POST", "/user.v1.UserService/GetUser", `{"userId":"1"}`},
		{"import", "POST", "/v1/users:import", `{"userId":"9","name":"N","age":9}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			_, addr := startBackendB(b)
			d := startGatewayB(b, baseYAML, addr)
			h, err := httpfront.New(d.Router(), httpfront.Options{})
			if err != nil {
				b.Fatal(err)
			}
			w := &discardWriter{h: http.Header{}}
			// Warm up (loads the descriptors).
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(w, r)
			if w.code != 200 {
				b.Fatalf("status %d", w.code)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
				r.Header["Content-Type"] = []string{"application/json"}
				clear(w.h)
				h.ServeHTTP(w, r)
				if w.code != 200 {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}
