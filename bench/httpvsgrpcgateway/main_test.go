package main

import (
	"testing"
	"time"
)

const wrkOK = `Running 1s test @ http://127.0.0.1:34907/v1/users/1
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.92ms    1.92ms  20.98ms   93.09%
    Req/Sec     8.72k     2.98k   12.47k    60.00%
  Latency Distribution
     50%  323.00us
     75%  626.00us
     90%    1.87ms
     99%   11.06ms
  8675 requests in 1.04s, 1.60MB read
Requests/sec:   8306.64
Transfer/sec:      1.54MB
`

const wrkErrors = `Running 1s test @ http://127.0.0.1:34907/v1/users/404
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.45ms   11.50ms 107.77ms   90.82%
    Req/Sec     5.16k     2.40k    9.39k    60.00%
  Latency Distribution
     50%  486.00us
     75%    1.87ms
     90%   13.82ms
     99%    1.20s
  5145 requests in 1.00s, 859.17KB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 5145
Requests/sec:   5141.88
Transfer/sec:    858.65KB
`

func TestParseWrk(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  string
		want result
	}{
		{"ok", wrkOK, result{rate: 8306.64, p50: 323 * time.Microsecond, p99: 11060 * time.Microsecond}},
		{"errors", wrkErrors, result{rate: 5141.88, p50: 486 * time.Microsecond, p99: 1200 * time.Millisecond, errors: 5150}},
	} {
		got, err := parseWrk(tc.out)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: parseWrk = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if _, err := parseWrk("wrk: connection refused\n"); err == nil {
		t.Error("parseWrk of output without results: no error")
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestProxies starts the backend and both proxies and drives each briefly
// with the Go load client.
func TestProxies(t *testing.T) {
	cfg := benchConfig{conns: 4, proxies: []string{proxyGW, proxyMCP}}
	srv, err := start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	for _, p := range cfg.proxies {
		for _, c := range []string{"get", "import"} {
			k := callKinds[c]
			if err := check(srv.base[p], k); err != nil {
				t.Fatalf("%s %s: %v", p, c, err)
			}
			r, err := runGo(cfg, srv.base[p], k, 200*time.Millisecond)
			if err != nil || r.errors != 0 || r.rate <= 0 || r.p99 < r.p50 {
				t.Errorf("%s %s: runGo = %+v, %v", p, c, r, err)
			}
		}
	}
}
