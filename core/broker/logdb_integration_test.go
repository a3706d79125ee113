//go:build integration

package broker_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
)

// TestRaftLogDBChoice: a data dir keeps the Raft log store (raft.logdb) it
// was created with, sharedlog for a new one; a data dir from before the choice
// was recorded keeps the store Dragonboat created it with; and a
// raft.logdb that names the other store fails start-up instead of opening
// an empty log. Records produced before the restart are read after it.
func TestRaftLogDBChoice(t *testing.T) {
	for _, c := range []struct {
		name       string
		create     string // raft.logdb at the first start ("" = unset)
		dropRecord bool   // then delete the record, as in a data dir from before it existed
		restart    string // raft.logdb at the restart
		want       string // the store after the restart; "" = the restart must fail
	}{
		{name: "new dir is sharedlog", create: "", restart: "", want: "sharedlog"},
		{name: "explicit sharedlog", create: "sharedlog", restart: "sharedlog", want: "sharedlog"},
		{name: "old sharedlog dir without record stays sharedlog", create: "sharedlog", dropRecord: true, restart: "", want: "sharedlog"},
		{name: "explicit tan", create: "tan", restart: "tan", want: "tan"},
		{name: "tan dir stays tan when unset", create: "tan", restart: "", want: "tan"},
		{name: "pebble dir stays pebble when unset", create: "pebble", restart: "", want: "pebble"},
		{name: "old dir without record is pebble", create: "pebble", dropRecord: true, restart: "", want: "pebble"},
		{name: "old tan dir without record stays tan", create: "tan", dropRecord: true, restart: "", want: "tan"},
		{name: "tan on a pebble dir fails", create: "pebble", restart: "tan"},
		{name: "tan on an old dir without record fails", create: "pebble", dropRecord: true, restart: "tan"},
		{name: "pebble on a new-default dir fails", create: "", restart: "pebble"},
		{name: "tan on a sharedlog dir fails", create: "sharedlog", restart: "tan"},
		{name: "sharedlog on a tan dir fails", create: "tan", restart: "sharedlog"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := brokertest.Config(t)
			cfg.Raft.LogDB = c.create
			b := brokertest.Start(t, cfg)
			produceValues(t, b.KafkaAddr(), 100)
			sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer scancel()
			if err := b.Stop(sctx); err != nil {
				t.Fatal(err)
			}
			created := readLogDBRecord(t, cfg.DataDir)
			if want := c.create; want != "" && created != want || want == "" && created != "sharedlog" {
				t.Fatalf("recorded %q after creating with raft.logdb %q", created, c.create)
			}
			if c.dropRecord {
				if err := os.Remove(filepath.Join(cfg.DataDir, "raft.logdb")); err != nil {
					t.Fatal(err)
				}
			}

			cfg.Raft.LogDB = c.restart
			if c.want == "" {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				b, err := broker.Start(ctx, cfg, brokertest.Logger())
				if err == nil {
					_ = b.Stop(ctx)
					t.Fatalf("started a %s data dir with raft.logdb %q", created, c.restart)
				}
				if !strings.Contains(err.Error(), "raft.logdb") || !strings.Contains(err.Error(), created) {
					t.Fatalf("error does not explain the conflict: %v", err)
				}
				return
			}
			b = restart(t, cfg)
			if got := readLogDBRecord(t, cfg.DataDir); got != c.want {
				t.Fatalf("recorded %q after restart, want %q", got, c.want)
			}
			for _, store := range []struct{ name, dir string }{{"tan", "tandb"}, {"sharedlog", "sharedlog"}} {
				dirs, err := filepath.Glob(filepath.Join(cfg.DataDir, "raft", "*", "*", store.dir))
				if err != nil {
					t.Fatal(err)
				}
				if present := len(dirs) > 0; present != (c.want == store.name) {
					t.Fatalf("%s log present: %v, want store %s", store.name, present, c.want)
				}
			}
			consumeValues(t, b.KafkaAddr(), 100)
		})
	}
}

