package httpfront_test

import (
	"strings"
	"testing"
)

// TestCORS: with server.http.cors, a browser's preflight is answered by the
// front door, a call from an allowed origin carries the CORS headers, and
// a preflight from another origin is refused with a JSON error.
func TestCORS(t *testing.T) {
	_, addr := startBackend(t, nil, false)
	yaml := strings.Replace(baseYAML, "listeners:", `server:
  http:
    cors:
      allowed_origins: ["https://app.example.com"]
      exposed_headers: [grpc-status]
      allow_credentials: true
      max_age: 1h
listeners:`, 1)
	d := startGateway(t, yaml, addr)
	u := base(d)

	a := do(t, "OPTIONS", u+"/v1/users/1", "", "", "Origin", "https://app.example.com",
		"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
	if a.code != 204 || a.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		a.header.Get("Access-Control-Allow-Headers") != "authorization" || a.header.Get("Access-Control-Max-Age") != "3600" ||
		a.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight: %d %v %s", a.code, a.header, a.body)
	}

	a = do(t, "GET", u+"/v1/users/1", "", "", "Origin", "https://app.example.com")
	if a.code != 200 || a.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		a.header.Get("Access-Control-Expose-Headers") != "grpc-status" || decode(t, a.body)["name"] != "Alice" {
		t.Errorf("call: %d %v %s", a.code, a.header, a.body)
	}

	a = do(t, "OPTIONS", u+"/v1/users/1", "", "", "Origin", "https://evil.example.com", "Access-Control-Request-Method", "GET")
	if a.code != 403 || a.header.Get("Access-Control-Allow-Origin") != "" || decode(t, a.body)["code"] != float64(7) {
		t.Errorf("refused preflight: %d %v %s", a.code, a.header, a.body)
	}
	a = do(t, "GET", u+"/v1/users/1", "", "", "Origin", "https://evil.example.com")
	if a.code != 200 || a.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("call from another origin: %d %v (served, without CORS headers)", a.code, a.header)
	}

	// Without cors, no CORS headers and no preflight answers.
	d2 := startGateway(t, baseYAML, addr)
	a = do(t, "OPTIONS", base(d2)+"/v1/users/1", "", "", "Origin", "https://app.example.com", "Access-Control-Request-Method", "GET")
	if a.code == 204 || a.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight without cors: %d %v", a.code, a.header)
	}
}
