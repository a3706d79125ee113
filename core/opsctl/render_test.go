package opsctl_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/opsctl"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current output")

func ptr[T any](v T) *T { return &v }

// reports are one fixture per report type (two where a column appears
// only sometimes), rendered in both formats against testdata/NAME.table
// and testdata/NAME.json.
var reports = []namedReport{
	{"topic_create", &opsctl.CreatedTopic{
		Name: "orders", ID: "yrtRsvsbQz22mgyS4KwERg", PartitionCount: 3, ReplicationFactor: 1,
		Configs: map[string]string{"retention.ms": "86400000", "cleanup.policy": "delete"},
	}},
	{"topic_list", &opsctl.TopicList{Topics: []opsctl.TopicSummary{
		{Name: "__internal", ID: "", PartitionCount: 50, ReplicationFactor: 3, Internal: true},
		{Name: "audit", ID: "AAECAwQFBgcICQoLDA0ODw", PartitionCount: 1, ReplicationFactor: 3},
		{Name: "orders", ID: "yrtRsvsbQz22mgyS4KwERg", PartitionCount: 12, ReplicationFactor: 3},
	}}},
	{"topic_list_empty", &opsctl.TopicList{Topics: []opsctl.TopicSummary{}}},
	{"topic_describe", &opsctl.TopicDescription{
		Name: "orders", ID: "yrtRsvsbQz22mgyS4KwERg", PartitionCount: 2, ReplicationFactor: 3,
		Partitions: []opsctl.PartitionInfo{
			{Partition: 0, Leader: 1, LeaderEpoch: 4, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, OfflineReplicas: []int32{}, StartOffset: ptr[int64](0), EndOffset: ptr[int64](1200)},
			{Partition: 1, Leader: 2, LeaderEpoch: 7, Replicas: []int32{2, 3, 1}, ISR: []int32{2, 3}, OfflineReplicas: []int32{}, StartOffset: ptr[int64](100), EndOffset: ptr[int64](1100)},
		},
		Configs: []opsctl.ConfigEntry{
			{Name: "cleanup.policy", Value: ptr("delete"), Source: "default"},
			{Name: "retention.ms", Value: ptr("86400000"), Source: "set"},
			{Name: "sasl.secret", Source: "set", Sensitive: true},
		},
	}},
	{"topic_describe_errors", &opsctl.TopicDescription{
		Name: "orders", ID: "yrtRsvsbQz22mgyS4KwERg", PartitionCount: 2, ReplicationFactor: 1,
		Partitions: []opsctl.PartitionInfo{
			{Partition: 0, Leader: 1, LeaderEpoch: 4, Replicas: []int32{1}, ISR: []int32{1}, OfflineReplicas: []int32{}, StartOffset: ptr[int64](0), EndOffset: ptr[int64](5)},
			{Partition: 1, Leader: -1, LeaderEpoch: -1, Replicas: []int32{1}, ISR: []int32{}, OfflineReplicas: []int32{1}, Error: "LEADER_NOT_AVAILABLE: There is no leader for this topic-partition as we are in the middle of a leadership election."},
		},
		Configs: []opsctl.ConfigEntry{},
	}},
	{"topic_alter", &opsctl.AlteredTopic{
		Name: "orders",
		Configs: []opsctl.ConfigChange{
			{Name: "cleanup.policy", Action: "delete"},
			{Name: "retention.ms", Action: "set", Value: ptr("3600000")},
		},
		Partitions: &opsctl.PartitionChange{From: 3, To: 6},
	}},
	{"topic_alter_configs_only", &opsctl.AlteredTopic{
		Name:    "orders",
		Configs: []opsctl.ConfigChange{{Name: "retention.ms", Action: "set", Value: ptr("3600000")}},
	}},
	{"topic_delete", &opsctl.DeletedTopic{Name: "orders", ID: "yrtRsvsbQz22mgyS4KwERg", Deleted: true}},
	{"topic_producers", &opsctl.TopicProducers{
		Topic: "orders",
		Partitions: []opsctl.PartitionProducers{
			{Partition: 0, Producers: []opsctl.ProducerState{
				{ProducerID: 1000, Epoch: 0, LastSequence: 9, LastWrite: ptr(time.Date(2025, 3, 14, 9, 26, 53, 589e6, time.UTC))},
				{ProducerID: 1003, Epoch: 2, LastSequence: 41207, LastWrite: ptr(time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)), TxnStartOffset: ptr[int64](5120)},
			}},
			{Partition: 1, Producers: []opsctl.ProducerState{}},
			{Partition: 2, Producers: []opsctl.ProducerState{{ProducerID: 1000, Epoch: 0, LastSequence: -1}}},
		},
	}},
	{"topic_producers_errors", &opsctl.TopicProducers{
		Topic: "orders",
		Partitions: []opsctl.PartitionProducers{
			{Partition: 0, Producers: []opsctl.ProducerState{
				{ProducerID: 1000, Epoch: 1, LastSequence: 4, LastWrite: ptr(time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC))},
			}},
			{Partition: 1, Producers: []opsctl.ProducerState{}, Error: "NOT_LEADER_OR_FOLLOWER: The broker is not the leader for that topic-partition."},
		},
	}},
	{"topic_producers_none", &opsctl.TopicProducers{
		Topic: "orders",
		Partitions: []opsctl.PartitionProducers{
			{Partition: 0, Producers: []opsctl.ProducerState{}},
			{Partition: 2, Producers: []opsctl.ProducerState{}},
		},
	}},
	{"topic_producers_none_errors", &opsctl.TopicProducers{
		Topic: "orders",
		Partitions: []opsctl.PartitionProducers{
			{Partition: 0, Producers: []opsctl.ProducerState{}, Error: "broker 2: dial tcp 10.0.0.2:9092: connect: connection refused"},
			{Partition: 1, Producers: []opsctl.ProducerState{}},
		},
	}},
	{"cluster_set_feature", &opsctl.FeatureChange{Feature: "transaction.version", Level: 1, Previous: 2}},
	{"cluster_set_feature_dry_run", &opsctl.FeatureChange{Feature: "transaction.version", Level: 2, Previous: 1, DryRun: true}},
	{"group_list", &opsctl.GroupList{Groups: []opsctl.GroupSummary{
		{Name: "billing", Type: "classic", State: "Stable", ProtocolType: "consumer", Protocol: "cooperative-sticky", MemberCount: 2, Coordinator: 1},
		{Name: "payments", Type: "consumer", State: "Reconciling", ProtocolType: "consumer", Protocol: "uniform", MemberCount: 3, Coordinator: 3},
		{Name: "reports", Type: "classic", State: "Empty", ProtocolType: "consumer", Coordinator: 2},
	}}},
	{"group_describe_consumer", &opsctl.GroupDescription{
		Name: "payments", Type: "consumer", State: "Reconciling", ProtocolType: "consumer", Protocol: "uniform", Coordinator: 3,
		Epoch: 7, AssignmentEpoch: 7,
		Members: []opsctl.GroupMember{
			{
				MemberID: "hS1d7Rz0Qv2", ClientID: "payments", ClientHost: "/10.0.0.9", MemberEpoch: ptr[int32](6), Protocol: "classic",
				Assigned: []opsctl.TopicPartitions{{Topic: "orders", Partitions: []int32{0, 1}}},
				Target:   []opsctl.TopicPartitions{{Topic: "orders", Partitions: []int32{0}}},
			},
			{
				MemberID: "pQ9kX2b7LmA", ClientID: "payments", ClientHost: "/10.0.0.10", MemberEpoch: ptr[int32](7), Protocol: "consumer",
				Assigned: []opsctl.TopicPartitions{},
				Target:   []opsctl.TopicPartitions{{Topic: "orders", Partitions: []int32{1}}},
			},
		},
		Offsets: []opsctl.GroupOffset{
			{Topic: "orders", Partition: 0, CommittedOffset: ptr[int64](10), EndOffset: ptr[int64](12), Lag: ptr[int64](2), MemberID: "hS1d7Rz0Qv2", ClientID: "payments"},
			{Topic: "orders", Partition: 1, CommittedOffset: ptr[int64](4), EndOffset: ptr[int64](4), Lag: ptr[int64](0), MemberID: "hS1d7Rz0Qv2", ClientID: "payments"},
		},
		TotalLag: 2,
	}},
	{"group_describe", &opsctl.GroupDescription{
		Name: "billing", Type: "classic", State: "Stable", ProtocolType: "consumer", Protocol: "range", Coordinator: 1,
		Members: []opsctl.GroupMember{
			{
				MemberID: "billing-1-5f7c", InstanceID: ptr("billing-a"), ClientID: "billing", ClientHost: "/10.0.0.7",
				Assigned: []opsctl.TopicPartitions{{Topic: "orders", Partitions: []int32{0, 1}}, {Topic: "refunds", Partitions: []int32{0}}},
			},
			{
				MemberID: "billing-2-91aa", ClientID: "billing", ClientHost: "/10.0.0.8",
				Assigned: []opsctl.TopicPartitions{{Topic: "orders", Partitions: []int32{2}}},
			},
		},
		Offsets: []opsctl.GroupOffset{
			{Topic: "orders", Partition: 0, CommittedOffset: ptr[int64](1000), EndOffset: ptr[int64](1200), Lag: ptr[int64](200), MemberID: "billing-1-5f7c", ClientID: "billing"},
			{Topic: "orders", Partition: 1, CommittedOffset: ptr[int64](1100), EndOffset: ptr[int64](1100), Lag: ptr[int64](0), MemberID: "billing-1-5f7c", ClientID: "billing"},
			{Topic: "orders", Partition: 2, EndOffset: ptr[int64](40), Lag: ptr[int64](40), MemberID: "billing-2-91aa", ClientID: "billing"},
			{Topic: "refunds", Partition: 0, CommittedOffset: ptr[int64](7), EndOffset: ptr[int64](9), Lag: ptr[int64](2), MemberID: "billing-1-5f7c", ClientID: "billing"},
		},
		TotalLag: 242,
	}},
	{"group_describe_empty", &opsctl.GroupDescription{
		Name: "reports", Type: "classic", State: "Empty", ProtocolType: "consumer", Coordinator: 1,
		Members: []opsctl.GroupMember{},
		Offsets: []opsctl.GroupOffset{
			{Topic: "gone", Partition: 0, CommittedOffset: ptr[int64](5), Error: "UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition."},
			{Topic: "orders", Partition: 0, CommittedOffset: ptr[int64](5), EndOffset: ptr[int64](9), Lag: ptr[int64](4)},
		},
		TotalLag: 4,
	}},
	{"group_reset_plan", &opsctl.ResetPlan{
		Group: "billing", Topic: "orders", Strategy: "shift-by",
		Partitions: []opsctl.OffsetMove{
			{Topic: "orders", Partition: 0, CommittedOffset: ptr[int64](1000), NewOffset: 900},
			{Topic: "orders", Partition: 1, CommittedOffset: ptr[int64](50), NewOffset: 0, Note: "-50 is before the log start"},
		},
	}},
	{"group_reset_executed", &opsctl.ResetPlan{
		Group: "billing", Topic: "orders", Strategy: "to-earliest", Executed: true,
		Partitions: []opsctl.OffsetMove{
			{Topic: "orders", Partition: 0, CommittedOffset: ptr[int64](1000), NewOffset: 0},
			{Topic: "orders", Partition: 1, NewOffset: 0},
		},
	}},
	{"group_delete", &opsctl.DeletedGroup{Name: "billing", Deleted: true}},
	{"transaction_list", &opsctl.TransactionList{Transactions: []opsctl.TransactionSummary{
		{TransactionalID: "payments-1", State: "Ongoing", ProducerID: 1003, Coordinator: 2},
		{TransactionalID: "payments-2", State: "CompleteCommit", ProducerID: 1004, Coordinator: 1},
		{TransactionalID: "reports", State: "Empty", ProducerID: 1000, Coordinator: 3},
	}}},
	{"transaction_list_incomplete", &opsctl.TransactionList{
		Transactions: []opsctl.TransactionSummary{{TransactionalID: "payments-1", State: "PrepareAbort", ProducerID: 1003, Coordinator: 2}},
		Error:        "broker 3: COORDINATOR_LOAD_IN_PROGRESS: The coordinator is loading and hence can't process requests.",
	}},
	{"transaction_list_empty", &opsctl.TransactionList{Transactions: []opsctl.TransactionSummary{}}},
	{"transaction_list_none_matched", &opsctl.TransactionList{
		Transactions: []opsctl.TransactionSummary{},
		Filter:       opsctl.TxnFilter{States: []string{"Ongoing", "PrepareCommit"}, ProducerIDs: []int64{1003, 1004}},
	}},
	{"transaction_describe", &opsctl.TransactionDescriptions{Transactions: []opsctl.TransactionDescription{
		{
			TransactionalID: "payments-1", State: "Ongoing", ProducerID: 1003, ProducerEpoch: 2, TimeoutMs: 60000,
			StartTime: ptr(time.Date(2025, 3, 14, 9, 26, 53, 589e6, time.UTC)), OpenForMs: ptr[int64](133_400),
			Partitions:  []opsctl.TopicPartitions{{Topic: "orders", Partitions: []int32{0, 2}}, {Topic: "refunds", Partitions: []int32{1}}},
			Coordinator: 2,
		},
		{
			TransactionalID: "payments-2", State: "CompleteCommit", ProducerID: 1004, ProducerEpoch: 0, TimeoutMs: 900000,
			StartTime:  ptr(time.Date(2025, 3, 14, 9, 20, 0, 0, time.UTC)),
			Partitions: []opsctl.TopicPartitions{}, Coordinator: 1,
		},
	}}},
	{"transaction_describe_empty", &opsctl.TransactionDescriptions{Transactions: []opsctl.TransactionDescription{
		{TransactionalID: "reports", State: "Empty", ProducerID: 1000, TimeoutMs: 10000, Partitions: []opsctl.TopicPartitions{}, Coordinator: 3},
	}}},
	{"transaction_abort", &opsctl.AbortedTransaction{
		Topic: "orders", Partition: 0, ProducerID: 1003, ProducerEpoch: 2, TxnStartOffset: ptr[int64](5120), Outcome: opsctl.OutcomeAborted,
	}},
	{"transaction_abort_none_open", &opsctl.AbortedTransaction{
		Topic: "orders", Partition: 0, ProducerID: 1003, ProducerEpoch: 2, Outcome: opsctl.OutcomeNoneOpen,
	}},
}

