// Package compaction is the log cleaner of topics whose cleanup.policy
// includes compact: on each partition this broker leads, it starts a
// compaction pass when enough of the log is dirty (written since the last
// pass) and ends it once the local worker has written the compacted
// batches. The passes themselves run in the partition state machine, on
// every replica alike (raftsm/compaction.go).
package compaction

import (
	"cmp"
	"context"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/raftsm"
)

// Topics looks up a topic's configs.
type Topics interface {
	Topic(name string) (cluster.Topic, bool)
	// RequireLevel fails unless every broker applies the commands of a
	// command level (raftsm.LevelTransactions has compaction's).
	RequireLevel(level uint16, what string) error
}

// Cleaner starts and ends the compaction passes of the partitions this
// broker leads.
type Cleaner struct {
	parts    *partition.Service
	topics   Topics
	interval time.Duration
	enabled  bool
	log      *slog.Logger
	now      func() time.Time

	// failed holds when a partition's last pass failed; it is not tried
	// again for failureBackoff (owned by Run's goroutine).
	failedAt map[partition.TP]time.Time
	// warnedLevel: an older broker's presence was logged once.
	warnedLevel bool

	maxDirty atomic.Uint64 // float64 bits: the largest dirty ratio the last check saw

	passes  metric.Int64Counter
	removed metric.Int64Counter
	failed  metric.Int64Counter
}

// New returns a cleaner that checks every interval (Kafka's
// log.cleaner.backoff.ms). Disabled (kafka.log-cleaner-enable = false), it
// begins no pass but still ends those a previous run left pending.
func New(parts *partition.Service, topics Topics, interval time.Duration, enabled bool, meter metric.Meter, log *slog.Logger) (*Cleaner, error) {
	c := &Cleaner{
		parts: parts, topics: topics, interval: interval, enabled: enabled, log: log, now: time.Now,
		failedAt: map[partition.TP]time.Time{},
	}
	var err error
	counter := func(name, desc, unit string) metric.Int64Counter {
		if err != nil {
			return nil
		}
		var ctr metric.Int64Counter
		ctr, err = meter.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		return ctr
	}
	c.passes = counter("compaction_passes", "Compaction passes completed on partitions this broker led.", "{pass}")
	c.removed = counter("compaction_removed_bytes", "Bytes compaction passes removed from partitions this broker led.", "By")
	c.failed = counter("compaction_failures", "Compaction passes whose worker failed on the leader (its batches were kept).", "{pass}")
	if err != nil {
		return nil, err
	}
	_, err = meter.Float64ObservableGauge("compaction_max_dirty_ratio",
		metric.WithDescription("Largest share of a compacted partition this broker leads written since its last compaction pass, as of the cleaner's last check (Kafka's max-dirty-percent, as a ratio): near 1 and staying there means the cleaner does not keep up."),
		metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
			o.Observe(math.Float64frombits(c.maxDirty.Load()))
			return nil
		}))
	return c, err
}

// passPoll is how often Run looks again while a pass is in progress, so
// that it ends the pass and begins the next soon after the worker is done:
// like Kafka's cleaner thread, it waits the backoff only when nothing is
// left to compact.
const passPoll = 50 * time.Millisecond

// failureBackoff is how long a partition whose pass failed (a full disk, a
// corrupt batch) is left alone before the next try.
const failureBackoff = 5 * time.Minute

// Run checks until ctx ends.
func (c *Cleaner) Run(ctx context.Context) {
	wait := c.interval
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = c.interval
		if c.Check(ctx) {
			wait = min(c.interval, passPoll)
		}
	}
}

// policy is what a topic's configs say about compaction.
type policy struct {
	compact        bool
	dirtyRatio     float64
	minLag, maxLag time.Duration
	deleteRetain   time.Duration
}

func policyOf(t cluster.Topic) policy {
	get := func(key string) string {
		if v, ok := t.Configs[key]; ok {
			return v
		}
		v, _ := cluster.ConfigDefault(key)
		return v
	}
	ms := func(key string) time.Duration {
		n, _ := strconv.ParseInt(get(key), 10, 64) // validated when set
		return time.Duration(min(n, int64(time.Duration(1<<63-1)/time.Millisecond))) * time.Millisecond
	}
	p := policy{minLag: ms("min.compaction.lag.ms"), maxLag: ms("max.compaction.lag.ms"), deleteRetain: ms("delete.retention.ms")}
	p.dirtyRatio, _ = strconv.ParseFloat(get("min.cleanable.dirty.ratio"), 64)
	for s := range strings.SplitSeq(get("cleanup.policy"), ",") {
		p.compact = p.compact || strings.EqualFold(strings.TrimSpace(s), "compact")
	}
	// Kafka refuses tiered storage on compacted topics; a topic that has
	// both (configured before that check) is tiered, not compacted.
	p.compact = p.compact && !strings.EqualFold(get("remote.storage.enable"), "true")
	return p
}

// candidate is a led partition that may want a pass.
type candidate struct {
	partition.Led
	pol     policy
	st      raftsm.CompactionStatus
	ratio   float64
	overdue bool // its oldest unseen record is older than max.compaction.lag.ms
}

