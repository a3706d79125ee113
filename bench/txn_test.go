package bench

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txnRecords is the size of one transaction in BenchmarkTransactions.
const txnRecords = 100

// BenchmarkTransactions is transactional produce: one op is one committed
// transaction of 100 records of 256 B spread over 3 partitions (franz-go's
// transactional producer: BeginTransaction, produce, EndTransaction with
// commit, one after another), on one broker. Each commit costs the
// coordinator two Raft proposals (prepare, complete) and every partition a
// marker; kfake runs the same loop in the same run (x_kfake).
func BenchmarkTransactions(b *testing.B) {
	if probeRound(b) {
		return
	}
	ctx := benchContext(b)
	addr, _ := startChronik(b, nil)
	ours := runTxns(ctx, b, addr, b.N)
	b.ReportMetric(ours, "txns/s")
	b.ReportMetric(ours*txnRecords, "records/s")
	reportRatio(b, "kfake", ours, runTxns(ctx, b, startKfake(b), b.N), "txns/s")
}

// runTxns commits n transactions against addr and returns transactions/s.
func runTxns(ctx context.Context, b *testing.B, addr string, n int) float64 {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("bench"), kgo.DefaultProduceTopic("txn"),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	must(b, err)
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, "txn"); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 256)
	recs := make([]*kgo.Record, txnRecords)
	start := time.Now()
	for range n {
		must(b, cl.BeginTransaction())
		for i := range recs {
			recs[i] = &kgo.Record{Value: value}
		}
		must(b, cl.ProduceSync(ctx, recs...).FirstErr())
		must(b, cl.EndTransaction(ctx, kgo.TryCommit))
	}
	return float64(n) / time.Since(start).Seconds()
}
