//go:build integration

package broker_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/tier"
)

// TestDeletedTopicObjectsRemoved: a deleted tiered topic's objects leave
// the store after tier.orphan-grace, unless a retained backup lists the
// topic (restoring it needs them): those go once the backup does. A live
// topic's objects are never touched.
func TestDeletedTopicObjectsRemoved(t *testing.T) {
	cfg, b, cl := startTierBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adm := kadm.NewClient(cl)
	objects := func(topic string) int {
		t.Helper()
		m, err := filepath.Glob(filepath.Join(cfg.DataDir, "tier", "segments", topic+"-*", "*", "*.seg"))
		if err != nil {
			t.Fatal(err)
		}
		return len(m)
	}
	for _, topic := range []string{"gone", "backed-up", "live"} {
		tieredTopic(ctx, t, adm, topic)
		brokertest.Produce(ctx, t, []string{b.KafkaAddr()}, topic, 1, 500, 1000, time.Now())
		// Every full segment uploaded (only the open one left local), so
		// that the counts below do not grow from late uploads.
		waitTier(t, b.HTTPAddr(), topic, 0, topic+" tiered", func(ps tier.PartitionStatus) bool {
			return ps.Segments >= 3 && ps.UploadLagBytes < tierSegmentBytes
		})
	}
	deleteTopic := func(topic string) {
		t.Helper()
		if _, err := adm.DeleteTopics(ctx, topic); err != nil {
			t.Fatal(err)
		}
	}
	deleteTopic("gone")
	if _, err := b.Backup(ctx); err != nil { // lists backed-up and live, not gone
		t.Fatal(err)
	}
	deleteTopic("backed-up")
	before := map[string]int{"gone": objects("gone"), "backed-up": objects("backed-up"), "live": objects("live")}
	for topic, n := range before {
		if n < 3 {
			t.Fatalf("%s has %d objects before the sweep, want ≥ 3", topic, n)
		}
	}

	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s", what)
			}
		}
	}
	waitFor("the deleted topic's objects removed", func() bool { return objects("gone") == 0 })
	// Several more sweeps: the backed-up topic and the live one keep theirs.
	time.Sleep(3 * time.Second)
	if got := objects("backed-up"); got != before["backed-up"] {
		t.Fatalf("a deleted topic listed by a retained backup has %d objects, want %d", got, before["backed-up"])
	}
	if got := objects("live"); got != before["live"] {
		t.Fatalf("a live topic has %d objects, want %d", got, before["live"])
	}
	// Once no backup lists it, it goes too.
	if err := os.RemoveAll(filepath.Join(cfg.DataDir, "tier", "backups")); err != nil {
		t.Fatal(err)
	}
	waitFor("the backed-up topic's objects removed after its backup went", func() bool { return objects("backed-up") == 0 })
	if got := objects("live"); got != before["live"] {
		t.Fatalf("a live topic has %d objects, want %d", got, before["live"])
	}
	if m := metricsText(t, b.HTTPAddr()); !strings.Contains(m, "\nchronik_tier_deleted_topic_objects_total ") {
		t.Fatal("chronik_tier_deleted_topic_objects_total missing from /metrics")
	}
}
