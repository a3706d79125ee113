package opsctl

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/tier"
)

// Tier status (`chronik tier status`) reads the brokers' admin API only:
// GET /v1/tier on every broker reports the tiered-storage state of each of
// its local replicas, and this file merges those into one row per partition.

// TierNodeStatus is one broker's answer to GET /v1/tier (core/broker's
// TierStatus; opsctl does not import the broker, so the envelope is
// restated here and cmd/chronik's integration test checks that the two
// agree; the partitions are core/tier's own type).
type TierNodeStatus struct {
	Node       int32         `json:"node"`
	Store      string        `json:"store"`
	Partitions []TierReplica `json:"partitions"`
}

// TierReplica is one replica's tiered-storage state as its broker reports
// it. Only the leader's upload state (lag, last upload, last error) is
// current: followers do not upload.
type TierReplica = tier.PartitionStatus

// FetchTierStatus reads one broker's GET /v1/tier.
func FetchTierStatus(ctx context.Context, c *adminhttp.Client, addr string) (TierNodeStatus, error) {
	var st TierNodeStatus
	resp, err := c.Do(ctx, http.MethodGet, addr, "/v1/tier", nil)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return st, fmt.Errorf("GET /v1/tier: %s (is the broker older than tiered storage?)", resp.Status)
	case resp.StatusCode != http.StatusOK:
		return st, statusError("GET /v1/tier", resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("GET /v1/tier: decoding the answer: %w", err)
	}
	return st, nil
}

// TierStatusOptions selects the partitions `tier status` shows.
type TierStatusOptions struct {
	// Topics limits the report to these topics, tiered or not. Empty means
	// every topic that is tiered (see All).
	Topics []string
	// All includes topics without remote.storage.enable that have nothing
	// in the object store. Without it, only partitions with
	// remote.storage.enable or with remote segments are shown.
	All bool
}

// TierReport is the result of `tier status`.
type TierReport struct {
	// TakenAt is when the brokers were asked (this machine's clock); the
	// table shows ages relative to it.
	TakenAt    time.Time       `json:"taken_at"`
	Nodes      []TierNode      `json:"nodes"`
	Partitions []TierPartition `json:"partitions"`
}

// TierNode is one broker as its admin API answered.
type TierNode struct {
	Node  int32  `json:"node"` // -1 when unreachable
	HTTP  string `json:"http"`
	Up    bool   `json:"up"`
	Store string `json:"store"` // the object store it tiers to; empty when tiering is off
	Error string `json:"error,omitempty"`
}

