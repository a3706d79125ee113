package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/config"
)

// groupPartitions is the topic BenchmarkGroupJoin's group consumes.
const groupPartitions = 12

// BenchmarkGroupJoin is how long a member joining a one-member group takes
// to own its share of a 12-partition topic (6 partitions), and the first
// member to own all 12 again once it left: one op is one join and one
// leave. Both protocols heartbeat every 250 ms (the classic one client
// side, KIP-848's as the broker tells its members), so what is measured is
// the protocol's round trips, not the default intervals (3 s classic, 5 s
// KIP-848). Sub-benchmarks: classic (franz-go's cooperative-sticky, two
// rebalances per change), consumer (KIP-848, the broker assigns) and mixed
// (the first member classic, the second on KIP-848: each join upgrades the
// classic group to a consumer group hosting the classic member, each leave
// downgrades it to a classic group that rebalances).
func BenchmarkGroupJoin(b *testing.B) {
	for _, proto := range []string{"classic", "consumer", "mixed"} {
		b.Run(proto, func(b *testing.B) {
			if probeRound(b) {
				return
			}
			ctx := benchContext(b)
			addr, _ := startChronik(b, func(c *config.Config) {
				c.Kafka.GroupInitialRebalanceDelayMs = 0
				c.Kafka.GroupConsumerHeartbeatInterval = 250 * time.Millisecond
			})
			opts := []kgo.Opt{
				kgo.SeedBrokers(addr), kgo.ConsumerGroup("join-" + proto), kgo.ConsumeTopics("join"),
				kgo.HeartbeatInterval(250 * time.Millisecond),
			}
			kip848 := slices.Concat(opts, []kgo.Opt{kgo.ServerSideBalancer()})
			firstOpts, secondOpts := opts, opts
			switch proto {
			case "consumer":
				firstOpts, secondOpts = kip848, kip848
			case "mixed":
				secondOpts = kip848
			}
			admin, err := kgo.NewClient(kgo.SeedBrokers(addr))
			must(b, err)
			defer admin.Close()
			if _, err := kadm.NewClient(admin).CreateTopic(ctx, groupPartitions, 1, nil, "join"); err != nil {
				b.Fatal(err)
			}
			first := newOwner(b, firstOpts)
			defer first.cl.Close()
			first.wait(ctx, b, groupPartitions)
			var join, leave time.Duration
			for range b.N {
				start := time.Now()
				second := newOwner(b, secondOpts)
				second.wait(ctx, b, groupPartitions/2)
				first.wait(ctx, b, groupPartitions/2)
				join += time.Since(start)
				start = time.Now()
				second.cl.Close()
				first.wait(ctx, b, groupPartitions)
				leave += time.Since(start)
			}
			b.ReportMetric(float64(join.Milliseconds())/float64(b.N), "join-ms")
			b.ReportMetric(float64(leave.Milliseconds())/float64(b.N), "leave-ms")
		})
	}
}

// owner is a group member that tracks how many partitions it owns.
type owner struct {
	cl *kgo.Client
	mu sync.Mutex
	n  int
	ch chan struct{} // signalled on every change
}

func newOwner(b *testing.B, opts []kgo.Opt) *owner {
	o := &owner{ch: make(chan struct{}, 1)}
	change := func(d int) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			o.mu.Lock()
			for _, ps := range m {
				o.n += d * len(ps)
			}
			o.mu.Unlock()
			select {
			case o.ch <- struct{}{}:
			default:
			}
		}
	}
	cl, err := kgo.NewClient(append(opts, kgo.OnPartitionsAssigned(change(1)), kgo.OnPartitionsRevoked(change(-1)),
		kgo.OnPartitionsLost(change(-1)))...)
	must(b, err)
	o.cl = cl
	// Poll so the group management runs and callbacks fire.
	go func() {
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
		}
	}()
	return o
}

// wait blocks until the member owns n partitions.
func (o *owner) wait(ctx context.Context, b *testing.B, n int) {
	for {
		o.mu.Lock()
		have := o.n
		o.mu.Unlock()
		if have == n {
			return
		}
		select {
		case <-o.ch:
		case <-ctx.Done():
			b.Fatal(fmt.Errorf("member owns %d partitions, want %d: %w", have, n, ctx.Err()))
		}
	}
}
