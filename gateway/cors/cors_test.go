package cors_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway/cors"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestHandle(t *testing.T) {
	p, err := cors.New(cors.Config{
		AllowedOrigins:   []string{"https://app.example.com", "https://*.example.org", "http://*.local.test:8080"},
		AllowedHeaders:   []string{"Authorization", "content-type"},
		ExposedHeaders:   []string{"Grpc-Status", "X-Request-Id"},
		AllowCredentials: true,
		MaxAge:           10 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, origin, reqMethod, reqHeaders string
		answered                                    bool
		code                                        codes.Code // of a refused preflight
		want                                        map[string]string
	}{
		{name: "no origin", method: "GET", want: map[string]string{"Access-Control-Allow-Origin": "", "Vary": ""}},
		{name: "allowed, actual", method: "GET", origin: "https://app.example.com", want: map[string]string{
			"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Allow-Credentials": "true",
			"Access-Control-Expose-Headers": "Grpc-Status, X-Request-Id", "Vary": "Origin",
		}},
		{name: "origin case", method: "GET", origin: "HTTPS://APP.example.com", want: map[string]string{"Access-Control-Allow-Origin": "HTTPS://APP.example.com"}},
		{name: "not allowed, actual", method: "POST", origin: "https://evil.example.com", want: map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"}},
		{name: "wildcard subdomain", method: "GET", origin: "https://a.b.example.org", want: map[string]string{"Access-Control-Allow-Origin": "https://a.b.example.org"}},
		{name: "wildcard is not the domain", method: "GET", origin: "https://example.org", want: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "wildcard wrong scheme", method: "GET", origin: "http://a.example.org", want: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "wildcard wrong port", method: "GET", origin: "https://a.example.org:444", want: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "wildcard with port", method: "GET", origin: "http://x.local.test:8080", want: map[string]string{"Access-Control-Allow-Origin": "http://x.local.test:8080"}},
		{name: "suffix trick", method: "GET", origin: "https://evil.com/.example.org", want: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "preflight", method: "OPTIONS", origin: "https://app.example.com", reqMethod: "PUT", reqHeaders: "Content-Type, authorization", answered: true, want: map[string]string{
			"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, PATCH, DELETE",
			"Access-Control-Allow-Headers": "content-type, authorization", "Access-Control-Max-Age": "600",
			"Access-Control-Expose-Headers": "",
		}},
		{name: "preflight, bad origin", method: "OPTIONS", origin: "https://evil.example.com", reqMethod: "GET", answered: true, code: codes.PermissionDenied},
		{name: "preflight, bad method", method: "OPTIONS", origin: "https://app.example.com", reqMethod: "TRACE", answered: true, code: codes.PermissionDenied},
		{name: "preflight, bad header", method: "OPTIONS", origin: "https://app.example.com", reqMethod: "GET", reqHeaders: "x-secret", answered: true, code: codes.PermissionDenied},
		{name: "plain OPTIONS", method: "OPTIONS", origin: "https://app.example.com", want: map[string]string{"Access-Control-Allow-Methods": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/v1/x", nil)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			if tc.reqMethod != "" {
				r.Header.Set("Access-Control-Request-Method", tc.reqMethod)
			}
			if tc.reqHeaders != "" {
				r.Header.Set("Access-Control-Request-Headers", tc.reqHeaders)
			}
			w := httptest.NewRecorder()
			answered, err := p.Handle(w, r)
			if answered != tc.answered || status.Code(err) != tc.code {
				t.Fatalf("Handle = %v, %v; want %v, %v", answered, err, tc.answered, tc.code)
			}
			if answered && err == nil && w.Code != http.StatusNoContent {
				t.Errorf("preflight answered %d", w.Code)
			}
			for k, v := range tc.want {
				if got := strings.Join(w.Header().Values(k), ","); k == "Vary" && v != "" {
					if !strings.Contains(got, v) {
						t.Errorf("%s = %q, want it to contain %q", k, got, v)
					}
				} else if got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestAnyOrigin(t *testing.T) {
	p, err := cors.New(cors.Config{AllowedOrigins: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Origin", "https://anything.test")
	w := httptest.NewRecorder()
	if _, err := p.Handle(w, r); err != nil {
		t.Fatal(err)
	}
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q, want *", got)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []cors.Config{
		{},
		{AllowedOrigins: []string{"*"}, AllowCredentials: true},
		{AllowedOrigins: []string{"app.example.com"}},
		{AllowedOrigins: []string{"https://app.example.com/path"}},
		{AllowedOrigins: []string{"https://a*.example.com"}},
		{AllowedOrigins: []string{"https://*."}},
	} {
		if _, err := cors.New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}
