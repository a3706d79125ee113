// Package chunkcache owns the broker's bounded on-disk cache of remote segment
// chunks: byte ranges of tiered segments, already fetched from the object store
// and verified by the caller, kept in one local directory so that consumers
// re-reading tiered data do not download it again.
//
// A Cache owns its directory outright. It starts empty (Open deletes the chunk
// files a previous process left), keeps its index (key → file, in least
// recently used order) in memory only, and deletes the least recently used
// chunks whenever a Put takes the total past the configured byte budget.
// Losing a file behind the cache's back is harmless: the read misses and the
// entry is dropped.
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
