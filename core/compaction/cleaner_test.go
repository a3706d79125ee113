package compaction

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/cluster"
)

func TestPolicyOf(t *testing.T) {
	topic := func(cfg map[string]string) cluster.Topic { return cluster.Topic{Name: "t", Configs: cfg} }
	def := policyOf(topic(nil))
	if def.compact || def.dirtyRatio != 0.5 || def.minLag != 0 || def.deleteRetain != 24*time.Hour || def.maxLag <= 0 {
		t.Fatalf("defaults: %+v", def)
	}
	p := policyOf(topic(map[string]string{
		"cleanup.policy": "delete, compact", "min.cleanable.dirty.ratio": "0.1",
		"min.compaction.lag.ms": "1000", "max.compaction.lag.ms": "60000", "delete.retention.ms": "0",
	}))
	if !p.compact || p.dirtyRatio != 0.1 || p.minLag != time.Second || p.maxLag != time.Minute || p.deleteRetain != 0 {
		t.Fatalf("set: %+v", p)
	}
	// Kafka refuses remote storage on compacted topics; one that has both
	// is tiered, never rewritten.
	if p := policyOf(topic(map[string]string{"cleanup.policy": "compact", "remote.storage.enable": "true"})); p.compact {
		t.Fatal("a tiered topic is compacted")
	}
	// max.compaction.lag.ms at Long.MAX_VALUE does not overflow.
	if p := policyOf(topic(map[string]string{"max.compaction.lag.ms": "9223372036854775807"})); p.maxLag != time.Duration(math.MaxInt64/int64(time.Millisecond))*time.Millisecond {
		t.Fatalf("max lag %v", p.maxLag)
	}
}

func TestUrgency(t *testing.T) {
	dirty := candidate{ratio: 0.9}
	overdue := candidate{ratio: 0.1, overdue: true}
	cleaner := candidate{ratio: 0.6}
	if got := slices.MaxFunc([]candidate{dirty, overdue, cleaner}, urgency); got != overdue {
		t.Fatalf("picked %+v: an overdue partition goes first", got)
	}
	if got := slices.MaxFunc([]candidate{cleaner, dirty}, urgency); got != dirty {
		t.Fatalf("picked %+v: then the dirtiest", got)
	}
}
