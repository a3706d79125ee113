// Package kafka is Chronik's Kafka wire-protocol front end. It owns the TCP
// listener, request framing, header parsing, per-connection request
// pipelining, dispatch to one handler per API key (00_produce.go,
// 01_fetch.go, …), the mapping of backend errors to Kafka error codes
// (errors.go) and the per-request metrics. Every request and response is
// encoded and decoded with github.com/twmb/franz-go/pkg/kmsg; nothing here
// hand-rolls the Kafka codec. The package knows nothing about Raft or Pebble:
// it reaches the node only through the Backend interface (backend.go).
//
// # Pipeline
//
// A connection has one reader goroutine and one writer goroutine. The reader
// reads frames continuously (readRequest: 4-byte big-endian size, header,
// body), checks the size against Config.MaxRequestBytes before allocating,
// parses the header and body, passes the request through the Authorizer and
// dispatches it. Each request that gets a response takes a slot in the
// connection's ordered queue and runs its handler in its own goroutine; the
// writer waits on the slots in queue order and writes each response when its
// slot is done, so responses leave in request order even when a later request
// finishes first (KAFKA_COMPAT trap 10); responses already done behind it go
// out in the same writev. The queue is bounded (maxInFlightPerConn): when it
// is full the reader stops reading, which pushes back on the client through
// TCP.
//
// # Per-request costs
//
// The hot path avoids per-request garbage where it can: request frames and
// encoded responses are pooled buffers (bufpool.go; a Produce frame returns
// to the pool once Backend.Append has copied the records, a Fetch frame once
// the handler returns, see api.reuseFrame), slots are recycled, the client ID
// is shared while it repeats, and a Produce commit wait or a Fetch long poll
// uses a reusable deadline context of the connection (waits.go) instead of
// context.WithTimeout. What remains is kmsg's decoded request and response
// structs, the handler goroutine and the backend's own allocations
// (bench/README.md, "Profile").
//
// # Ordering rule
//
// Handlers run concurrently, except for the first phase of Produce: decoding,
// validation and Backend.Append for every partition run synchronously on the
// reader goroutine, so the proposals of one connection are submitted in
// request order (an idempotent producer pipelining requests relies on it).
// The second phase, waiting for the commits and building the response, runs
// in its own goroutine like every other handler. An acks=0 produce stops
// after the first phase: it gets no response and takes no slot.
//
// The requests that read or write committed offsets or end a membership or a
// group (OffsetCommit, OffsetFetch, OffsetDelete, LeaveGroup, DeleteGroups;
// api.inOrder) also take effect in request order: each one's handler starts
// when the previous one's has returned, as Kafka, which handles a
// connection's requests one at a time. Clients rely on it: sarama pipelines
// OffsetCommits from one goroutine per partition, and run concurrently an
// older commit could be applied last and move the group's offset back.
//
// # Protocol errors
//
// An oversized or undersized frame, an unknown or unserved API key, a version
// outside the served range, or a body that does not parse closes the
// connection after a rate-limited warning; the claimed size of a frame is
// never allocated before it is checked. The one exception is ApiVersions at a
// version we do not serve: it gets a v0-format response with
// UNSUPPORTED_VERSION and the full version table, so the client can retry
// lower (KAFKA_COMPAT trap 1).
//
// # Authorization
//
// Every connection carries a principal: "User:" and the user it
// authenticated as with SASL (sasl.go; with Kerberos the principal's short
// name, with a delegation token its owner, tokens.go), else the subject of
// the client's TLS certificate when the listener requires one, else
// "User:ANONYMOUS".
//
// With Config.ACLs set, every handler asks, per resource it touches,
// whether the principal may do the operation Kafka requires there (authz.go,
// core/acl: Kafka's StandardAuthorizer rules, Config.SuperUsers allowed
// everything) and answers a denial as Kafka does, with the API's
// TOPIC_/GROUP_/CLUSTER_/TRANSACTIONAL_ID_AUTHORIZATION_FAILED in the place
// of the resource's error, the rest of the request served; a topic the
// principal may not see is refused before its existence is told. Each API's
// file says what it checks. Decisions are cached per connection until the
// ACLs change. Without Config.ACLs everything is allowed and
// Config.SuperUsers alone may manage SCRAM credentials.
//
// Config.Authorizer is a coarser hook that runs before every handler, on
// the reader goroutine and in request order; the default allows
// everything, and a denial closes the connection (logged, rate-limited).
// Quotas will hook in at the same place (they will set throttle times
// rather than deny).
//
// # Shutdown
//
// Server.Close stops accepting, stops reading new requests, ends long-poll
// fetches early, lets the requests already read finish and their responses be
// written, then closes the connections; if its context ends first, it cancels
// the handlers and closes the sockets, and still waits for every goroutine to
// exit.
package kafka
