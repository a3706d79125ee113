package kafka

import (
	"context"
	"fmt"
	"maps"
	"math"
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

// tokenBucket is the sensor of controller_mutation_rate, Kafka's
// TokenBucket stat (KIP-599, ControllerMutationQuotaManager): it holds up
// to burst = limit × quotaWindows windows of tokens, one per partition
// created or deleted, and refills at limit per second; a new bucket is
// full. The quota is exhausted while the bucket is below zero: the topic
// that finds tokens left goes through whole, even if it takes the bucket
// below, and the next waits until it is back to zero.
type tokenBucket struct {
	tokens float64
	last   int64 // unix ns of the last refill; 0 for a new bucket
	// fullAt is the unix ns at which the bucket is full again, unused
	// since: the idle sweep counts from it.
	fullAt int64
}

// take refills the bucket up to now and takes n tokens from it, unless
// strict and the bucket is exhausted. It returns whether it took them and
// the time until the bucket is back to zero (0 if it is not below).
func (b *tokenBucket) take(now int64, n, limit float64, window time.Duration, strict bool) (bool, time.Duration) {
	burst := limit * quotaWindows * window.Seconds()
	if b.last == 0 {
		b.tokens = burst
	} else {
		b.tokens = min(burst, b.tokens+limit*time.Duration(max(now-b.last, 0)).Seconds())
	}
	b.last = now
	took := !strict || b.tokens >= 0
	if took {
		b.tokens -= n
	}
	b.fullAt = now + int64(seconds((burst-b.tokens)/limit))
	if b.tokens >= 0 {
		return took, 0
	}
	return took, seconds(-b.tokens / limit)
}

func (b *tokenBucket) idleSince() int64 { return b.fullAt }

// maxThrottle bounds a throttle time: ThrottleMillis is an int32.
const maxThrottle = math.MaxInt32 * time.Millisecond

// seconds converts s seconds to a duration of at most maxThrottle.
func seconds(s float64) time.Duration {
	return time.Duration(min(s*float64(time.Second), float64(maxThrottle)))
}

// quotaSensors holds a broker's sensors, by quota key and sensor entity:
// the byte rates' rate sensors, controller_mutation_rate's token buckets.
// Sensors unused for sensorIdle are dropped.
type quotaSensors struct {
	mu        sync.Mutex
	rates     map[sensorKey]*rateSensor
	buckets   map[sensorKey]*tokenBucket
	lastSweep int64
}

type sensorKey struct {
	key    string
	entity quota.Entity
}

func (s *rateSensor) idleSince() int64 { return s.lastUsed }

// record adds n bytes to the rate sensor and returns its throttle time.
func (q *quotaSensors) record(k sensorKey, now int64, n, limit float64, window time.Duration) time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sweep(now)
	return sensor(&q.rates, k).record(now, n, limit, window)
}

// take takes n tokens from the token bucket, as tokenBucket.take.
func (q *quotaSensors) take(k sensorKey, now int64, n, limit float64, window time.Duration, strict bool) (bool, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sweep(now)
	return sensor(&q.buckets, k).take(now, n, limit, window, strict)
}

// sweep drops the idle sensors, at most once per sensorIdle.
func (q *quotaSensors) sweep(now int64) {
	if now-q.lastSweep <= int64(sensorIdle) {
		return
	}
	dropIdle(q.rates, now)
	dropIdle(q.buckets, now)
	q.lastSweep = now
}

// dropIdle deletes the sensors unused for sensorIdle.
func dropIdle[S interface{ idleSince() int64 }](m map[sensorKey]S, now int64) {
	maps.DeleteFunc(m, func(_ sensorKey, s S) bool { return now-s.idleSince() > int64(sensorIdle) })
}

// sensor returns k's sensor in *m, created (and *m) if need be.
func sensor[S any](m *map[sensorKey]*S, k sensorKey) *S {
	if *m == nil {
		*m = map[sensorKey]*S{}
	}
	s := (*m)[k]
	if s == nil {
		s = new(S)
		(*m)[k] = s
	}
	return s
}

