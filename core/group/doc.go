// Package group is Chronik's consumer-group coordinator (Kafka's classic
// group protocol) on top of the coordinator shards (ARCHITECTURE.md §2).
//
// Group G lives on coordinator shard raftsm.CoordinatorShardID(G, N); the
// broker leading that shard coordinates it, every other broker answers
// ErrNotCoordinator. What is durable goes through the shard's Raft log and
// raftsm.Coordinator: committed offsets (answered only after the commit is
// applied), and each group's metadata (protocol, generation, leader,
// members with their assignments) whenever a generation completes or the
// group becomes empty. What is not durable lives in memory on the leader,
// as in Kafka's GroupCoordinator: the join and sync phases, waiting
// JoinGroup/SyncGroup calls, heartbeat deadlines and the timers that
// enforce session and rebalance timeouts.
//
// When this broker becomes a shard's leader it first applies everything
// earlier leaders committed (a ReadIndex barrier; until then requests get
// ErrLoadInProgress), then brings back every stored generation with
// members as Stable, with fresh session timers: members that are still
// alive keep heartbeating and keep their assignment; the others expire and
// the group rebalances. Losing leadership fails every waiting call with
// ErrNotCoordinator, so clients look the coordinator up again.
//
// Committed offsets are fetched under a read lease (core/readlease, kept
// by coordraft.Loop): a coordinator cut off from its peers stops answering
// OffsetFetch (ErrCoordinatorNotAvailable) before a successor can have
// acknowledged a commit, and a new coordinator acknowledges commits only
// readlease.Wait after it learned it leads (Config.ElectionTimeout).
//
// Offsets expire per offsets.retention.minutes through a command the
// leader proposes with its own clock (raftsm.EncodeExpireOffsets); the
// state machine never reads a clock.
//
// Transactional offsets (TxnOffsetCommit, txn.go) stay pending per
// producer in the shard until the transaction coordinator's marker for the
// group (EndTxnOffsets) commits or drops them.
//
// Concurrency: each group has its own mutex; JoinGroup and SyncGroup
// register a channel under it and wait outside it. Timer callbacks take the
// mutex and compare a sequence number so stale timers do nothing.
package group
