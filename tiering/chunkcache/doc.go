// Package chunkcache owns the broker's bounded on-disk cache of remote segment
// chunks: byte ranges of tiered segments, already fetched from the object store
// and verified by the caller, kept in one local directory so that consumers
// re-reading tiered data do not download it again.
//
// A Cache owns its directory outright. It starts empty (Open deletes the
// files a previous process left), appends chunks to slab files of up to 32 MiB
// (a file per chunk cost more in file creation than the chunk's read), keeps
// its index (key → slab, offset, size) in memory only, and deletes the oldest
// slab, with every chunk in it, whenever a Put takes the total past the
// configured byte budget: first in, first out, which suits readers that go
// forward through tiered data. A chunk that cannot be read back whole is a
// miss and its entry is dropped.
//
// GetOrLoad is the read path for callers: it serves a hit from disk and, on a
// miss, runs at most one load per key at a time, shares its result with every
// caller waiting for that key and caches it.
//
//	c, err := chunkcache.Open(dir, 4<<30, chunkcache.WithLogger(log))
//	…
//	chunk, err := c.GetOrLoad(ctx, key, func(ctx context.Context) ([]byte, error) {
//		return fetchAndVerify(ctx, key)
//	})
package chunkcache
