package tier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
)

// sweep deletes the partition's unreferenced objects. An object below the
// tiered end that the manifest does not name can never be committed (any
// proposal for it would be refused as stale), so it goes at once: a
// segment that retention removed, or an upload that lost a race. One at or
// above the tiered end may belong to an upload whose commit is still in
// flight, so it must also be older than tier.orphan-grace.
func (m *Manager) sweep(ctx context.Context, r partition.Led, t cluster.Topic) error {
	lg := r.Log
	refs := map[string]bool{}
	for _, s := range lg.Segments() {
		refs[s.Key] = true
	}
	tieredEnd := lg.TieredEnd()
	prefix := partitionPrefix(r.TP, t.ID)
	var doomed []string
	err := m.store.List(ctx, prefix, func(o driver.Object) error {
		if refs[o.Key] {
			return nil
		}
		base, ok := parseSegmentName(strings.TrimPrefix(o.Key, prefix))
		if !ok {
			return nil // not ours: leave it
		}
		if base < tieredEnd || time.Since(o.ModTime) > m.cfg.OrphanGrace {
			doomed = append(doomed, o.Key)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	var errs []error
	for _, k := range doomed {
		// Re-check: the manifest may have changed since the listing.
		if m.referenced(lg, k) {
			continue
		}
		if err := m.store.Delete(ctx, k); err != nil && !errors.Is(err, tiering.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		m.met.swept(ctx)
		m.log.Info("deleted orphaned tiered segment", "key", k)
	}
	return errors.Join(errs...)
}
