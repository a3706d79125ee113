package group

import (
	"errors"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/readlease"
)

// TestDescriptionsAndListingsUnderTheLease: with read leases on, a
// coordinator describes and lists groups only while it can confirm that it
// still leads their shard; one that cannot (a barrier that never comes
// back in time, as when cut off from its peers) answers
// COORDINATOR_NOT_AVAILABLE instead of its possibly stale view.
func TestDescriptionsAndListingsUnderTheLease(t *testing.T) {
	const election = 100 * time.Millisecond
	s, f := testService(t, 1, func(c *Config) { c.ElectionTimeout = election })
	ctx := tctx(t)
	retry := func(call func() error) error {
		t.Helper()
		for {
			if err := call(); !errors.Is(err, ErrLoadInProgress) || ctx.Err() != nil {
				return err
			}
			time.Sleep(time.Millisecond) // a client's retry backoff
		}
	}
	if err := retry(func() error {
		return s.CommitOffsets(ctx, CommitRequest{Group: "g", Generation: -1, Offsets: []CommitOffset{{TopicPartition{"t", 0}, 7, -1, ""}}})[0]
	}); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"describe": func() error { _, err := s.DescribeGroup(ctx, "g"); return err },
		"describe consumer group": func() error {
			_, err := s.DescribeConsumerGroup(ctx, "g")
			if errors.Is(err, ErrGroupNotFound) {
				return nil // a classic group: answered
			}
			return err
		},
		"list": func() error {
			l, err := s.ListGroups(ctx, ListFilter{})
			if err == nil && (len(l) != 1 || l[0].Group != "g") {
				t.Errorf("listed %+v, want g", l)
			}
			return err
		},
	}
	for what, call := range calls {
		if err := call(); err != nil {
			t.Fatalf("%s with the shard led and confirmed: %v", what, err)
		}
	}
	f.SetBarrierDelay(3 * election)       // confirmations never come back in time
	time.Sleep(readlease.Serve(election)) // let the lease run out, not synchronisation
	for what, call := range calls {
		if err := call(); !errors.Is(err, ErrCoordinatorNotAvailable) {
			t.Fatalf("%s without a lease: %v, want ErrCoordinatorNotAvailable", what, err)
		}
	}
	f.SetBarrierDelay(0)
	for what, call := range calls {
		if err := call(); err != nil {
			t.Fatalf("%s once confirmations come back: %v", what, err)
		}
	}
}
