package opsctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/cluster"
)

// ClusterStatus is the result of `cluster status`.
type ClusterStatus struct {
	Nodes           []NodeState      `json:"nodes"`
	Partitions      []PartitionState `json:"partitions"`
	UnderReplicated int              `json:"under_replicated"`
	Leaderless      int              `json:"leaderless"`
	// Compaction is the log compaction of each partition whose leader has
	// compacted it since it started, or is compacting it.
	Compaction []CompactionState `json:"compaction"`
}

// CompactionState is a compacted partition's log compaction, as its leader
// reports it.
type CompactionState struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Leader    int32  `json:"leader"`
	cluster.CompactionStatus
}

// NodeState is one broker as its admin API answered.
type NodeState struct {
	Node       int32  `json:"node"` // -1 when unreachable
	HTTP       string `json:"http"`
	Up         bool   `json:"up"`
	Error      string `json:"error,omitempty"`
	MetaLeader int32  `json:"meta_leader"`
}

// PartitionState is one partition across its replicas.
type PartitionState struct {
	Topic       string       `json:"topic"`
	Partition   int32        `json:"partition"`
	Leader      int32        `json:"leader"`
	LeaderEpoch int32        `json:"leader_epoch"`
	Replicas    []ReplicaLag `json:"replicas"`
	State       string       `json:"state"` // ok, under-replicated, leaderless
}

// ReplicaLag is one replica's progress relative to the leader.
type ReplicaLag struct {
	Node          int32 `json:"node"`
	Reporting     bool  `json:"reporting"` // its broker answered the status request
	HighWatermark int64 `json:"high_watermark"`
	Lag           int64 `json:"lag"` // leader's high watermark minus this one's
}

// FetchNodeStatus reads one broker's /v1/status.
func FetchNodeStatus(ctx context.Context, c *adminhttp.Client, addr string) (cluster.NodeStatus, error) {
	var st cluster.NodeStatus
	resp, err := c.Do(ctx, http.MethodGet, addr, "/v1/status", nil)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, statusError("GET /v1/status", resp)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// ClusterStatus merges the Kafka metadata (replica placement, leaders)
// with every broker's admin status (high watermarks), flagging partitions
// whose replicas lag or do not report, and those without a leader.
func (c *Client) ClusterStatus(ctx context.Context, admin Admin) (*ClusterStatus, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	md, err := c.adm.Metadata(ctx)
	if err != nil {
		return nil, c.explain(err)
	}
	out := &ClusterStatus{Nodes: []NodeState{}, Partitions: []PartitionState{}, Compaction: []CompactionState{}}
	type tp struct {
		topic string
		p     int32
	}
	hw := map[tp]map[int32]int64{} // node → high watermark, per partition
	comp := map[tp]map[int32]*cluster.CompactionStatus{}
	for _, addr := range admin.Addrs {
		ns := NodeState{Node: -1, HTTP: addr, MetaLeader: -1}
		st, err := FetchNodeStatus(ctx, admin.HTTP, addr)
		if err != nil {
			ns.Error = err.Error()
		} else {
			ns.Node, ns.Up, ns.MetaLeader = st.Node, true, st.MetaLeader
			for _, r := range st.Replicas {
				k := tp{r.Topic, r.Partition}
				if hw[k] == nil {
					hw[k] = map[int32]int64{}
				}
				hw[k][st.Node] = r.HighWatermark
				if r.Compaction != nil {
					if comp[k] == nil {
						comp[k] = map[int32]*cluster.CompactionStatus{}
					}
					comp[k][st.Node] = r.Compaction
				}
			}
		}
		out.Nodes = append(out.Nodes, ns)
	}
	for _, t := range md.Topics.Sorted() {
		for _, p := range t.Partitions.Sorted() {
			ps := PartitionState{Topic: t.Topic, Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, State: "ok"}
			reports := hw[tp{t.Topic, p.Partition}]
			leaderHW, leaderOK := reports[p.Leader]
			for _, n := range p.Replicas {
				h, ok := reports[n]
				rl := ReplicaLag{Node: n, Reporting: ok, HighWatermark: h}
				if ok && leaderOK {
					rl.Lag = max(0, leaderHW-h)
				}
				if !ok || rl.Lag > 0 {
					ps.State = "under-replicated"
				}
				ps.Replicas = append(ps.Replicas, rl)
			}
			if p.Leader < 0 || p.Err != nil {
				ps.State = "leaderless"
			}
			switch ps.State {
			case "under-replicated":
				out.UnderReplicated++
			case "leaderless":
				out.Leaderless++
			}
			out.Partitions = append(out.Partitions, ps)
			if c := comp[tp{t.Topic, p.Partition}][p.Leader]; c != nil {
				out.Compaction = append(out.Compaction, CompactionState{Topic: t.Topic, Partition: p.Partition, Leader: p.Leader, CompactionStatus: *c})
			}
		}
	}
	return out, nil
}

// WriteTable prints nodes, then partitions, then a summary line.
func (r *ClusterStatus) WriteTable(w io.Writer) error {
	return sections(w,
		func(w io.Writer) error {
			t := newTable(w, "NODE", "HTTP", "UP", "META-LEADER", "ERROR")
			for _, n := range r.Nodes {
				node := "?"
				if n.Node >= 0 {
					node = itoa(n.Node)
				}
				t.row(node, n.HTTP, strconv.FormatBool(n.Up), itoa(n.MetaLeader), n.Error)
			}
			return t.flush()
		},
		func(w io.Writer) error {
			t := newTable(w, "TOPIC", "PARTITION", "LEADER", "EPOCH", "REPLICAS(NODE:LAG)", "STATE")
			for _, p := range r.Partitions {
				reps := make([]string, 0, len(p.Replicas))
				for _, rl := range p.Replicas {
					lag := itoa(rl.Lag)
					if !rl.Reporting {
						lag = "down"
					}
					reps = append(reps, itoa(rl.Node)+":"+lag)
				}
				t.row(p.Topic, itoa(p.Partition), itoa(p.Leader), itoa(p.LeaderEpoch), strings.Join(reps, ","), p.State)
			}
			return t.flush()
		},
		r.writeCompaction,
		func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "%d partitions, %d under-replicated, %d leaderless\n", len(r.Partitions), r.UnderReplicated, r.Leaderless)
			return err
		},
	)
}