func readLogDBRecord(t *testing.T, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "raft.logdb"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// produceValues writes n one-byte records 0…n-1 to topic "logdb".
func produceValues(t *testing.T, addr string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("logdb"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < n; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// consumeValues reads back what produceValues wrote.
func consumeValues(t *testing.T, addr string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("logdb"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	for got := 0; got < n; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d after restart", got, n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if int(r.Value[0]) != int(r.Offset) {
				t.Fatalf("offset %d holds %d", r.Offset, r.Value[0])
			}
			got++
		})
	}
}

// TestRaftLogSaveMetrics: with sharedlog (a new data dir's store) every save of
// the Raft log store is timed and its entries counted in /metrics.
func TestRaftLogSaveMetrics(t *testing.T) {
	cfg := brokertest.Config(t)
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "saves"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	brokertest.Produce(ctx, t, []string{b.KafkaAddr()}, "saves", 1, 100, 100, time.Now())
	m := metricsText(t, b.HTTPAddr())
	count := regexp.MustCompile(`\nchronik_raft_log_save_duration_seconds_count (\d+)`).FindStringSubmatch(m)
	entries := regexp.MustCompile(`\nchronik_raft_log_saved_entries_total (\d+)`).FindStringSubmatch(m)
	if count == nil || entries == nil {
		t.Fatalf("raft log save metrics missing from /metrics")
	}
	// At least the topic's creation and the produced batches were saved.
	if n, _ := strconv.Atoi(entries[1]); n < 2 {
		t.Fatalf("%s entries saved, want ≥ 2", entries[1])
	}
	if n, _ := strconv.Atoi(count[1]); n < 1 {
		t.Fatalf("%s saves timed, want ≥ 1", count[1])
	}
	// The shared log (a new data dir's store) reports its segment files.
	segments := regexp.MustCompile(`\nchronik_raft_log_segments (\d+)`).FindStringSubmatch(m)
	if segments == nil || segments[1] == "0" {
		t.Fatalf("chronik_raft_log_segments missing or 0: %v", segments)
	}
	// and what it wrote with direct I/O (0 on a file system without it;
	// core/sharedlog's tests check the writes themselves).
	if !regexp.MustCompile(`\nchronik_raft_log_direct_bytes_total \d+`).MatchString(m) {
		t.Fatal("chronik_raft_log_direct_bytes_total missing from /metrics")
	}
}

// TestRaftLogDirectWritesSetting: raft.direct-writes turns the shared log's
// direct writes on (the default) and off. A 512 KiB record is one save
// round of more than 64 KiB: with the setting on, the whole pages of it go
// directly (where the file system takes O_DIRECT; elsewhere the test
// skips); with it off, nothing does.
func TestRaftLogDirectWritesSetting(t *testing.T) {
	direct := regexp.MustCompile(`\nchronik_raft_log_direct_bytes_total (\d+)`)
	written := func(on bool) int {
		cfg := brokertest.Config(t)
		cfg.Raft.DirectWrites = on
		b := brokertest.Start(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cl := newClient(t, b.KafkaAddr())
		createTopic(t, cl, "big", 1)
		value := make([]byte, 512<<10) // incompressible: the client compresses
		for i := range value {
			value[i] = byte(rand.Uint32())
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "big", Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		m := direct.FindStringSubmatch(metricsText(t, b.HTTPAddr()))
		if m == nil {
			t.Fatal("chronik_raft_log_direct_bytes_total missing from /metrics")
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	on := written(true)
	if on == 0 {
		t.Skip("nothing written directly with raft.direct-writes = true: this file system takes no O_DIRECT, so off cannot be told from on")
	}
	if off := written(false); off != 0 {
		t.Fatalf("raft.direct-writes = false: %d bytes written directly (%d with it on)", off, on)
	}
}
