package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Over kafka.max-connections-per-ip or kafka.max-connections a new
// connection is closed before anything is read; once one goes, another
// may come.
func TestConnectionLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"per ip", Config{MaxConnectionsPerIP: 2}},
		{"in all", Config{MaxConnections: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.cfg, nil)
			a, b := ts.dial(t), ts.dial(t)
			a.do(kmsg.NewPtrApiVersionsRequest())
			b.do(kmsg.NewPtrApiVersionsRequest())
			c := ts.dial(t)
			c.send(kmsg.NewPtrApiVersionsRequest())
			c.expectClosed()
			_ = a.nc.Close()
			// The server notices a's close asynchronously.
			deadline := time.Now().Add(5 * time.Second)
			for {
				d := ts.dial(t)
				d.send(kmsg.NewPtrApiVersionsRequest())
				if _, err := d.readFrame(); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no connection admitted after one of two closed")
				}
				time.Sleep(20 * time.Millisecond)
			}
			b.do(kmsg.NewPtrApiVersionsRequest()) // the others are untouched
		})
	}
}

// kafka.connections-max-idle closes a connection with no request for that
// long, but not one waiting for an answer (a long-poll fetch).
func TestConnectionsMaxIdle(t *testing.T) {
	const idle = 300 * time.Millisecond
	ts := startServer(t, Config{ConnectionsMaxIdle: idle}, nil)
	ts.createTopic(t, "idle", 1)

	busy := ts.dial(t)
	fetch := fetchRequest(12, "idle", 0, 0)
	fetch.MaxWaitMillis, fetch.MinBytes = 3*int32(idle/time.Millisecond), 1
	start := time.Now()
	busy.do(fetch) // waits the whole MaxWait: nothing to fetch
	if waited := time.Since(start); waited < 2*idle {
		t.Fatalf("the long poll answered after %v", waited)
	}
	busy.do(kmsg.NewPtrApiVersionsRequest()) // still open

	quiet := ts.dial(t)
	quiet.do(kmsg.NewPtrApiVersionsRequest())
	time.Sleep(3 * idle)
	quiet.send(kmsg.NewPtrApiVersionsRequest())
	quiet.expectClosed()
}