// TierPartition is one partition: the row of the broker that leads it,
// else (no answering broker leads it) the most advanced replica's row.
// Offsets are Kafka offsets; ranges are half-open.
type TierPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Leader is the broker that reported itself leader, -1 when none of the
	// answering brokers leads the partition.
	Leader int32 `json:"leader"`
	// ReportedBy is the broker whose row this is (the leader when known).
	ReportedBy int32 `json:"reported_by"`
	Remote     bool  `json:"remote_storage_enable"`
	// LogStart..HighWatermark is readable; LocalStart..HighWatermark is on
	// the leader's disk; RemoteStart..TieredEnd is in the object store, and
	// reads below LocalStart are served from there.
	LogStart         int64   `json:"log_start_offset"`
	LocalStart       int64   `json:"local_start_offset"`
	RemoteStart      int64   `json:"remote_start_offset"` // -1 when nothing is tiered
	TieredEnd        int64   `json:"tiered_end_offset"`
	HighWatermark    int64   `json:"high_watermark"`
	Segments         int     `json:"remote_segments"`
	RemoteBytes      int64   `json:"remote_bytes"`
	LocalBytes       int64   `json:"local_bytes"`
	UploadLagBytes   int64   `json:"upload_lag_bytes"`
	UploadLagSeconds float64 `json:"upload_lag_seconds"`
	// HeldAt is the first offset of the partition's earliest open
	// transaction: tiering does not pass it (null when none is open).
	HeldAt      *int64     `json:"held_by_transaction_at,omitempty"`
	LastUpload  *time.Time `json:"last_upload"` // null when its broker uploaded none since it started
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// TierStatus asks every broker (a's and the brokers registered at
// runtime) for GET /v1/tier, in parallel, and merges the answers into one
// row per partition. Brokers that do not answer are listed with their
// error; it fails only when none answers, or when a topic of opts.Topics
// has no replica on any answering broker.
func TierStatus(ctx context.Context, a Admin, opts TierStatusOptions) (*TierReport, error) {
	for _, t := range opts.Topics {
		if err := checkName("topic", t); err != nil {
			return nil, err
		}
	}
	a = AllHTTPAddrs(ctx, a)
	addrs := a.Addrs
	answers := make([]TierNodeStatus, len(addrs))
	errs := make([]error, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Go(func() { answers[i], errs[i] = FetchTierStatus(ctx, a.HTTP, addr) })
	}
	wg.Wait()

	out := &TierReport{TakenAt: time.Now().UTC(), Nodes: []TierNode{}, Partitions: []TierPartition{}}
	var answered []TierNodeStatus
	var lastErr error
	seen := map[int32]bool{}
	for i, addr := range addrs {
		if errs[i] != nil {
			lastErr = errs[i]
			out.Nodes = append(out.Nodes, TierNode{Node: -1, HTTP: addr, Error: errs[i].Error()})
			continue
		}
		st := answers[i]
		if seen[st.Node] {
			continue // the same broker under a second address
		}
		seen[st.Node] = true
		answered = append(answered, st)
		out.Nodes = append(out.Nodes, TierNode{Node: st.Node, HTTP: addr, Up: true, Store: st.Store})
	}
	if len(answered) == 0 {
		if errors.Is(lastErr, ErrRejected) {
			return nil, lastErr // they answered: the token or TLS is missing
		}
		return nil, failf(ErrUnreachable, lastErr, "no broker admin API answered GET /v1/tier (%s): %v\nname the brokers' HTTP addresses with --http-addr host:port[,…] or --config cluster.toml",
			strings.Join(addrs, ","), lastErr)
	}
	// Answering brokers by ID, then the unreachable ones in address order.
	slices.SortStableFunc(out.Nodes, func(a, b TierNode) int {
		switch {
		case a.Up && !b.Up:
			return -1
		case !a.Up && b.Up:
			return 1
		case !a.Up:
			return 0
		}
		return cmp.Compare(a.Node, b.Node)
	})

	named := map[string]bool{} // topic → seen
	for _, t := range opts.Topics {
		named[t] = false
	}
	for _, p := range mergeTierReplicas(answered) {
		if _, ok := named[p.Topic]; ok {
			named[p.Topic] = true
		} else if len(named) > 0 || (!opts.All && !p.Remote && p.Segments == 0) {
			continue
		}
		out.Partitions = append(out.Partitions, p)
	}
	for _, t := range opts.Topics {
		if !named[t] {
			down := ""
			if n := len(out.Nodes) - len(answered); n > 0 {
				down = fmt.Sprintf(" (%d of the brokers did not answer)", n)
			}
			return nil, invalidf("no answering broker has a replica of topic %q%s — `chronik topic list` shows the topics", t, down)
		}
	}
	return out, nil
}

