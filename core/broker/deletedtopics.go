package broker

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/chronik-go/chronik/core/backup"
	"github.com/chronik-go/chronik/core/tier"
	"github.com/chronik-go/chronik/raftsm"
	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
)

// deletedTopics removes the tiered objects of deleted topics. No broker
// leads a deleted topic's partitions any more, so the per-partition sweeper
// (core/tier) never visits them. Deleting a topic leaves a tombstone in the
// meta shard (raftsm/deletedtopics.go); the meta shard's leader visits the
// tombstones every tier.sweep-interval and, for each, deletes the objects
// under segments/<topic>-<uuid>/ and then the tombstone. A topic's objects
// wait until its tombstone is tier.orphan-grace old (as this leader has
// seen it), so that a backup collected before the deletion has been
// written, and while a retained backup lists the topic (restoring it needs
// them; they go once backup.keep newer backups have replaced it). Nothing is
// deleted while a backup is incomplete or cannot be read. An upload that
// was in flight when the topic was deleted can still land after a sweep
// (CI caught one), so the tombstone is forgotten only once a sweep finds
// the prefix empty and tier.upload-timeout has passed since the grace
// ended: no upload of the topic can run that long.
type deletedTopics struct {
	root          *tiering.Store // the tier.url store (backups/ live here)
	segs          *tiering.Store // its segments/ view
	grace         time.Duration
	uploadTimeout time.Duration
	log           *slog.Logger

	leader     func() bool
	tombstones func(ctx context.Context) ([]raftsm.DeletedTopic, error) // after a meta barrier
	forget     func(ctx context.Context, id [16]byte) error
	deleted    func(objects int)

	firstSeen map[[16]byte]time.Time     // tombstone → when this leader first saw it
	backups   map[string]map[string]bool // backup ID → topic prefixes it lists (loaded once)
}

// sweep runs one pass and returns how many objects it deleted.
func (d *deletedTopics) sweep(ctx context.Context) (int, error) {
	if !d.leader() {
		clear(d.firstSeen) // a new leader starts every grace again
		return 0, nil
	}
	stones, err := d.tombstones(ctx)
	if err != nil {
		return 0, err
	}
	now := time.Now()
	var due []raftsm.DeletedTopic
	live := map[[16]byte]bool{}
	for _, t := range stones {
		live[t.ID] = true
		seen, ok := d.firstSeen[t.ID]
		if !ok {
			d.firstSeen[t.ID] = now
			seen = now
		}
		if now.Sub(seen) >= d.grace {
			due = append(due, t)
		}
	}
	for id := range d.firstSeen {
		if !live[id] {
			delete(d.firstSeen, id)
		}
	}
	if len(due) == 0 {
		return 0, nil
	}
	protected, err := d.protected(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, t := range due {
		prefix := tier.TopicPrefix(t.Name, t.ID)
		if protected[prefix] {
			continue
		}
		deleted, err := d.deletePrefix(ctx, prefix)
		n += deleted
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", prefix, err))
			continue
		}
		if deleted > 0 {
			d.log.Info("deleted the tiered objects of a deleted topic", "topic", t.Name, "prefix", prefix, "objects", deleted)
		}
		if deleted > 0 || now.Sub(d.firstSeen[t.ID]) < d.grace+d.uploadTimeout {
			continue // look again: an upload in flight may still land
		}
		if err := d.forget(ctx, t.ID); err != nil {
			errs = append(errs, fmt.Errorf("forget deleted topic %s: %w", prefix, err))
			continue
		}
		delete(d.firstSeen, t.ID)
	}
	d.deleted(n)
	return n, errors.Join(errs...)
}

// deletePrefix deletes every object under prefix in the segments store.
func (d *deletedTopics) deletePrefix(ctx context.Context, prefix string) (int, error) {
	var keys []string
	if err := d.segs.List(ctx, prefix, func(o driver.Object) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		return 0, fmt.Errorf("list: %w", err)
	}
	n := 0
	for _, k := range keys {
		if err := d.segs.Delete(ctx, k); err != nil && !errors.Is(err, tiering.ErrNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}

// protected returns the topic prefixes that retained backups list, or an
// error (and so no deletion) while any backup is incomplete or unreadable.
func (d *deletedTopics) protected(ctx context.Context) (map[string]bool, error) {
	list, err := backup.List(ctx, d.root)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	kept := map[string]bool{}
	for _, s := range list {
		if !s.Complete {
			return nil, fmt.Errorf("backup %s is incomplete (%s): deleted topics' objects wait until it is complete or pruned", s.ID, s.Error)
		}
		kept[s.ID] = true
		prefixes, ok := d.backups[s.ID]
		if !ok {
			_, data, err := backup.Load(ctx, d.root, s.ID)
			if err != nil {
				return nil, fmt.Errorf("backup %s: %w", s.ID, err)
			}
			prefixes = map[string]bool{}
			for _, t := range data.Topics {
				id, err := hex.DecodeString(t.ID)
				if err != nil || len(id) != 16 {
					return nil, fmt.Errorf("backup %s: topic %s has a bad UUID %q", s.ID, t.Name, t.ID)
				}
				prefixes[tier.TopicPrefix(t.Name, [16]byte(id))] = true
			}
			d.backups[s.ID] = prefixes
		}
		for p := range prefixes {
			out[p] = true
		}
	}
	for id := range d.backups {
		if !kept[id] {
			delete(d.backups, id) // pruned
		}
	}
	return out, nil
}

// sweepAndLog is one sweep whose error is logged.
func (d *deletedTopics) sweepAndLog(ctx context.Context) {
	if _, err := d.sweep(ctx); err != nil && ctx.Err() == nil {
		d.log.Warn("deleted topics' tiered objects not swept yet", "err", err)
	}
}

// startDeletedTopicSweeper runs deletedTopics until Stop.
func (b *Broker) startDeletedTopicSweeper(meter metric.Meter) error {
	segs, err := b.dr.store.Sub("segments")
	if err != nil {
		return err
	}
	count, err := meter.Int64Counter("tier_deleted_topic_objects",
		metric.WithDescription("Tiered segment objects of deleted topics removed from the store."), metric.WithUnit("{object}"))
	if err != nil {
		return err
	}
	d := &deletedTopics{
		root: b.dr.store, segs: segs, grace: b.cfg.Tier.OrphanGrace, uploadTimeout: b.cfg.Tier.UploadTimeout, log: b.log,
		leader: b.leadsMeta,
		tombstones: func(ctx context.Context) ([]raftsm.DeletedTopic, error) {
			if err := b.barrier(ctx, raftsm.MetaShardID); err != nil {
				return nil, fmt.Errorf("meta shard: %w", err)
			}
			return b.meta.DeletedTopics()
		},
		forget: func(ctx context.Context, id [16]byte) error {
			_, err := b.proposeOn(ctx, raftsm.MetaShardID, raftsm.EncodeForgetDeletedTopic(id))
			return err
		},
		deleted:   func(n int) { count.Add(context.Background(), int64(n)) },
		firstSeen: map[[16]byte]time.Time{},
		backups:   map[string]map[string]bool{},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.stopSweeper = func() { cancel(); <-done } // it reads the store closed after it
	go func() {
		defer close(done)
		every(ctx, b.cfg.Tier.SweepInterval, func() { d.sweepAndLog(ctx) })
	}()
	return nil
}
