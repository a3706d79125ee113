package kafka

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-go/chronik/core/batch"
	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/group"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/core/txn"
)

// errorMap is the one place where backend errors become Kafka error codes.
// Order matters only where one error could wrap another; the first match wins.
var errorMap = []struct {
	err  error
	code *kerr.Error
}{
	{cluster.ErrTopicExists, kerr.TopicAlreadyExists},
	{cluster.ErrUnknownTopic, kerr.UnknownTopicOrPartition},
	{cluster.ErrInvalidTopic, kerr.InvalidTopicException},
	{cluster.ErrInvalidPartitions, kerr.InvalidPartitions},
	{cluster.ErrInvalidReplication, kerr.InvalidReplicationFactor},
	{cluster.ErrInvalidConfig, kerr.InvalidConfig},
	{cluster.ErrNotController, kerr.NotController},
	{cluster.ErrInvalidReplicaAssignment, kerr.InvalidReplicaAssignment},
	{cluster.ErrNoReassignment, kerr.NoReassignmentInProgress},
	{cluster.ErrOldBrokers, kerr.UnsupportedVersion},

	{partition.ErrUnknownPartition, kerr.UnknownTopicOrPartition},
	{partition.ErrNotLeader, kerr.NotLeaderForPartition},
	{partition.ErrLeaderNotAvailable, kerr.LeaderNotAvailable},
	{partition.ErrTimeout, kerr.RequestTimedOut},
	// Backpressure: every client retries REQUEST_TIMED_OUT on produce and
	// fetch; THROTTLING_QUOTA_EXCEEDED is only understood by admin APIs.
	{partition.ErrBusy, kerr.RequestTimedOut},
	{partition.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
	{partition.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
	{partition.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
	{partition.ErrUnknownProducerID, kerr.UnknownProducerID},
	{partition.ErrInvalidTxnState, kerr.InvalidTxnState},
	// Kafka's answer when a produce's transaction cannot be verified:
	// retriable for every client.
	{partition.ErrTxnVerification, kerr.NotEnoughReplicas},
	{partition.ErrMessageTooLarge, kerr.MessageTooLarge},
	// Retriable: producers back off and retry once uploads catch up;
	// consumers of a corrupt tiered segment see it and get no data.
	{partition.ErrStorage, kerr.KafkaStorageError},
	// A stopping broker tells clients to go elsewhere: they refresh metadata
	// and find the new leader.
	{partition.ErrStopped, kerr.NotLeaderForPartition},
	{partition.ErrElectionNotNeeded, kerr.ElectionNotNeeded},
	{partition.ErrPreferredNotAvailable, kerr.PreferredLeaderNotAvailable},

	{batch.ErrCorrupt, kerr.CorruptMessage},
	{batch.ErrUnsupportedMagic, kerr.UnsupportedForMessageFormat},
	{batch.ErrInvalid, kerr.InvalidRecord},
	{batch.ErrTooLarge, kerr.MessageTooLarge},

	{group.ErrNotCoordinator, kerr.NotCoordinator},
	{group.ErrCoordinatorNotAvailable, kerr.CoordinatorNotAvailable},
	{group.ErrLoadInProgress, kerr.CoordinatorLoadInProgress},
	{group.ErrInvalidGroupID, kerr.InvalidGroupID},
	{group.ErrUnknownMember, kerr.UnknownMemberID},
	{group.ErrIllegalGeneration, kerr.IllegalGeneration},
	{group.ErrRebalanceInProgress, kerr.RebalanceInProgress},
	{group.ErrMemberIDRequired, kerr.MemberIDRequired},
	{group.ErrInconsistentProtocol, kerr.InconsistentGroupProtocol},
	{group.ErrInvalidSessionTimeout, kerr.InvalidSessionTimeout},
	{group.ErrFencedInstanceID, kerr.FencedInstanceID},
	{group.ErrGroupNotFound, kerr.GroupIDNotFound},
	{group.ErrNonEmptyGroup, kerr.NonEmptyGroup},
	{group.ErrGroupSubscribedToTopic, kerr.GroupSubscribedToTopic},
	{group.ErrOffsetMetadataTooLarge, kerr.OffsetMetadataTooLarge},
	{group.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
	{group.ErrInvalidRequest, kerr.InvalidRequest},
	{group.ErrInvalidRegex, kerr.InvalidRegularExpression},
	{group.ErrUnsupportedAssignor, kerr.UnsupportedAssignor},
	{group.ErrFencedMemberEpoch, kerr.FencedMemberEpoch},
	{group.ErrStaleMemberEpoch, kerr.StaleMemberEpoch},
	{group.ErrUnreleasedInstanceID, kerr.UnreleasedInstanceID},
	{group.ErrUnsupportedVersion, kerr.UnsupportedVersion},
	{group.ErrGroupMaxSizeReached, kerr.GroupMaxSizeReached},

	{txn.ErrNotCoordinator, kerr.NotCoordinator},
	{txn.ErrCoordinatorNotAvailable, kerr.CoordinatorNotAvailable},
	{txn.ErrLoadInProgress, kerr.CoordinatorLoadInProgress},
	{txn.ErrInvalidTransactionalID, kerr.InvalidRequest},
	{txn.ErrInvalidTransactionTimeout, kerr.InvalidTransactionTimeout},
	{txn.ErrConcurrentTransactions, kerr.ConcurrentTransactions},
	{txn.ErrProducerFenced, kerr.ProducerFenced},
	{txn.ErrInvalidProducerIDMapping, kerr.InvalidProducerIDMapping},
	{txn.ErrInvalidTxnState, kerr.InvalidTxnState},
	{txn.ErrTransactionalIDNotFound, kerr.TransactionalIDNotFound},

	{context.DeadlineExceeded, kerr.RequestTimedOut},
	// Canceled means the connection or the server is going away; nobody
	// reads the response, but it must still be well formed.
	{context.Canceled, kerr.RequestTimedOut},
}

// errCode maps a backend error to a Kafka error code: 0 for nil, and
// UNKNOWN_SERVER_ERROR (logged, rate-limited) for anything the backend
// contract does not name.
func (s *Server) errCode(api string, err error) int16 {
	if err == nil {
		return 0
	}
	for _, m := range errorMap {
		if errors.Is(err, m.err) {
			return m.code.Code
		}
	}
	s.warn("unexpected backend error, answering UNKNOWN_SERVER_ERROR", "api", api, "err", err)
	return kerr.UnknownServerError.Code
}

// errMessage is the ErrorMessage field for a failed operation: the backend's
// own text, which says what was wrong.
func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	msg := err.Error()
	return &msg
}
