package natsbus

import (
	"fmt"
	"runtime"
	"time"

	"github.com/mcpbridge/mcpbridge/pubsub"
)

// Settle waits until every message the server had routed to sub's
// connection when Settle was called has gone through sub's callbacks: it
// flushes the connection (the server's PONG follows the messages it sent
// before it), then waits until nats.go reports nothing pending on sub's NATS
// subscriptions (nats.go counts a message as pending until its callback has
// returned). The publisher's connection must have been flushed first.
func Settle(sub pubsub.Subscription) error {
	s := sub.(*subscription)
	if err := s.bus.nc.Flush(); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pending := 0
		s.bus.mu.Lock()
		for _, ns := range s.nsubs {
			if n, _, err := ns.Pending(); err == nil {
				pending += n
			}
		}
		s.bus.mu.Unlock()
		if pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d messages still pending", pending)
		}
		runtime.Gosched()
	}
}
