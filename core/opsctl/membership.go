package opsctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/chronik-go/chronik/core/cluster"
)

// Membership commands (`chronik cluster add-node | remove-node | reassign |
// reassignments`) talk to the brokers' admin API only (docs/cli.md).

// adminDo sends one admin request to the first broker of a that answers,
// decoding a 2xx JSON body into out (may be nil).
func adminDo(ctx context.Context, a Admin, method, path string, body, out any) error {
	var lastErr error
	for _, addr := range a.Addrs {
		var rd io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				return err
			}
			rd = bytes.NewReader(b)
		}
		resp, err := a.HTTP.Do(ctx, method, addr, path, rd)
		if err != nil {
			lastErr = err
			continue
		}
		if resp.StatusCode == http.StatusUnauthorized {
			err := statusError(method+" "+path, resp)
			resp.Body.Close()
			return err // every broker has the same token
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			var e struct{ Error string }
			_ = json.Unmarshal(data, &e)
			if e.Error == "" {
				e.Error = resp.Status
			}
			if resp.StatusCode == http.StatusServiceUnavailable {
				lastErr = fmt.Errorf("%s: %s", addr, e.Error)
				continue // no meta leader seen from there: try another
			}
			return failf(ErrRejected, nil, "%s %s: %s", method, path, e.Error)
		}
		if out != nil {
			return json.Unmarshal(data, out)
		}
		return nil
	}
	return failf(ErrInvalidInput, lastErr, "no broker admin API answered (%s): %v", strings.Join(a.Addrs, ","), lastErr)
}

// only is a with addr as its one address.
func (a Admin) only(addr string) Admin { return Admin{Addrs: []string{addr}, HTTP: a.HTTP} }

// AllHTTPAddrs extends a's addresses with every registered broker's admin
// address (brokers added at runtime are not in the config file).
func AllHTTPAddrs(ctx context.Context, a Admin) Admin {
	var recs []cluster.BrokerRecord
	if err := adminDo(ctx, a, http.MethodGet, "/v1/brokers", nil, &recs); err != nil {
		return a
	}
	out := Admin{Addrs: slices.Clone(a.Addrs), HTTP: a.HTTP}
	for _, r := range recs {
		if r.HTTP != "" && !slices.Contains(out.Addrs, r.HTTP) {
			out.Addrs = append(out.Addrs, r.HTTP)
		}
	}
	return out
}

// AddNode is the result of `cluster add-node`.
type AddNode struct {
	Broker cluster.BrokerRecord `json:"broker"`
}

// WriteTable prints what was registered and what to do next.
func (r *AddNode) WriteTable(w io.Writer) error {
	_, err := fmt.Fprintf(w, "registered broker %d (kafka %s, raft %s, http %s, rack %q)\n"+
		"start it with the cluster's config file and its own addresses:\n"+
		"  chronik serve --config cluster.toml --node-id %d --kafka-addr %s --raft-addr %s --http-addr %s\n"+
		"then move partitions onto it with chronik cluster reassign\n",
		r.Broker.ID, r.Broker.Kafka, r.Broker.Raft, r.Broker.HTTP, r.Broker.Rack, r.Broker.ID, r.Broker.Kafka, r.Broker.Raft, r.Broker.HTTP)
	return err
}

// RegisterNode registers a broker through any broker's admin API.
func RegisterNode(ctx context.Context, a Admin, rec cluster.BrokerRecord) (*AddNode, error) {
	if rec.ID < 1 || rec.Kafka == "" || rec.Raft == "" {
		return nil, invalidf("add-node needs --id (>= 1), --kafka and --raft")
	}
	if err := adminDo(ctx, a, http.MethodPost, "/v1/brokers", rec, nil); err != nil {
		return nil, err
	}
	return &AddNode{Broker: rec}, nil
}

// Reassignments is the result of `cluster reassignments`.
type Reassignments struct {
	Reassignments []cluster.Reassignment `json:"reassignments"`
	Progress      []cluster.MoveProgress `json:"progress"`
}

type reassignmentsStatus struct {
	Node          int32                  `json:"node"`
	Reassignments []cluster.Reassignment `json:"reassignments"`
	Progress      []cluster.MoveProgress `json:"progress"`
}

// ListReassignments merges the moves (from any broker) with the progress
// reported by the brokers that lead them.
func ListReassignments(ctx context.Context, a Admin) (*Reassignments, error) {
	out := &Reassignments{Reassignments: []cluster.Reassignment{}, Progress: []cluster.MoveProgress{}}
	got := false
	var lastErr error
	for _, addr := range AllHTTPAddrs(ctx, a).Addrs {
		var st reassignmentsStatus
		if err := adminDo(ctx, a.only(addr), http.MethodGet, "/v1/reassignments", nil, &st); err != nil {
			lastErr = err
			continue
		}
		if !got {
			out.Reassignments, got = st.Reassignments, true
		}
		out.Progress = append(out.Progress, st.Progress...)
	}
	if !got {
		return nil, lastErr
	}
	return out, nil
}

