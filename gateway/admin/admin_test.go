package admin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway/admin"
)

func TestEndpoints(t *testing.T) {
	ready := false
	h := admin.Handler(admin.Source{
		Ready:     func() (bool, string) { return ready, "upstream users has no healthy endpoint" },
		Config:    func() any { return map[string]int{"a": 1} },
		Routes:    func() any { return []string{"r1"} },
		Upstreams: func() any { return []string{"u1"} },
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	tests := []struct {
		name, method, path string
		code               int
		body               string
	}{
		{"healthz", "GET", "/healthz", 200, "ok"},
		{"not ready", "GET", "/readyz", 503, `"ready": false`},
		{"config", "GET", "/config", 200, `"a": 1`},
		{"routes", "GET", "/routes", 200, `"r1"`},
		{"upstreams", "GET", "/upstreams", 200, `"u1"`},
		{"post", "POST", "/config", 405, "method not allowed"},
		{"unknown", "GET", "/nope", 404, "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
				t.Fatalf("%s %s = %d %q", tc.method, tc.path, resp.StatusCode, b)
			}
		})
	}
	ready = true
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Ready bool }
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if resp.StatusCode != 200 || !got.Ready {
		t.Fatalf("readyz when ready = %d %+v", resp.StatusCode, got)
	}
}
