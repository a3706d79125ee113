//go:build e2e

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TestE2EElectPreferredLeader: after leadership is moved away from a
// partition's preferred replica, ElectLeaders (preferred) moves it back;
// when the preferred replica leads, it answers ELECTION_NOT_NEEDED.
func TestE2EElectPreferredLeader(t *testing.T) {
	c := startCluster(t, 3)
	createClusterTopic(t, c, "elect", 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm := kadm.NewClient(newClient(t, c.addrs[0].kafka))

	parts, _ := c.leaders("elect", -1)
	preferred := parts[0].replicas[0]
	waitUntil(t, 30*time.Second, "the preferred replica to lead", func() (bool, string) {
		p, desc := c.leaders("elect", -1)
		return p[0].leader == preferred, desc
	})
	elect := func() error {
		rs, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"elect": {0: {}}})
		if err != nil {
			return err
		}
		return rs["elect"][0].Err
	}
	if err := elect(); !errors.Is(err, kerr.ElectionNotNeeded) {
		t.Fatalf("ElectLeaders with the preferred replica leading: %v, want ELECTION_NOT_NEEDED", err)
	}

	other := preferred%3 + 1
	url := fmt.Sprintf("http://%s/v1/topics/elect/partitions/0/leader?to=%d", c.addrs[preferred-1].http, other)
	resp, err := http.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitUntil(t, 30*time.Second, fmt.Sprintf("broker %d to lead after the transfer", other), func() (bool, string) {
		p, desc := c.leaders("elect", -1)
		return p[0].leader == other, desc
	})
	if err := elect(); err != nil {
		t.Fatalf("ElectLeaders (preferred): %v", err)
	}
	took := waitUntil(t, 30*time.Second, "the preferred replica to lead again", func() (bool, string) {
		p, desc := c.leaders("elect", -1)
		return p[0].leader == preferred, desc
	})
	t.Logf("preferred replica %d leads again %s after ElectLeaders", preferred, took)
}
