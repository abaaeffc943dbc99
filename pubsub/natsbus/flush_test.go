package natsbus_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mcpbridge/mcpbridge/pubsub/natsbus"
)

// stalledServer is the server end of an in-memory NATS connection that
// completes the handshake (INFO, CONNECT, PING → PONG) and then reads
// everything and answers nothing, as a server that stopped responding. It
// is the one case a real server cannot play: a confirmation that never
// comes.
type stalledServer struct{}

// InProcessConn makes stalledServer a nats.InProcessConnProvider: nats.go
// then neither dials nor resolves a host name (which would touch the
// resolver's state outside the synctest bubble).
func (stalledServer) InProcessConn() (net.Conn, error) {
	client, server := net.Pipe()
	go func() {
		defer server.Close()
		if _, err := server.Write([]byte(`INFO {"server_id":"stalled","version":"2.15.2","proto":1,"headers":true,"max_payload":1048576}` + "\r\n")); err != nil {
			return
		}
		r := bufio.NewReader(server)
		answered := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if !answered && strings.HasPrefix(line, "PING") {
				answered = true
				if _, err := server.Write([]byte("PONG\r\n")); err != nil {
					return
				}
			}
		}
	}()
	return client, nil
}

// TestSubscribeFlushTimeout: when the server never confirms, Subscribe
// gives up after WithFlushTimeout if its context has no deadline, or at the
// context's deadline, and leaves no subscription behind. Time is the
// bubble's fake clock.
func TestSubscribeFlushTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nc, err := nats.Connect("",
			nats.InProcessServer(stalledServer{}),
			nats.NoReconnect(),
			nats.NoCallbacksAfterClientClose())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		bus, err := natsbus.New(nc, natsbus.WithFlushTimeout(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()

		start := time.Now()
		_, err = bus.Subscribe(context.Background(), "a/#")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Subscribe = %v, want DeadlineExceeded", err)
		}
		if waited := time.Since(start); waited != 3*time.Second {
			t.Errorf("waited %v, want the flush timeout, 3s", waited)
		}

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start = time.Now()
		if _, err := bus.Subscribe(ctx, "b"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Subscribe = %v, want DeadlineExceeded", err)
		}
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("waited %v, want the context's 1s", waited)
		}
		if n := bus.Stats().Subscriptions; n != 0 {
			t.Errorf("%d subscriptions left behind", n)
		}
		if n := nc.NumSubscriptions(); n != 0 {
			t.Errorf("%d NATS subscriptions left behind", n)
		}
	})
}