// quotaOf resolves the quota key of r's user and client ID: its limit and
// sensor; ok is false when none applies.
func (s *Server) quotaOf(r *request, key string) (limit float64, k sensorKey, ok bool) {
	if s.cfg.Quotas == nil {
		return 0, sensorKey{}, false
	}
	set := s.cfg.Quotas.Quotas()
	if set.Len() == 0 {
		return 0, sensorKey{}, false
	}
	user, _ := strings.CutPrefix(r.principal, "User:")
	var clientID string
	if r.clientID != nil {
		clientID = *r.clientID
	}
	limit, sensor, ok := set.Resolve(key, user, clientID)
	return limit, sensorKey{key, sensor}, ok
}

// throttle records n bytes of r's against quota key and returns the
// throttle time in milliseconds for the response's ThrottleMillis; when it
// is not 0, r's connection is muted for that long.
func (s *Server) throttle(r *request, key string, n int) int32 {
	if n <= 0 {
		return 0
	}
	limit, k, ok := s.quotaOf(r, key)
	if !ok {
		return 0
	}
	now := time.Now().UnixNano()
	return s.throttleFor(r, key, now, s.sensors.record(k, now, float64(n), limit, s.cfg.QuotaWindow))
}

// throttleFor mutes r's connection for d from now, counts it under quota
// key (chronik_kafka_throttle_seconds_total) and returns it in
// milliseconds for the response's ThrottleMillis; d <= 0 does nothing.
func (s *Server) throttleFor(r *request, key string, now int64, d time.Duration) int32 {
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
var throttleAttrs = func() map[string][]metric.AddOption {
	m := make(map[string][]metric.AddOption, len(quota.Keys))
	for _, k := range quota.Keys {
		m[k] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("quota", k)))}
	}
	return m
}()

// mutationQuota is the controller_mutation_rate quota one CreateTopics,
// CreatePartitions or DeleteTopics request is served under (KIP-599), as
// Kafka's ControllerMutationQuotaManager enforces it: before each topic,
// refusal says whether the principal's token bucket is exhausted (strict
// versions only); record takes the topic's partitions created or deleted;
// throttleMillis gives the response's ThrottleMillis. A nil *mutationQuota
// (no quota applies, or the request only validates) does nothing.
type mutationQuota struct {
	s      *Server
	r      *request
	k      sensorKey
	limit  float64
	strict bool
}

// mutationQuota returns r's controller_mutation_rate quota, nil when none
// applies or with validateOnly (nothing changes). strict is for the
// versions that know THROTTLING_QUOTA_EXCEEDED: their topics are refused
// while the bucket is exhausted; older versions are only throttled.
func (s *Server) mutationQuota(r *request, strict, validateOnly bool) *mutationQuota {
	if validateOnly {
		return nil
	}
	limit, k, ok := s.quotaOf(r, quota.ControllerMutationRate)
	if !ok {
		return nil
	}
	return &mutationQuota{s: s, r: r, k: k, limit: limit, strict: strict}
}

// refusal returns the error message of a topic refused with
// THROTTLING_QUOTA_EXCEEDED because the quota is exhausted, "" when the
// topic may go ahead.
func (q *mutationQuota) refusal() string {
	if q == nil || !q.strict {
		return ""
	}
	ok, wait := q.s.sensors.take(q.k, time.Now().UnixNano(), 0, q.limit, q.s.cfg.QuotaWindow, true)
	if ok {
		return ""
	}
	return fmt.Sprintf("the %s quota of %s (%g partitions created or deleted per second) is exhausted: retry in %v",
		quota.ControllerMutationRate, q.k.entity, q.limit, wait.Round(time.Millisecond))
}

// record takes n partitions created or deleted from the bucket.
func (q *mutationQuota) record(n int32) {
	if q == nil || n <= 0 {
		return
	}
	q.s.sensors.take(q.k, time.Now().UnixNano(), float64(n), q.limit, q.s.cfg.QuotaWindow, false)
}

// throttleMillis returns the response's ThrottleMillis, the time until the
// bucket is back to zero, and mutes the connection for that long.
func (q *mutationQuota) throttleMillis() int32 {
	if q == nil {
		return 0
	}
	now := time.Now().UnixNano()
	_, wait := q.s.sensors.take(q.k, now, 0, q.limit, q.s.cfg.QuotaWindow, false)
	return q.s.throttleFor(q.r, quota.ControllerMutationRate, now, wait)
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