// writeCompaction prints the compacted partitions, if any: dirty share,
// the pass in progress, and what the last pass kept.
func (r *ClusterStatus) writeCompaction(w io.Writer) error {
	if len(r.Compaction) == 0 {
		return nil
	}
	t := newTable(w, "TOPIC", "PARTITION", "LEADER", "CLEAN", "DIRTY", "PASS", "LAST-PASS")
	for _, c := range r.Compaction {
		dirty := humanBytes(c.DirtyBytes)
		if total := c.CleanBytes + c.DirtyBytes; total > 0 {
			dirty += fmt.Sprintf(" (%d%%)", c.DirtyBytes*100/total)
		}
		pass := "-"
		if c.PendingPass != 0 {
			pass = fmt.Sprintf("#%d running", c.PendingPass)
			if c.WorkerDone {
				pass = fmt.Sprintf("#%d ending", c.PendingPass)
			}
		}
		last := "-"
		if l := c.LastPass; l != nil {
			last = fmt.Sprintf("#%d kept %d of %d records, %s → %s", l.Pass, l.Kept, l.Records, humanBytes(l.BytesBefore), humanBytes(l.BytesAfter))
			if l.Error != "" {
				last = fmt.Sprintf("#%d failed: %s", l.Pass, l.Error)
			}
		}
		t.row(c.Topic, itoa(c.Partition), itoa(c.Leader), humanBytes(c.CleanBytes), dirty, pass, last)
	}
	return t.flush()
}

// LeaderTransfer is the result of `cluster transfer-leader`.
type LeaderTransfer struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	From        int32  `json:"from"`
	To          int32  `json:"to"`
	LeaderEpoch int32  `json:"leader_epoch"`
	Elapsed     string `json:"elapsed"`
}

// TransferLeader asks a broker holding a replica to move the partition's
// leadership to broker to, then waits until Metadata shows it there,
// printing progress to progress (may be io.Discard).
func (c *Client) TransferLeader(ctx context.Context, admin Admin, topic string, p, to int32, progress io.Writer) (*LeaderTransfer, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	start := time.Now()
	leader := func() (int32, int32, error) {
		md, err := c.adm.Metadata(ctx, topic)
		if err != nil {
			return -1, -1, c.explain(err)
		}
		pd, ok := md.Topics[topic].Partitions[p]
		if !ok {
			return -1, -1, invalidf("topic %q has no partition %d", topic, p)
		}
		return pd.Leader, pd.LeaderEpoch, nil
	}
	from, _, err := leader()
	if err != nil {
		return nil, err
	}
	res := &LeaderTransfer{Topic: topic, Partition: p, From: from, To: to}
	ask := func() error {
		var lastErr error
		for _, addr := range admin.Addrs {
			if lastErr = postTransfer(ctx, admin.HTTP, addr, topic, p, to); lastErr == nil {
				return nil
			}
		}
		return lastErr
	}
	var asked time.Time
	if from != to {
		if err := ask(); err != nil {
			return nil, failf(ErrInvalidInput, err, "no broker accepted the transfer: %v", err)
		}
		asked = time.Now()
		fmt.Fprintf(progress, "asked partition %s/%d to move its leader from %d to %d\n", topic, p, from, to)
	}
	for {
		l, epoch, err := leader()
		if err != nil {
			return nil, err
		}
		if l == to {
			res.LeaderEpoch, res.Elapsed = epoch, time.Since(start).Round(time.Millisecond).String()
			return res, nil
		}
		// Raft drops a transfer whose target is not caught up within an
		// election timeout, so a transfer that has not happened is asked
		// for again.
		if time.Since(asked) >= transferRetry {
			if err := ask(); err == nil {
				asked = time.Now()
				fmt.Fprintf(progress, "asked again: leader is %d (epoch %d)\n", l, epoch)
			}
		}
		fmt.Fprintf(progress, "leader is %d (epoch %d), waiting for %d\n", l, epoch, to)
		select {
		case <-ctx.Done():
			return nil, failf(ErrInvalidInput, ctx.Err(), "broker %d did not become leader of %s/%d within --timeout (is it up and caught up?)", to, topic, p)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// transferRetry is how long TransferLeader waits before asking again.
const transferRetry = 3 * time.Second

func postTransfer(ctx context.Context, c *adminhttp.Client, addr, topic string, p, to int32) error {
	resp, err := c.Do(ctx, http.MethodPost, addr, fmt.Sprintf("/v1/topics/%s/partitions/%d/leader?to=%d", topic, p, to), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusAccepted {
		return nil
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return statusError(addr, resp)
	}
	var body struct{ Error string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return fmt.Errorf("%s: %s", addr, body.Error)
}

// WriteTable prints the outcome of a transfer.
func (r *LeaderTransfer) WriteTable(w io.Writer) error {
	_, err := fmt.Fprintf(w, "partition %s/%d: leader %d → %d (epoch %d) after %s\n", r.Topic, r.Partition, r.From, r.To, r.LeaderEpoch, r.Elapsed)
	return err
}