// namedReport is one golden-file case: testdata/<name>.<format>.
type namedReport struct {
	name   string
	report opsctl.Report
}

func TestRenderGolden(t *testing.T) { renderGolden(t, reports, nil) }

// renderGolden prints every report in every format and compares it with
// its golden file: valid JSON (then checkJSON, if set, on the decoded
// value), and tables without trailing spaces.
func renderGolden(t *testing.T, cases []namedReport, checkJSON func(t *testing.T, name string, v any)) {
	t.Helper()
	for _, tt := range cases {
		for _, format := range opsctl.Formats {
			t.Run(tt.name+"/"+string(format), func(t *testing.T) {
				var buf bytes.Buffer
				if err := opsctl.Print(&buf, format, tt.report); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("testdata", tt.name+"."+string(format)), buf.Bytes())
				switch format {
				case opsctl.JSON:
					var v any
					if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
						t.Fatalf("invalid JSON: %v\n%s", err, &buf)
					}
					if checkJSON != nil {
						checkJSON(t, tt.name, v)
					}
				case opsctl.Table:
					for i, line := range strings.Split(buf.String(), "\n") {
						if strings.TrimRight(line, " ") != line {
							t.Errorf("line %d has trailing spaces: %q", i+1, line)
						}
					}
				}
			})
		}
	}
}

// TestJSONFieldNames guards the JSON interface: every key is snake_case.
func TestJSONFieldNames(t *testing.T) {
	for _, tt := range reports {
		var buf bytes.Buffer
		if err := opsctl.Print(&buf, opsctl.JSON, tt.report); err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		checkKeys(t, tt.name, v, tt.name == "topic_create")
	}
}

// checkKeys walks a decoded JSON value; free-form maps (topic configs)
// have config names as keys and are skipped.
func checkKeys(t *testing.T, path string, v any, skipConfigs bool) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if k != strings.ToLower(k) || strings.ContainsAny(k, "-. ") {
				t.Errorf("%s: key %q is not snake_case", path, k)
			}
			if skipConfigs && k == "configs" {
				continue
			}
			checkKeys(t, path+"."+k, child, skipConfigs)
		}
	case []any:
		for _, child := range v {
			checkKeys(t, path+"[]", child, skipConfigs)
		}
	}
}

// golden compares got with the file, or rewrites the file under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
