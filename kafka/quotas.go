package kafka

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/chronik-go/chronik/core/quota"
)

// QuotaStore keeps the client quotas, the same on every broker
// (core/cluster: the meta shard). Each broker enforces them on its own
// traffic, as Kafka's brokers do.
type QuotaStore interface {
	// Quotas returns the current quotas: the same *quota.Set until they
	// change.
	Quotas() *quota.Set
	// AlterQuotas applies the alterations, all or none.
	AlterQuotas(ctx context.Context, alts []quota.Alteration) error
}

// Enforcement, as Kafka's ClientQuotaManager: each broker measures, per
// sensor (quota.Set.Resolve: the user, client ID or both that share a
// quota), the bytes of Produce requests and of Fetch responses over
// quotaWindows windows of Config.QuotaWindow (1 s). A request that takes
// the rate over the quota is answered at once with ThrottleMillis, the time
// the rate needs to come back to the quota, and its connection is not read
// for that long (KIP-219): a client converges to its quota whether or not
// it honours the throttle time itself. As in Kafka, the rate is taken over
// at least quotaWindows-1 windows, so a new client may send that many
// windows' worth of its quota at once; after that its rate is the quota.
const (
	quotaWindows = 11 // Kafka's quota.window.num
	// sensorIdle is how long a sensor without traffic is kept.
	sensorIdle = time.Hour
)

// rateSensor is the traffic of one sensor in quotaWindows windows, each
// the bytes of one window (by its index since the epoch).
type rateSensor struct {
	windows  [quotaWindows]quotaSample
	lastUsed int64 // unix ns
}

type quotaSample struct {
	index int64
	bytes float64
}

// record adds n bytes at now (unix ns) and returns how long the sensor
// must be throttled for its rate to come back to limit (bytes/s): 0 while
// within it, at most the span of the windows (well inside clients' request
// timeouts).
func (s *rateSensor) record(now int64, n, limit float64, window time.Duration) time.Duration {
	s.lastUsed = now
	cur := now / int64(window)
	w := &s.windows[cur%quotaWindows]
	if w.index != cur {
		*w = quotaSample{index: cur}
	}
	w.bytes += n
	total, oldest := 0.0, cur
	for i := range s.windows {
		if sm := &s.windows[i]; cur-sm.index < quotaWindows {
			total += sm.bytes
			oldest = min(oldest, sm.index)
		}
	}
	elapsed := max(time.Duration(now-oldest*int64(window)), (quotaWindows-1)*window).Seconds()
	if total <= limit*elapsed {
		return 0
	}
	// The time after which total/(elapsed+t) = limit.
	t := time.Duration((total/limit - elapsed) * float64(time.Second))
	return min(t, quotaWindows*window)
}

// quotaSensors holds a broker's sensors, by quota key and sensor entity.
type quotaSensors struct {
	mu        sync.Mutex
	m         map[sensorKey]*rateSensor
	lastSweep int64
}

type sensorKey struct {
	key    string
	entity quota.Entity
}

// record adds n bytes to the sensor and returns its throttle time.
func (q *quotaSensors) record(k sensorKey, now int64, n, limit float64, window time.Duration) time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.m == nil {
		q.m = map[sensorKey]*rateSensor{}
	}
	if now-q.lastSweep > int64(sensorIdle) {
		for sk, s := range q.m {
			if now-s.lastUsed > int64(sensorIdle) {
				delete(q.m, sk)
			}
		}
		q.lastSweep = now
	}
	s := q.m[k]
	if s == nil {
		s = &rateSensor{}
		q.m[k] = s
	}
	return s.record(now, n, limit, window)
}

// throttle records n bytes of r's against quota key and returns the
// throttle time in milliseconds for the response's ThrottleMillis; when it
// is not 0, r's connection is muted for that long.
func (s *Server) throttle(r *request, key string, n int) int32 {
	if s.cfg.Quotas == nil || n <= 0 {
		return 0
	}
	set := s.cfg.Quotas.Quotas()
	if set.Len() == 0 {
		return 0
	}
	user, _ := strings.CutPrefix(r.principal, "User:")
	var clientID string
	if r.clientID != nil {
		clientID = *r.clientID
	}
	limit, sensor, ok := set.Resolve(key, user, clientID)
	if !ok {
		return 0
	}
	now := time.Now().UnixNano()
	d := s.sensors.record(sensorKey{key, sensor}, now, float64(n), limit, s.cfg.QuotaWindow)
	if d <= 0 {
		return 0
	}
	if r.conn != nil {
		r.conn.mute(now + int64(d))
	}
	s.metrics.Throttle.Add(context.Background(), d.Seconds(), throttleAttrs[key]...)
	return int32(d / time.Millisecond)
}

// throttleAttrs are the attribute sets of chronik_kafka_throttle, by key.
var throttleAttrs = map[string][]metric.AddOption{
	quota.ProducerByteRate: {metric.WithAttributeSet(attribute.NewSet(attribute.String("quota", quota.ProducerByteRate)))},
	quota.ConsumerByteRate: {metric.WithAttributeSet(attribute.NewSet(attribute.String("quota", quota.ConsumerByteRate)))},
}

// mute stops the connection's reader until unix ns until (a later mute
// extends it).
func (c *conn) mute(until int64) {
	for {
		cur := c.mutedUntil.Load()
		if cur >= until || c.mutedUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// waitMuted waits while the connection is muted; false if it must stop
// reading meanwhile (shutdown, connection failed).
func (c *conn) waitMuted() bool {
	until := c.mutedUntil.Load()
	if until == 0 {
		return true
	}
	d := time.Until(time.Unix(0, until))
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.s.stopping:
		return false
	case <-c.ctx.Done():
		return false
	}
}
