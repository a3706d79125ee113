package kafka

import "github.com/chronik-go/chronik/core/bufpool"

// bufPool holds the buffers of request frames and encoded responses, so
// that a connection under load reuses them instead of allocating (and
// zeroing) a new one per request.
var bufPool bufpool.Pool
