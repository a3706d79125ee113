package kafka

import (
	"context"
	"time"
)

// Connection limits (Kafka's max.connections, max.connections.per.ip and
// connections.max.idle.ms): a connection over a limit is closed as soon as
// it is accepted, before anything is read from it, so that no client or
// address can hold more of the broker's descriptors and memory than the
// operator allows; a connection that has neither a request in progress nor
// sent one for Config.ConnectionsMaxIdle is closed, as Kafka does (clients
// reconnect when they next need the broker).

// admit reports whether a new connection from host may be served, and
// counts it when it may. Called with s.mu held.
func (s *Server) admit(host string) (ok bool, reason string) {
	switch {
	case s.cfg.MaxConnections > 0 && len(s.mu.conns) >= s.cfg.MaxConnections:
		return false, "kafka.max-connections"
	case s.cfg.MaxConnectionsPerIP > 0 && s.mu.perIP[host] >= s.cfg.MaxConnectionsPerIP:
		return false, "kafka.max-connections-per-ip"
	}
	s.mu.perIP[host]++
	return true, ""
}

// release uncounts a connection of host. Called with s.mu held.
func (s *Server) release(host string) {
	if s.mu.perIP[host]--; s.mu.perIP[host] <= 0 {
		delete(s.mu.perIP, host)
	}
}

// reapIdle closes, every so often until ctx ends, the connections idle for
// Config.ConnectionsMaxIdle.
func (s *Server) reapIdle(ctx context.Context) {
	idle := s.cfg.ConnectionsMaxIdle
	if idle <= 0 {
		return
	}
	t := time.NewTicker(min(max(idle/4, 10*time.Millisecond), 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stopping:
			return
		case now := <-t.C:
			s.mu.Lock()
			for c := range s.mu.conns {
				if c.idleSince(now) > idle {
					c.log.Debug("kafka: connection idle, closing it", "idle", idle)
					c.fail()
				}
			}
			s.mu.Unlock()
		}
	}
}

// idleSince is how long the connection has been idle at now: no request in
// progress, and none read nor answered since; 0 while one is in progress.
func (c *conn) idleSince(now time.Time) time.Duration {
	if c.inflight.Load() > 0 {
		return 0
	}
	return now.Sub(time.Unix(0, c.lastActive.Load()))
}

// active marks the connection as used now.
func (c *conn) active() { c.lastActive.Store(time.Now().UnixNano()) }