// mergeTierReplicas keeps one row per partition, sorted by topic and
// partition: the leader's (the lowest node ID if, mid-election, two claim
// it), else the replica that has seen the most tiered.
func mergeTierReplicas(nodes []TierNodeStatus) []TierPartition {
	slices.SortFunc(nodes, func(a, b TierNodeStatus) int { return cmp.Compare(a.Node, b.Node) })
	type tp struct {
		topic string
		p     int32
	}
	type pick struct {
		node int32
		r    TierReplica
	}
	best := map[tp]pick{}
	for _, n := range nodes {
		for _, r := range n.Partitions {
			k := tp{r.Topic, r.Partition}
			cur, ok := best[k]
			if !ok || (r.Leader && !cur.r.Leader) || (!r.Leader && !cur.r.Leader && r.TieredEnd > cur.r.TieredEnd) {
				best[k] = pick{n.Node, r}
			}
		}
	}
	out := make([]TierPartition, 0, len(best))
	for _, b := range best {
		r := b.r
		p := TierPartition{
			Topic: r.Topic, Partition: r.Partition, Leader: -1, ReportedBy: b.node, Remote: r.Remote,
			LogStart: r.LogStart, LocalStart: r.LocalStart, RemoteStart: r.RemoteStart, TieredEnd: r.TieredEnd,
			HighWatermark: r.HighWatermark, Segments: r.Segments, RemoteBytes: r.RemoteBytes, LocalBytes: r.LocalBytes,
			UploadLagBytes: r.UploadLagBytes, UploadLagSeconds: r.UploadLagSeconds, HeldAt: r.HeldAt, LastError: r.LastError,
		}
		if r.Leader {
			p.Leader = b.node
		}
		if !r.LastUpload.IsZero() {
			p.LastUpload = &r.LastUpload
		}
		if !r.LastErrorAt.IsZero() {
			p.LastErrorAt = &r.LastErrorAt
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b TierPartition) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out
}

// WriteTable prints the brokers and their stores, one row per partition,
// then a summary line.
func (r *TierReport) WriteTable(w io.Writer) error {
	return sections(w,
		func(w io.Writer) error {
			t := newTable(w, "NODE", "HTTP", "STORE", "ERROR")
			for _, n := range r.Nodes {
				node, store := "?", n.Store
				if n.Node >= 0 {
					node = itoa(n.Node)
					if store == "" {
						store = "(tiering off)"
					}
				}
				t.row(node, n.HTTP, store, n.Error)
			}
			return t.flush()
		},
		func(w io.Writer) error {
			t := newTable(w, "TOPIC", "PARTITION", "LEADER", "LOG-START", "LOCAL-START", "REMOTE-RANGE", "HW",
				"SEGMENTS", "REMOTE", "LOCAL", "LAG", "LAST-UPLOAD", "LAST-ERROR")
			for _, p := range r.Partitions {
				leader := "?"
				if p.Leader >= 0 {
					leader = itoa(p.Leader)
				}
				remoteRange := ""
				if p.RemoteStart >= 0 && p.TieredEnd > p.RemoteStart {
					remoteRange = fmt.Sprintf("%d-%d", p.RemoteStart, p.TieredEnd-1)
				}
				lag := ""
				if p.Remote {
					lag = humanBytes(p.UploadLagBytes)
					switch {
					case p.UploadLagBytes == 0:
					case p.Leader < 0:
						lag += " / ?" // only the leader knows how long data has waited
					default:
						lag += " / " + seconds(p.UploadLagSeconds)
					}
					if p.HeldAt != nil && p.UploadLagBytes > 0 {
						lag += fmt.Sprintf(" (held at %d by an open transaction)", *p.HeldAt)
					}
				}
				lastUpload, lastErr := "", p.LastError
				if p.LastUpload != nil {
					lastUpload = r.ago(*p.LastUpload)
				}
				if lastErr != "" && p.LastErrorAt != nil {
					lastErr += " (" + r.ago(*p.LastErrorAt) + ")"
				}
				t.row(p.Topic, itoa(p.Partition), leader, itoa(p.LogStart), itoa(p.LocalStart), remoteRange, itoa(p.HighWatermark),
					itoa(p.Segments), humanBytes(p.RemoteBytes), humanBytes(p.LocalBytes), lag, lastUpload, lastErr)
			}
			return t.flush()
		},
		func(w io.Writer) error {
			var lag int64
			var failing, down int
			for _, p := range r.Partitions {
				lag += p.UploadLagBytes
				if p.LastError != "" {
					failing++
				}
			}
			for _, n := range r.Nodes {
				if !n.Up {
					down++
				}
			}
			line := fmt.Sprintf("%d partitions, %s not yet uploaded, %d with an error", len(r.Partitions), humanBytes(lag), failing)
			if down > 0 {
				line += fmt.Sprintf(", %d of %d brokers not answering", down, len(r.Nodes))
			}
			if len(r.Partitions) == 0 {
				line += "\nenable tiering on a topic with: chronik topic alter TOPIC --config remote.storage.enable=true"
			}
			_, err := fmt.Fprintln(w, line)
			return err
		},
	)
}

// ago shows how long before the report t was, e.g. "12s ago".
func (r *TierReport) ago(t time.Time) string {
	return seconds(max(0, r.TakenAt.Sub(t).Seconds())) + " ago"
}

// seconds shows a duration in whole seconds the way Go does: 0s, 42s, 1h2m3s.
func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

// humanBytes shows a size in binary units with one decimal: 512 B, 12.0 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
