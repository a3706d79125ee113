package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
)

// Keys under the store's root:
//
//	backups/<id>/topics.json.zst
//	backups/<id>/groups.json.zst
//	backups/<id>/partitions.json.zst
//	backups/<id>/users.json.zst       only with SCRAM credentials to keep
//	backups/<id>/acls.json.zst        only with ACLs to keep
//	backups/<id>/quotas.json.zst      only with client quotas to keep
//	backups/<id>/tokens.json.zst      only with delegation tokens to keep
//	backups/<id>/manifest.json        written last
//	segments/…                        tiered segments (core/tier), referenced
const (
	backupsPrefix = "backups/"
	manifestName  = "manifest.json"
	segmentsSub   = "segments"
)

// idLayout is the time part of a backup ID; IDs sort by creation time.
const idLayout = "20060102T150405Z"

// NewID returns a backup ID for time t: its UTC time to the second and four
// random hex digits, e.g. 20261125T235900Z-3fa2.
func NewID(t time.Time) string {
	var r [2]byte
	_, _ = rand.Read(r[:])
	return t.UTC().Format(idLayout) + "-" + hex.EncodeToString(r[:])
}

// CheckID rejects what cannot be a backup ID (and so can never escape
// backups/ in a key).
func CheckID(id string) error {
	ts, suffix, ok := strings.Cut(id, "-")
	if !ok || len(suffix) == 0 || len(suffix) > 16 || strings.ContainsAny(suffix, "/.") {
		return fmt.Errorf("backup: %q is not a backup ID (like 20261125T235900Z-3fa2)", id)
	}
	if _, err := time.Parse(idLayout, ts); err != nil {
		return fmt.Errorf("backup: %q is not a backup ID (like 20261125T235900Z-3fa2)", id)
	}
	return nil
}

// Info identifies the cluster and broker taking a backup.
type Info struct {
	ClusterID string
	Node      int32
}

// Write stores d as backup id: each object, then the manifest. It returns
// the manifest. A failure part way leaves an incomplete backup (no
// manifest) that List reports and Prune removes.
func Write(ctx context.Context, store *tiering.Store, id string, info Info, compression string, d *Data, started time.Time) (*Manifest, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	if err := CheckCompression(compression); err != nil {
		return nil, err
	}
	m := &Manifest{
		Format: FormatVersion, ID: id, ClusterID: info.ClusterID, Node: info.Node, ChronikVersion: chronikVersion(),
		CreatedAt: started.UTC(), Compression: compression,
		Topics: len(d.Topics), Partitions: len(d.Partitions), Groups: len(d.Groups),
		Users: len(d.Users), ACLs: len(d.ACLs), Quotas: len(d.Quotas), Tokens: len(d.Tokens), NextProducerID: d.NextProducerID, Features: d.Features,
		RecoveryPoint: make([]RecoveryPoint, 0, len(d.Partitions)),
	}
	for _, g := range d.Groups {
		m.Offsets += len(g.Offsets)
	}
	for _, p := range d.Partitions {
		m.Segments += len(p.Segments)
		for _, s := range p.Segments {
			m.SegmentBytes += s.Size
		}
		m.RecoveryPoint = append(m.RecoveryPoint, RecoveryPoint{
			Topic: p.Topic, Partition: p.Partition, LogStart: p.LogStart, TieredEnd: p.TieredEnd, HighWatermark: p.HighWatermark,
		})
	}
	type part struct {
		kind  string
		items any
		n     int
	}
	parts := []part{
		{kindTopics, d.Topics, len(d.Topics)},
		{kindGroups, d.Groups, len(d.Groups)},
		{kindPartitions, d.Partitions, len(d.Partitions)},
	}
	if len(d.Users) > 0 {
		parts = append(parts, part{kindUsers, d.Users, len(d.Users)})
	}
	if len(d.ACLs) > 0 {
		parts = append(parts, part{kindACLs, d.ACLs, len(d.ACLs)})
	}
	if len(d.Quotas) > 0 {
		parts = append(parts, part{kindQuotas, d.Quotas, len(d.Quotas)})
	}
	if len(d.Tokens) > 0 {
		parts = append(parts, part{kindTokens, d.Tokens, len(d.Tokens)})
	}
	dir := backupsPrefix + id + "/"
	for _, p := range parts {
		b, o, err := encodeObject(p.kind, compression, p.items, p.n)
		if err != nil {
			return nil, fmt.Errorf("backup: encode %s: %w", p.kind, err)
		}
		if err := store.Put(ctx, dir+o.Name, bytes.NewReader(b), int64(len(b))); err != nil {
			return nil, fmt.Errorf("backup: write %s%s: %w", dir, o.Name, err)
		}
		m.Objects = append(m.Objects, o)
		m.SizeBytes += o.Size
	}
	m.DurationSeconds = time.Since(started).Seconds()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := store.Put(ctx, dir+manifestName, bytes.NewReader(b), int64(len(b))); err != nil {
		return nil, fmt.Errorf("backup: write %s%s: %w", dir, manifestName, err)
	}
	return m, nil
}

