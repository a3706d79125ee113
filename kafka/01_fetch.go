package kafka

// Fetch, key 1: versions 4–18.
//
//   - v4–v12 address topics by name, v13+ by topic ID (UNKNOWN_TOPIC_ID when
//     the ID is not ours); response topics echo whichever the request used.
//     v17 and v18 only add replica-only tagged fields.
//   - Sessionless only (KIP-227): every response carries SessionID 0, which
//     tells the client no session was created, so it keeps sending full
//     requests (franz-go kills its session on SessionID 0). An incremental
//     request (SessionEpoch > 0) gets FETCH_SESSION_ID_NOT_FOUND; the client
//     then falls back to full requests. ForgottenTopics is ignored.
//   - Limits (KIP-74): each partition gets at most its PartitionMaxBytes and
//     the response at most MaxBytes, except that the first partition with
//     data may return one batch larger than both so the consumer progresses.
//   - Long poll: when fewer than MinBytes are available and MaxWaitMillis > 0,
//     the handler subscribes with Backend.Watch, reads again (an append
//     between the first read and the subscription is not missed), then
//     sleeps until new data, the deadline (MaxWaitMillis, capped at
//     maxFetchWait), server shutdown or connection close, and reads again.
//     It never busy-waits. A partition error answers at once.
//   - CurrentLeaderEpoch (v9+) is checked against the partition's Raft term
//     (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH).
//   - The leader answers under a read lease (Backend.ReadState and Read;
//     at most an election timeout, then LEADER_NOT_AVAILABLE): one elected
//     moments ago once it has applied what its predecessors committed, one
//     cut off from its peers never after a successor may have acknowledged
//     records, so its high watermark is never below an acknowledged
//     offset. Each round of reads first starts the lease confirmations of
//     all its partitions at once (Backend.PrepareReads). The high
//     watermark is taken after the records, so none returned is at or
//     past it.
//   - Partitions without data (errors included) carry an empty record set,
//     never null: librdkafka cannot parse null.
//   - Follower fetching (KIP-392, v11+): with a Rack in the request, the
//     leader answers a partition whose preferred read replica (a replica
//     in the client's rack, Backend.PreferredReadReplica) is another broker
//     with PreferredReadReplica set and no records; that broker then serves
//     the client from its follower replica after a ReadIndex
//     (Backend.ReadFollower).
//   - Transactions: LastStableOffset is the first offset of the earliest
//     open transaction (the high watermark when none is open). With
//     IsolationLevel 1 (read_committed) a partition's records stop before it
//     (whole batches: a transaction's first batch starts there), and
//     AbortedTransactions lists the aborted transactions overlapping the
//     records returned, so the client drops their records; the control
//     batches (markers) are returned as stored, as Kafka does.
//     LastFetchedEpoch (no DivergingEpoch) is not used yet.
//   - With ACLs (authz.go), a topic needs READ: TOPIC_AUTHORIZATION_FAILED
//     otherwise, before its existence is told.
//   - Quotas (quotas.go): the records' bytes count against the client's
//     consumer_byte_rate; over it, ThrottleMillis says for how long the
//     connection is not read.
//   - v16+: a partition answered NOT_LEADER_OR_FOLLOWER carries the KIP-951
//     leader hint (CurrentLeader, Brokers; leaderhints.go).

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/batch"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/core/quota"
)

// maxFetchWait caps MaxWaitMillis so a fetch always answers well before any
// client's request timeout.
const maxFetchWait = 30 * time.Second

// noRecords is the records field of a partition without data: empty, never
// null. Kafka always sends a zero-length record set, and librdkafka rejects
// null ("invalid MessageSetSize -1") and retries forever.
var noRecords = []byte{}

// fetchPartition is one readable partition of a fetch.
type fetchPartition struct {
	tp           partition.TP
	offset       int64
	maxBytes     int32
	currentEpoch int32
	follower     bool // served by this broker's follower replica (KIP-392)
	out          *kmsg.FetchResponseTopicPartition
}

func handleFetch(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.FetchRequest)
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	resp.SessionID = 0
	if req.Version >= 7 && req.SessionEpoch > 0 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp
	}

	var (
		parts      []fetchPartition
		topicError bool // some partition already failed: answer at once
	)
	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		*st = kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID

		var topicCode int16
		name := rt.Topic
		if req.Version >= 13 {
			if t, ok := s.backend.TopicByID(rt.TopicID); ok {
				name = t.Name
			} else {
				topicCode = kerr.UnknownTopicID.Code
			}
		}
		switch {
		case topicCode != 0:
		case !s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, name):
			topicCode = kerr.TopicAuthorizationFailed.Code
		case req.Version < 13:
			if _, ok := s.backend.Topic(rt.Topic); !ok {
				topicCode = kerr.UnknownTopicOrPartition.Code
			}
		}

		st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			*sp = kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark = -1
			sp.RecordBatches = noRecords
			if topicCode != 0 {
				sp.ErrorCode = topicCode
				topicError = true
				continue
			}
			currentEpoch := int32(-1)
			if req.Version >= 9 {
				currentEpoch = rp.CurrentLeaderEpoch
			}
			tp := partition.TP{Topic: name, Partition: rp.Partition}
			follower := false
			if req.Version >= 11 && req.Rack != "" {
				switch pref := s.backend.PreferredReadReplica(tp, req.Rack); {
				case pref < 0:
				case pref == s.backend.NodeID():
					follower = true
				default:
					if st, err := s.backend.PartitionState(tp); err == nil && st.Leader != pref {
						sp.PreferredReadReplica = pref
						continue
					}
				}
			}
			parts = append(parts, fetchPartition{
				tp:           tp,
				offset:       rp.FetchOffset,
				maxBytes:     rp.PartitionMaxBytes,
				currentEpoch: currentEpoch,
				follower:     follower,
				out:          sp,
			})
		}
	}

	if req.Version >= 16 {
		defer s.addFetchHints(resp, parts) // on whichever answer is returned
	}
	defer s.throttleFetch(r, resp)
	committed := req.IsolationLevel == 1
	tps := make([]partition.TP, len(parts))
	for i := range parts {
		tps[i] = parts[i].tp
	}
	total, failed := s.readFetch(ctx, parts, tps, req.MaxBytes, committed)
	wait := time.Duration(req.MaxWaitMillis) * time.Millisecond
	if wait <= 0 || len(parts) == 0 || topicError || failed || total >= int(req.MinBytes) {
		return resp
	}
	// Long poll. Subscribe, then read again, so that no append between the
	// first read and the subscription goes unnoticed. A fetch that finds
	// data at once (a consumer catching up) never subscribes.
	wake, stop := s.backend.Watch(tps)
	defer stop()
	total, failed = s.readFetch(ctx, parts, tps, req.MaxBytes, committed)
	if failed || total >= int(req.MinBytes) {
		return resp
	}
	// Ends at the deadline or when the connection fails.
	deadline := r.conn.startWait(min(wait, maxFetchWait))
	defer deadline.release()
	for {
		select {
		case <-wake:
		case <-deadline.Done():
			return resp
		case <-ctx.Done():
			return resp
		case <-s.stopping:
			return resp
		}
		total, failed = s.readFetch(ctx, parts, tps, req.MaxBytes, committed)
		if failed || total >= int(req.MinBytes) {
			return resp
		}
	}
}

