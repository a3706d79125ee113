package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/txn"
)

// Txns is the transaction coordinator the transaction APIs call
// (FindCoordinator for transaction keys, InitProducerId with a
// transactional ID, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
// DescribeTransactions, ListTransactions; TxnOffsetCommit goes to Groups).
// core/txn implements it; errors are txn.Err* values, possibly wrapped. A
// nil Config.Txns answers all of them with COORDINATOR_NOT_AVAILABLE.
type Txns interface {
	// Coordinator returns the broker that coordinates the transactional ID.
	Coordinator(txnID string) (node int32, err error)
	// InitProducerID returns the transactional ID's producer ID and its
	// bumped epoch; pid and epoch are the caller's (-1 when absent).
	InitProducerID(ctx context.Context, txnID string, timeoutMs int32, pid int64, epoch int16) (int64, int16, error)
	AddPartitions(ctx context.Context, txnID string, pid int64, epoch int16, tps []txn.TopicPartition) error
	AddOffsets(ctx context.Context, txnID string, pid int64, epoch int16, group string) error
	// AddGroup is AddOffsets for a TxnOffsetCommit v5+ (KIP-890 part 2,
	// whose clients send no AddOffsetsToTxn): the transactional ID's
	// coordinator may be another broker.
	AddGroup(ctx context.Context, txnID string, pid int64, epoch int16, group string) error
	// EndTxn returns once the outcome is durable (and, normally, its
	// markers written). With bump (EndTxn v5+) it bumps the producer's
	// epoch (KIP-890 part 2) when the cluster can, and returns the
	// producer ID and epoch to go on with; -1, -1 when it did not bump.
	EndTxn(ctx context.Context, txnID string, pid int64, epoch int16, commit, bump bool) (int64, int16, error)
	// TransactionVersion is the transaction.version feature level
	// ApiVersions finalizes (2 once every broker runs KIP-890 part 2 and
	// the operator allows it, else 0 or 1) and the features' epoch (-1
	// when nothing was ever finalized).
	TransactionVersion() (level int16, epoch int64)
	// SetTransactionVersion finalizes transaction.version at level for
	// the whole cluster (UpdateFeatures); the caller validated it.
	SetTransactionVersion(ctx context.Context, level int16) error
	// DescribeTransaction fails with txn.ErrTransactionalIDNotFound for an
	// unknown ID.
	DescribeTransaction(ctx context.Context, txnID string) (txn.Description, error)
	// ListTransactions lists the transactional IDs this broker
	// coordinates; with txn.ErrLoadInProgress it still returns what it
	// could list.
	ListTransactions(ctx context.Context, f txn.ListFilter) ([]txn.Listing, error)
}

// noTxns stands in for a nil Config.Txns.
type noTxns struct{}

var errNoTxns = txn.ErrCoordinatorNotAvailable

func (noTxns) Coordinator(string) (int32, error) { return -1, errNoTxns }
func (noTxns) InitProducerID(context.Context, string, int32, int64, int16) (int64, int16, error) {
	return -1, -1, errNoTxns
}

func (noTxns) AddPartitions(context.Context, string, int64, int16, []txn.TopicPartition) error {
	return errNoTxns
}
func (noTxns) AddOffsets(context.Context, string, int64, int16, string) error { return errNoTxns }
func (noTxns) AddGroup(context.Context, string, int64, int16, string) error   { return errNoTxns }
func (noTxns) EndTxn(context.Context, string, int64, int16, bool, bool) (int64, int16, error) {
	return -1, -1, errNoTxns
}
func (noTxns) TransactionVersion() (int16, int64)                 { return 0, -1 }
func (noTxns) SetTransactionVersion(context.Context, int16) error { return errNoTxns }
func (noTxns) DescribeTransaction(context.Context, string) (txn.Description, error) {
	return txn.Description{}, errNoTxns
}

func (noTxns) ListTransactions(context.Context, txn.ListFilter) ([]txn.Listing, error) {
	return nil, errNoTxns
}

// txnErrCode maps a transaction coordinator error for a request version:
// PRODUCER_FENCED exists from InitProducerId v4, AddPartitionsToTxn v2,
// AddOffsetsToTxn v2 and EndTxn v2 on (KIP-588); older clients get
// INVALID_PRODUCER_EPOCH, as Kafka answers them.
func (s *Server) txnErrCode(api string, err error, version, fencedFrom int16) int16 {
	code := s.groupErrCode(api, err)
	if code == kerr.ProducerFenced.Code && version < fencedFrom {
		return kerr.InvalidProducerEpoch.Code
	}
	return code
}

// txnsErrorCode is firstErrorCode for the transaction APIs' responses.
func txnsErrorCode(resp kmsg.Response) (int16, bool) {
	switch resp := resp.(type) {
	case *kmsg.AddPartitionsToTxnResponse:
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return p.ErrorCode, true
				}
			}
		}
		return 0, true
	case *kmsg.AddOffsetsToTxnResponse:
		return resp.ErrorCode, true
	case *kmsg.EndTxnResponse:
		return resp.ErrorCode, true
	case *kmsg.TxnOffsetCommitResponse:
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return p.ErrorCode, true
				}
			}
		}
		return 0, true
	case *kmsg.DescribeTransactionsResponse:
		for _, t := range resp.TransactionStates {
			if t.ErrorCode != 0 {
				return t.ErrorCode, true
			}
		}
		return 0, true
	case *kmsg.ListTransactionsResponse:
		return resp.ErrorCode, true
	}
	return 0, false
}

var _ Txns = noTxns{}
