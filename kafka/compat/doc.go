// Package compat is Chronik's client-compatibility matrix: end-to-end tests
// (build tag e2e) that run the built chronik binary as a process and drive it
// with eight real Kafka clients — franz-go, sarama at three protocol
// versions, segmentio/kafka-go, confluent-kafka-go, kcat, KafkaJS,
// @platformatic/kafka and @confluentinc/kafka-javascript — through topic
// creation, idempotent and compressed produce, and a consumer group that
// commits and resumes; the clients that speak KIP-848's consumer group
// protocol (franz-go, both librdkafka clients, @platformatic/kafka) also
// read everything in such a group and commit. The broker runs with ACLs on and everything no ACL
// names allowed, and each client must also see a produce to a topic an ACL
// denies fail with an authorization error (denied_e2e_test.go). Each client
// also writes keys and tombstones to a compacted topic and, once the
// broker's log cleaner has compacted it, reads back exactly the latest
// record of each live key across the offset gaps, and sees a record without
// a key refused (compacted_e2e_test.go). Each client with a transactional
// producer commits, aborts and commits a transaction, and its read_committed
// consumer must deliver exactly the committed records, with franz-go
// finding the aborted ones and the markers in the log; where the client's
// API allows, an aborted transaction's offset commit must not stick
// (txn_e2e_test.go). The run generates docs/clients.md.
//
// The Node.js clients live in node/ (one script per client, installed with
// npm ci by install.sh, which also apt-get installs kcat and the libraries
// the native clients build against). The package has no non-test code.
package compat