// readFetch reads every partition into its response entry (overwriting what
// a previous round put there) and returns the bytes read and whether any
// partition failed. committed reads stop at the last stable offset. tps
// are the parts' partitions.
func (s *Server) readFetch(ctx context.Context, parts []fetchPartition, tps []partition.TP, maxBytes int32, committed bool) (total int, failed bool) {
	ctx = s.backend.PrepareReads(ctx, tps)
	budget := int(maxBytes)
	self := s.backend.NodeID()
	for i := range parts {
		p := &parts[i]
		out := p.out
		out.ErrorCode = 0
		out.RecordBatches = noRecords
		out.AbortedTransactions = nil

		if p.currentEpoch >= 0 && !p.follower {
			st, err := s.backend.ReadState(ctx, p.tp)
			if err == nil {
				out.ErrorCode = leaderCheck(st, self, p.currentEpoch)
			} else {
				out.ErrorCode = s.errCode("Fetch", err)
			}
			if out.ErrorCode != 0 {
				failed = true
				continue
			}
		}

		limit := min(int(p.maxBytes), budget-total)
		if total > 0 && limit <= 0 {
			// The response is full: report the offsets only.
			st, err := s.backend.ReadState(ctx, p.tp)
			if err != nil {
				out.ErrorCode = s.errCode("Fetch", err)
				failed = true
				continue
			}
			out.HighWatermark, out.LastStableOffset, out.LogStartOffset = st.HighWatermark, st.LastStableOffset, st.LogStartOffset
			continue
		}
		var (
			res partition.ReadResult
			err error
		)
		if p.follower {
			res, err = s.backend.ReadFollower(ctx, p.tp, p.offset, int32(max(limit, 0)))
		} else {
			res, err = s.backend.Read(ctx, p.tp, p.offset, int32(max(limit, 0)))
		}
		if err != nil {
			out.ErrorCode = s.errCode("Fetch", err)
			failed = true
			continue
		}
		out.HighWatermark, out.LastStableOffset, out.LogStartOffset = res.HighWatermark, res.LastStableOffset, res.LogStartOffset
		if committed {
			var end int64
			res.Records, end = batchesBelow(res.Records, res.LastStableOffset)
			if len(res.Records) > 0 {
				aborted, err := s.backend.AbortedTxns(p.tp, p.offset, end)
				if err != nil {
					out.ErrorCode = s.errCode("Fetch", err)
					failed = true
					continue
				}
				out.AbortedTransactions = abortedTransactions(aborted)
			}
		}
		if total > 0 && len(res.Records) > limit {
			// Only the first partition with data may exceed the limits.
			continue
		}
		if len(res.Records) > 0 {
			out.RecordBatches = res.Records
		}
		total += len(res.Records)
	}
	return total, failed
}

// batchesBelow returns the leading batches of records whose base offset is
// below limit, and the offset after the last one kept.
func batchesBelow(records []byte, limit int64) ([]byte, int64) {
	n, end := 0, int64(0)
	for n+batch.HeaderSize <= len(records) {
		base := int64(binary.BigEndian.Uint64(records[n:]))
		size := 12 + int(int32(binary.BigEndian.Uint32(records[n+8:])))
		if base >= limit || size < batch.HeaderSize || n+size > len(records) {
			break
		}
		end = base + int64(int32(binary.BigEndian.Uint32(records[n+23:]))) + 1
		n += size
	}
	return records[:n], end
}

// abortedTransactions converts to the response's entries.
func abortedTransactions(a []partition.AbortedTxn) []kmsg.FetchResponseTopicPartitionAbortedTransaction {
	out := make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, len(a))
	for i := range a {
		out[i] = kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		out[i].ProducerID, out[i].FirstOffset = a[i].ProducerID, a[i].FirstOffset
	}
	return out
}

// throttleFetch counts resp's records against r's consumer_byte_rate.
func (s *Server) throttleFetch(r *request, resp *kmsg.FetchResponse) {
	n := 0
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			n += len(resp.Topics[i].Partitions[j].RecordBatches)
		}
	}
	resp.ThrottleMillis = s.throttle(r, quota.ConsumerByteRate, n)
}