// Check ends the passes whose leader worker is done and, when none is left
// in progress, begins one on the led partition that most needs it: past
// max.compaction.lag.ms first, then the dirtiest (as Kafka's cleaner). One pass at a time
// bounds the memory and disk bandwidth compaction takes. It reports
// whether a pass is in progress.
func (c *Cleaner) Check(ctx context.Context) bool {
	now := c.now()
	policies := map[string]*policy{}
	var todo []candidate
	busy := false
	maxDirty := 0.0
	defer func() { c.maxDirty.Store(math.Float64bits(maxDirty)) }()
	for _, r := range c.parts.LocalReplicas() {
		if !r.IsLeader {
			continue
		}
		st := r.Log.Compaction()
		if st.Pending != 0 {
			// Ended whatever the topic's policy or the cleaner's switch
			// say now: a pass left pending keeps its output file and its
			// gap, and holds size retention back.
			if !st.WorkerDone || !c.end(ctx, r, st.Pending) {
				busy = true
			}
			continue
		}
		if !c.enabled || !c.levelOK() {
			continue
		}
		pol, ok := policies[r.Topic]
		if !ok {
			if t, found := c.topics.Topic(r.Topic); found {
				p := policyOf(t)
				pol = &p
			}
			policies[r.Topic] = pol
		}
		if pol == nil || !pol.compact {
			continue
		}
		total := st.CleanBytes + st.DirtyBytes
		if st.DirtyBytes == 0 || total == 0 || now.Sub(c.failedAt[r.TP]) < failureBackoff {
			continue
		}
		if r.Log.LastStableOffset() <= st.DirtyFrom {
			// A transaction open since before the dirty records holds them
			// all: a pass copies what follows the last stable offset whole.
			continue
		}
		cd := candidate{Led: r, pol: *pol, st: st, ratio: float64(st.DirtyBytes) / float64(total)}
		maxDirty = max(maxDirty, cd.ratio)
		cd.overdue = c.overdue(r, st, pol.maxLag, now)
		if cd.ratio >= pol.dirtyRatio || cd.overdue {
			todo = append(todo, cd)
		}
	}
	if busy || len(todo) == 0 {
		return busy
	}
	return c.begin(ctx, slices.MaxFunc(todo, urgency), now)
}

// urgency orders candidates: past max.compaction.lag.ms first (a
// promise, where the dirty ratio is a preference), then the dirtiest.
func urgency(a, b candidate) int {
	if a.overdue != b.overdue {
		if a.overdue {
			return 1
		}
		return -1
	}
	return cmp.Compare(a.ratio, b.ratio)
}

// overdue reports whether the oldest record no pass has seen is older than
// max.compaction.lag.ms.
func (c *Cleaner) overdue(r partition.Led, st raftsm.CompactionStatus, maxLag time.Duration, now time.Time) bool {
	if maxLag <= 0 || maxLag >= time.Duration(1<<63-1)/2 {
		return false
	}
	ts, ok := r.Log.FirstTimestampFrom(st.DirtyFrom)
	return ok && now.Sub(time.UnixMilli(ts)) > maxLag
}

// begin proposes the start of a pass and reports whether it began.
func (c *Cleaner) begin(ctx context.Context, cd candidate, now time.Time) bool {
	cmd := raftsm.EncodeCompactBegin(now.Add(-cd.pol.deleteRetain).UnixMilli(), now.Add(-cd.pol.minLag).UnixMilli())
	pass, status, err := c.parts.ProposeTier(ctx, cd.TP, cd.Epoch, cmd)
	if err != nil || status != raftsm.StatusOK {
		c.log.Warn("cannot begin a compaction pass", "topic", cd.Topic, "partition", cd.Partition, "status", status, "err", err)
		return false
	}
	c.log.Debug("compaction pass begun", "topic", cd.Topic, "partition", cd.Partition, "pass", pass,
		"dirty_bytes", cd.st.DirtyBytes, "clean_bytes", cd.st.CleanBytes)
	return true
}

// end proposes the end of a pass whose leader worker is done and reports
// whether it ended.
func (c *Cleaner) end(ctx context.Context, r partition.Led, pass uint64) bool {
	_, status, err := c.parts.ProposeTier(ctx, r.TP, r.Epoch, raftsm.EncodeCompactEnd(pass))
	if err != nil || status != raftsm.StatusOK {
		c.log.Warn("cannot end a compaction pass", "topic", r.Topic, "partition", r.Partition, "pass", pass, "status", status, "err", err)
		return false
	}
	res := r.Log.Compaction().Last
	if res == nil || res.Pass != pass {
		return true
	}
	if res.Err != nil {
		c.failed.Add(ctx, 1)
		c.failedAt[r.TP] = c.now()
		c.log.Error("compaction pass failed; the partition keeps its batches, and is tried again in "+failureBackoff.String(),
			"topic", r.Topic, "partition", r.Partition, "pass", pass, "err", res.Err)
		return true
	}
	delete(c.failedAt, r.TP)
	c.passes.Add(ctx, 1)
	c.removed.Add(ctx, max(res.InBytes-res.OutBytes, 0))
	c.log.Info("compacted", "topic", r.Topic, "partition", r.Partition, "pass", pass,
		"records", res.Records, "kept", res.Kept, "bytes_before", res.InBytes, "bytes_after", res.OutBytes)
	return true
}

// levelOK reports whether every broker applies compaction's commands;
// until then no pass begins (a broker of an older release would keep its
// batches and drop the pass's commands, and its replica would diverge).
func (c *Cleaner) levelOK() bool {
	err := c.topics.RequireLevel(raftsm.LevelTransactions, "log compaction")
	if err != nil && !c.warnedLevel {
		c.warnedLevel = true
		c.log.Warn("the log cleaner waits for every broker to be upgraded", "err", err)
	}
	return err == nil
}
