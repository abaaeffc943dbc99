package main

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkDelivered runs the command's phases as benchmarks, MCP and NATS
// side by side: b.N published messages, each delivered to every subscriber.
// ns/op is per published message; delivered/s is the rate the command
// reports; divide the MCP result by the NATS one of the same sub-benchmark
// for the ratio.
//
//	go test -run '^$' -bench . -count 6 ./bench/pubsubvsnats
func BenchmarkDelivered(b *testing.B) {
	for _, fanout := range []int{1, 10} {
		for _, payload := range []int{16, 128} {
			for _, sys := range []string{sysMCP, sysNATS} {
				b.Run(fmt.Sprintf("fanout=%d/payload=%d/sys=%s", fanout, payload, sys), func(b *testing.B) {
					b.ReportAllocs()
					res, err := phase(sys, phaseConfig{fanout: fanout, payload: payload, n: b.N, d: time.Hour, window: 512, warmup: 1000})
					if err != nil {
						b.Fatal(err)
					}
					if lost := uint64(res.published*fanout) - res.delivered; lost != 0 {
						b.Fatalf("%d messages lost", lost)
					}
					b.ReportMetric(res.rate(), "delivered/s")
					b.ReportMetric(res.allocs, "allocs/delivery")
				})
			}
		}
	}
}