// WriteTable prints one row per move with its progress.
func (r *Reassignments) WriteTable(w io.Writer) error {
	prog := map[string]cluster.MoveProgress{}
	for _, p := range r.Progress {
		prog[fmt.Sprintf("%s/%d", p.Topic, p.Partition)] = p
	}
	t := newTable(w, "TOPIC", "PARTITION", "REPLICAS", "TARGET", "ADDING", "REMOVING", "LEADER", "PHASE", "CAUGHT-UP(NODE:HW/LEADER-HW)")
	for _, m := range r.Reassignments {
		p, ok := prog[fmt.Sprintf("%s/%d", m.Topic, m.Partition)]
		leader, phase, caught := "?", "waiting for the partition leader", ""
		if ok {
			leader, phase = itoa(p.Leader), p.Phase
			var parts []string
			for _, n := range m.Adding {
				if hw, ok := p.ReplicaHW[n]; ok {
					parts = append(parts, fmt.Sprintf("%d:%d/%d", n, hw, p.LeaderHW))
				}
			}
			caught = strings.Join(parts, ",")
			if p.Error != "" {
				phase += " (" + p.Error + ")"
			}
		}
		t.row(m.Topic, itoa(m.Partition), ints(m.Replicas), ints(m.Target), ints(m.Adding), ints(m.Removing), leader, phase, caught)
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d partitions moving\n", len(r.Reassignments))
	return err
}

func ints(v []int32) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = itoa(x)
	}
	return strings.Join(s, ",")
}

// Reassign sets a partition's target replicas.
func Reassign(ctx context.Context, a Admin, topic string, p int32, replicas []int32) error {
	path := fmt.Sprintf("/v1/topics/%s/partitions/%d/reassign?replicas=%s", topic, p, ints(replicas))
	return adminDo(ctx, a, http.MethodPost, path, nil, nil)
}

// WaitReassignments waits until no move matches done's complement: it
// polls every 500ms, printing progress lines to progress, until pending
// returns false for every listed move.
func WaitReassignments(ctx context.Context, a Admin, pending func(cluster.Reassignment) bool, progress io.Writer) error {
	last := ""
	for {
		r, err := ListReassignments(ctx, a)
		if err == nil {
			n := 0
			for _, m := range r.Reassignments {
				if pending(m) {
					n++
				}
			}
			if n == 0 {
				return nil
			}
			var b strings.Builder
			_ = r.WriteTable(&b)
			if s := b.String(); s != last {
				fmt.Fprint(progress, s)
				last = s
			}
		}
		select {
		case <-ctx.Done():
			return failf(ErrInvalidInput, ctx.Err(), "moves still in progress when the wait ended; check chronik cluster reassignments")
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// RemoveNode is the result of `cluster remove-node`.
type RemoveNode struct {
	Broker  int32                  `json:"broker"`
	Moved   []cluster.Reassignment `json:"moved"`
	Elapsed string                 `json:"elapsed"`
}

// WriteTable summarises the decommission.
func (r *RemoveNode) WriteTable(w io.Writer) error {
	_, err := fmt.Fprintf(w, "broker %d decommissioned: %d partition replicas moved in %s; it can be stopped now, and its ID is never reused\n",
		r.Broker, len(r.Moved), r.Elapsed)
	return err
}

// Decommission moves every replica off broker id, waits for the moves
// (printing progress), then deregisters the broker.
func Decommission(ctx context.Context, a Admin, id int32, progress io.Writer) (*RemoveNode, error) {
	start := time.Now()
	a = AllHTTPAddrs(ctx, a)
	var plan cluster.DecommissionPlan
	if err := adminDo(ctx, a, http.MethodPost, fmt.Sprintf("/v1/brokers/%d/decommission", id), nil, &plan); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "moving %d partition replicas off broker %d\n", len(plan.Moves), id)
	involves := func(m cluster.Reassignment) bool {
		return slices.Contains(m.Replicas, id) || slices.Contains(m.Target, id)
	}
	if err := WaitReassignments(ctx, a, involves, progress); err != nil {
		return nil, err
	}
	for {
		err := adminDo(ctx, a, http.MethodDelete, fmt.Sprintf("/v1/brokers/%d", id), nil, nil)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(500 * time.Millisecond):
		}
	}
	return &RemoveNode{Broker: id, Moved: plan.Moves, Elapsed: time.Since(start).Round(time.Millisecond).String()}, nil
}