// Summary is one backup as List sees it.
type Summary struct {
	ID string `json:"id"`
	// Complete is false for a backup without a (readable) manifest: it was
	// interrupted, and is never restored.
	Complete bool `json:"complete"`
	// Manifest is nil when the backup is incomplete.
	Manifest *Manifest `json:"manifest,omitempty"`
	// Error says why the manifest could not be read.
	Error string `json:"error,omitempty"`
}

// List returns every backup in the store, oldest first.
func List(ctx context.Context, store *tiering.Store) ([]Summary, error) {
	ids := map[string]bool{}
	err := store.List(ctx, backupsPrefix, func(o driver.Object) error {
		id, _, ok := strings.Cut(strings.TrimPrefix(o.Key, backupsPrefix), "/")
		if ok && CheckID(id) == nil {
			ids[id] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("backup: list %s: %w", backupsPrefix, err)
	}
	out := make([]Summary, 0, len(ids))
	for id := range ids {
		s := Summary{ID: id}
		m, err := Show(ctx, store, id)
		switch {
		case err == nil:
			s.Complete, s.Manifest = true, m
		case errors.Is(err, ErrNotFound):
			s.Error = "no manifest.json: incomplete (interrupted while being written)"
		default:
			s.Error = err.Error()
		}
		out = append(out, s)
	}
	// IDs have one-second resolution: within a second, the manifests'
	// creation times order complete backups.
	slices.SortFunc(out, func(a, b Summary) int {
		if c := strings.Compare(a.ID[:len(idLayout)], b.ID[:len(idLayout)]); c != 0 {
			return c
		}
		var ta, tb time.Time
		if a.Manifest != nil {
			ta = a.Manifest.CreatedAt
		}
		if b.Manifest != nil {
			tb = b.Manifest.CreatedAt
		}
		if c := ta.Compare(tb); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Latest returns the ID of the newest complete backup.
func Latest(ctx context.Context, store *tiering.Store) (string, error) {
	all, err := List(ctx, store)
	if err != nil {
		return "", err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Complete {
			return all[i].ID, nil
		}
	}
	return "", fmt.Errorf("%w: the store %s holds no complete backup under %s", ErrNotFound, store, backupsPrefix)
}

// Show reads a backup's manifest.
func Show(ctx context.Context, store *tiering.Store, id string) (*Manifest, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	key := backupsPrefix + id + "/" + manifestName
	b, err := store.ReadAll(ctx, key)
	if errors.Is(err, tiering.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s has no %s (unknown ID, or the backup is incomplete)", ErrNotFound, id, key)
	}
	if err != nil {
		return nil, fmt.Errorf("backup: read %s: %w", key, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, key, err)
	}
	if m.Format < 1 || m.Format > FormatVersion {
		return nil, fmt.Errorf("backup: %s has format %d; this chronik reads up to %d (upgrade chronik)", key, m.Format, FormatVersion)
	}
	if m.ID != id {
		return nil, fmt.Errorf("%w: %s names backup %q", ErrCorrupt, key, m.ID)
	}
	return &m, nil
}

// Load reads backup id (the latest complete one if id is empty), verifies
// every object's size and SHA-256, decodes and validates it. It never
// writes anything.
func Load(ctx context.Context, store *tiering.Store, id string) (*Manifest, *Data, error) {
	if id == "" {
		var err error
		if id, err = Latest(ctx, store); err != nil {
			return nil, nil, err
		}
	}
	m, err := Show(ctx, store, id)
	if err != nil {
		return nil, nil, err
	}
	d := &Data{NextProducerID: m.NextProducerID, Features: m.Features}
	seen := map[string]bool{}
	for _, o := range m.Objects {
		var target any
		switch o.Kind {
		case kindTopics:
			target = &d.Topics
		case kindGroups:
			target = &d.Groups
		case kindPartitions:
			target = &d.Partitions
		case kindUsers:
			target = &d.Users
		case kindACLs:
			target = &d.ACLs
		case kindQuotas:
			target = &d.Quotas
		case kindTokens:
			target = &d.Tokens
		default:
			return nil, nil, fmt.Errorf("%w: manifest lists object %s of unknown kind %q", ErrCorrupt, o.Name, o.Kind)
		}
		if path.Base(o.Name) != o.Name || o.Name == manifestName {
			return nil, nil, fmt.Errorf("%w: manifest lists object %q", ErrCorrupt, o.Name)
		}
		seen[o.Kind] = true
		key := backupsPrefix + id + "/" + o.Name
		b, err := store.ReadAll(ctx, key)
		if errors.Is(err, tiering.ErrNotFound) {
			return nil, nil, fmt.Errorf("%w: object %s is missing", ErrCorrupt, key)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("backup: read %s: %w", key, err)
		}
		if err := decodeObject(o, b, target); err != nil {
			return nil, nil, fmt.Errorf("backup %s: %w", id, err)
		}
	}
	for _, k := range []string{kindTopics, kindGroups, kindPartitions} {
		if !seen[k] {
			return nil, nil, fmt.Errorf("%w: backup %s: the manifest lists no %s object", ErrCorrupt, id, k)
		}
	}
	if len(d.Topics) != m.Topics || len(d.Partitions) != m.Partitions || len(d.Groups) != m.Groups || len(d.Users) != m.Users ||
		len(d.ACLs) != m.ACLs || len(d.Quotas) != m.Quotas || len(d.Tokens) != m.Tokens {
		return nil, nil, fmt.Errorf("%w: backup %s: objects hold %d topics, %d partitions, %d groups, %d user credentials, %d ACLs, %d quota entities, %d delegation tokens; "+
			"the manifest says %d, %d, %d, %d, %d, %d, %d", ErrCorrupt, id, len(d.Topics), len(d.Partitions), len(d.Groups), len(d.Users), len(d.ACLs), len(d.Quotas), len(d.Tokens),
			m.Topics, m.Partitions, m.Groups, m.Users, m.ACLs, m.Quotas, m.Tokens)
	}
	if err := d.Validate(); err != nil {
		return nil, nil, fmt.Errorf("backup %s: %w", id, err)
	}
	return m, d, nil
}

// CheckSegments checks that the segments d refers to are still in the
// store (under segments/). Segments missing at the start of a partition's
// manifest (retention deleted them after the backup) only raise its log
// start, in d; any other missing segment is an error naming it.
func CheckSegments(ctx context.Context, store *tiering.Store, d *Data) (notes []string, err error) {
	segs, err := store.Sub(segmentsSub)
	if err != nil {
		return nil, err
	}
	for i := range d.Partitions {
		p := &d.Partitions[i]
		if len(p.Segments) == 0 {
			continue
		}
		dir := p.Segments[0].Key[:strings.LastIndexByte(p.Segments[0].Key, '/')+1]
		present := map[string]int64{}
		err := segs.List(ctx, dir, func(o driver.Object) error {
			present[o.Key] = o.Size
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("backup: list segments/%s: %w", dir, err)
		}
		first := 0
		for first < len(p.Segments) {
			if _, ok := present[p.Segments[first].Key]; ok {
				break
			}
			first++
		}
		for _, s := range p.Segments[first:] {
			size, ok := present[s.Key]
			if !ok {
				return nil, fmt.Errorf("%w: partition %s/%d: segment object segments/%s (offsets %d-%d) is missing from the store", ErrCorrupt, p.Topic, p.Partition, s.Key, s.Base, s.End-1)
			}
			if size != s.Size {
				return nil, fmt.Errorf("%w: partition %s/%d: segment object segments/%s has %d bytes, the manifest says %d", ErrCorrupt, p.Topic, p.Partition, s.Key, size, s.Size)
			}
		}
		if first > 0 {
			notes = append(notes, fmt.Sprintf("%s/%d: %d segments below offset %d are gone from the store (retention); the log starts there",
				p.Topic, p.Partition, first, p.Segments[min(first, len(p.Segments)-1)].Base))
			if first == len(p.Segments) {
				p.LogStart = p.TieredEnd
			} else {
				p.LogStart = max(p.LogStart, p.Segments[first].Base)
			}
			p.Segments = p.Segments[first:]
		}
	}
	return notes, nil
}

// Prune deletes every backup but the newest keep complete ones: older
// complete backups and incomplete ones older than the oldest kept. It
// returns the IDs deleted.
func Prune(ctx context.Context, store *tiering.Store, keep int) ([]string, error) {
	all, err := List(ctx, store)
	if err != nil {
		return nil, err
	}
	kept, cut := 0, -1
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Complete {
			if kept++; kept == keep {
				cut = i
				break
			}
		}
	}
	var deleted []string
	for _, s := range all[:max(cut, 0)] {
		prefix := backupsPrefix + s.ID + "/"
		var keys []string
		if err := store.List(ctx, prefix, func(o driver.Object) error { keys = append(keys, o.Key); return nil }); err != nil {
			return deleted, err
		}
		// The manifest goes first, so an interrupted prune leaves an
		// incomplete backup, never a complete one with objects missing.
		slices.SortFunc(keys, func(a, b string) int {
			return compareBool(strings.HasSuffix(b, "/"+manifestName), strings.HasSuffix(a, "/"+manifestName))
		})
		for _, k := range keys {
			if err := store.Delete(ctx, k); err != nil {
				return deleted, fmt.Errorf("backup: delete %s: %w", k, err)
			}
		}
		deleted = append(deleted, s.ID)
	}
	return deleted, nil
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
