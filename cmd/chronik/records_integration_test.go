//go:build integration

package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/chronik-go/chronik/core/opsctl"
)

func TestDeleteRecordsAndDescribeClusterCommands(t *testing.T) {
	c := newOpsCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.ok("topic", "create", "dr", "--partitions", "2")
	c.produce(ctx, "dr", 0, 10)
	c.produce(ctx, "dr", 1, 4)

	got := opsJSON[opsctl.DeletedRecords](c, "topic", "delete-records", "dr", "--before", "6", "--partitions", "0")
	if len(got.Partitions) != 1 || got.Partitions[0].LogStartOffset != 6 {
		t.Fatalf("delete-records = %+v; want partition 0 starting at 6", got)
	}
	starts, err := kadm.NewClient(c.client()).ListStartOffsets(ctx, "dr")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup("dr", 0); o.Offset != 6 {
		t.Fatalf("log start of partition 0 = %d, want 6", o.Offset)
	}
	if o, _ := starts.Lookup("dr", 1); o.Offset != 0 {
		t.Fatalf("partition 1 was not named but starts at %d", o.Offset)
	}
	all := opsJSON[opsctl.DeletedRecords](c, "topic", "delete-records", "dr", "--before", "-1")
	if len(all.Partitions) != 2 || all.Partitions[0].LogStartOffset != 10 || all.Partitions[1].LogStartOffset != 4 {
		t.Fatalf("delete-records --before -1 = %+v; want 10 and 4", all)
	}
	c.fails("OFFSET_OUT_OF_RANGE", "topic", "delete-records", "dr", "--before", "99", "--partitions", "1")
	c.fails("no partition 7", "topic", "delete-records", "dr", "--before", "1", "--partitions", "7")

	desc := opsJSON[opsctl.ClusterDescription](c, "cluster", "describe")
	if len(desc.Brokers) != 1 || desc.Controller != 1 || desc.Brokers[0].Partitions < 2 || desc.Brokers[0].LogDir == "" || desc.Features["transaction.version"] != 2 {
		t.Fatalf("cluster describe = %+v", desc)
	}
	if out := c.ok("cluster", "describe"); !strings.Contains(out, "transaction.version=2") || !strings.Contains(out, "group.version=1") {
		t.Fatalf("cluster describe does not show the finalized transaction.version and group.version:\n%s", out)
	}

	// set-feature: a downgrade needs --allow-downgrade; a dry run changes
	// nothing; unknown features and levels are refused by the brokers.
	c.fails("add --allow-downgrade", "cluster", "set-feature", "transaction.version=1")
	dry := opsJSON[opsctl.FeatureChange](c, "cluster", "set-feature", "transaction.version=1", "--allow-downgrade", "--dry-run")
	if !dry.DryRun || dry.Previous != 2 || dry.Level != 1 {
		t.Fatalf("dry run: %+v", dry)
	}
	if d := opsJSON[opsctl.ClusterDescription](c, "cluster", "describe"); d.Features["transaction.version"] != 2 {
		t.Fatalf("a dry run changed the level: %+v", d.Features)
	}
	if out := c.ok("cluster", "set-feature", "transaction.version=1", "--allow-downgrade"); !strings.Contains(out, "transaction.version  1      2         set") {
		t.Fatalf("set-feature table:\n%s", out)
	}
	if d := opsJSON[opsctl.ClusterDescription](c, "cluster", "describe"); d.Features["transaction.version"] != 1 {
		t.Fatalf("after the downgrade: %+v", d.Features)
	}
	c.ok("cluster", "set-feature", "transaction.version=2")
	c.fails("INVALID_UPDATE_VERSION", "cluster", "set-feature", "transaction.version=7")
	c.fails("INVALID_UPDATE_VERSION", "cluster", "set-feature", "no.such.feature=1")
	c.fails(`"transaction.version" is not NAME=LEVEL`, "cluster", "set-feature", "transaction.version")
}
