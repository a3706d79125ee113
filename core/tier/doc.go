// Package tier runs tiered storage on one broker (ARCHITECTURE.md §5): for
// every partition this broker leads whose topic sets remote.storage.enable,
// it rolls closed segments out of the local log into the object store
// (PUT, then a Raft-committed manifest entry), applies retention.ms/bytes
// and local.retention.ms/bytes through the partition's Raft shard, sweeps
// orphaned objects, serves reads and timestamp lookups below the local
// start from the store through a verified on-disk chunk cache, and gates
// produce at a local-disk watermark when uploads cannot keep up. It also
// applies retention.ms/bytes to partitions without remote storage, at
// batch granularity (retention.go).
//
// The object format is tiering/segment's; the manifest and the commands
// live in the partition state machine (raftsm/tiered.go). This package sits
// in core rather than tiering/ because it drives Raft proposals through the
// partition service and reads topic configs from the cluster view, which
// tiering/ must not import.
package tier
