// Package raftsm holds Chronik's Dragonboat state machines and their Pebble
// schema: the meta shard (topics, ID counters) and one partition shard per
// Kafka partition.
//
// Every state machine of a broker lives in one shared Pebble v2 instance
// (Store), its keys prefixed by the 8-byte big-endian shard ID. The Raft log
// is the only fsync'd write path: state-machine batches are applied with the
// WAL disabled and NoSync, each carrying the shard's applied index, and
// Sync() flushes the memtable so that everything applied so far is durable
// (ARCHITECTURE.md §3). After a crash, Open returns the last durable applied
// index and Dragonboat replays the rest of the log.
//
// A partition's record batches are the exception: they are appended to the
// partition's own files (batchfiles.go), and Pebble holds a reference to
// each; a flush fsyncs those files before it makes state durable.
//
// Update never returns an error for anything a client can send: rejected
// commands produce a status code in the Result. Commands are a compact binary
// encoding with a version byte (command.go).
package raftsm
