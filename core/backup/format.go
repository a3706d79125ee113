// Package backup owns disaster-recovery backups (ARCHITECTURE.md §6): the
// logical export of a cluster's metadata (topics with their UUIDs and
// configs), committed consumer-group offsets and partition manifests to the
// object store, its verification and listing, and the restore plan a
// broker on an empty data directory applies through Raft.
//
// A backup is a directory of objects under backups/<id>/ in the store:
// topics, groups and partitions as compressed JSON, each with its SHA-256
// in manifest.json, which is written last — a backup without a manifest is
// incomplete and never restored. Record data is not copied: it is already
// in the store as tiered segments, which the partition manifests name.
package backup

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime/debug"
	"slices"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/core/quota"
	"github.com/chronik-go/chronik/raftsm"
)

// FormatVersion is the version of the manifest and object encoding; a
// restore refuses a backup with a newer one.
const FormatVersion = 1

// Version is the Chronik version recorded in manifests; cmd/chronik sets it.
var Version = ""

func chronikVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "dev"
}

// Compression of a backup's objects.
const (
	Zstd = "zstd"
	Gzip = "gzip"
	None = "none"
)

// ErrCorrupt marks a backup that cannot be restored: a missing, truncated,
// altered or undecodable object.
var ErrCorrupt = errors.New("backup: corrupt backup")

// ErrNotFound means the store holds no (complete) backup by that ID.
var ErrNotFound = errors.New("backup: no such backup")

// Data is what one backup holds.
type Data struct {
	Topics     []Topic     `json:"topics"`
	Groups     []Group     `json:"groups"`
	Partitions []Partition `json:"partitions"`
	// Users are the SCRAM credentials set through the Kafka API; a
	// backup without any has no users object (so older versions read it).
	Users []User `json:"users,omitempty"`
	// ACLs are the access control lists; a backup without any has no acls
	// object.
	ACLs []ACL `json:"acls,omitempty"`
	// Quotas are the client quotas, one per entity; a backup without any
	// has no quotas object.
	Quotas []Quota `json:"quotas,omitempty"`
	// Tokens are the delegation tokens not yet expired; a backup without
	// any has no tokens object.
	Tokens []Token `json:"tokens,omitempty"`
	// NextProducerID is the first producer ID the cluster had not handed
	// out; the manifest keeps it (no object), and a restore reserves every
	// ID below it, so no new producer gets the ID of one whose records
	// were restored. 0 in backups from before it was kept.
	NextProducerID int64 `json:"next_producer_id,omitempty"`
	// Features are the finalized feature levels set for the cluster with
	// UpdateFeatures (kafka-features.sh), sorted by name; the manifest
	// keeps them (no object), and a restore sets each one the cluster has
	// not set. Empty when none was set (the brokers' config decides then).
	Features []Feature `json:"features,omitempty"`
}

// Feature is one finalized feature level.
type Feature struct {
	Name  string `json:"name"`
	Level int16  `json:"level"`
}

// ACL is one access control binding, its enumerations by the names
// kafka-acls.sh and kmsg give them (TOPIC, PREFIXED, WRITE, ALLOW), so that
// the object reads without a table of numbers.
type ACL struct {
	ResourceType string `json:"resource_type"`
	ResourceName string `json:"resource_name"`
	PatternType  string `json:"pattern_type"`
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    string `json:"operation"`
	Permission   string `json:"permission"`
}

// ACLOf is b as a backup holds it.
func ACLOf(b acl.Binding) ACL {
	return ACL{
		ResourceType: b.ResourceType.String(), ResourceName: b.ResourceName, PatternType: b.PatternType.String(),
		Principal: b.Principal, Host: b.Host, Operation: b.Operation.String(), Permission: b.Permission.String(),
	}
}

// Binding parses a back; an unknown name or an invalid binding
// (acl.Binding.Validate) is an error naming it.
func (a ACL) Binding() (acl.Binding, error) {
	b := acl.Binding{ResourceName: a.ResourceName, Principal: a.Principal, Host: a.Host}
	var errs []error
	var err error
	if b.ResourceType, err = kmsg.ParseACLResourceType(a.ResourceType); err != nil {
		errs = append(errs, err)
	}
	if b.PatternType, err = kmsg.ParseACLResourcePatternType(a.PatternType); err != nil {
		errs = append(errs, err)
	}
	if b.Operation, err = kmsg.ParseACLOperation(a.Operation); err != nil {
		errs = append(errs, err)
	}
	if b.Permission, err = kmsg.ParseACLPermissionType(a.Permission); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		errs = append(errs, b.Validate())
	}
	if err := errors.Join(errs...); err != nil {
		return acl.Binding{}, fmt.Errorf("ACL %s %s %q for %s from %s, %s %s: %w",
			a.ResourceType, a.PatternType, a.ResourceName, a.Principal, a.Host, a.Permission, a.Operation, err)
	}
	return b, nil
}

// Quota is the client quotas of one entity: a user, a client ID or a
// user's client ID, either of which may be the default. Each part present
// is an object that says which, {"name": "alice"} or {"default": true},
// so that a user or client ID literally named "<default>" (or "") reads
// as itself; an absent part is left out.
type Quota struct {
	User     *QuotaPart         `json:"user,omitempty"`
	ClientID *QuotaPart         `json:"client_id,omitempty"`
	Quotas   map[string]float64 `json:"quotas"` // producer_byte_rate, consumer_byte_rate: bytes per second; controller_mutation_rate: partitions per second
}

// QuotaPart is one part of a Quota's entity: a name or the default.
type QuotaPart struct {
	Name    *string `json:"name,omitempty"`
	Default bool    `json:"default,omitempty"`
}

// QuotaOf is e's quotas as a backup holds them.
func QuotaOf(e quota.Entity, quotas map[string]float64) Quota {
	part := func(p quota.Part) *QuotaPart {
		switch p.Kind {
		case quota.Named:
			return &QuotaPart{Name: &p.Name}
		case quota.Default:
			return &QuotaPart{Default: true}
		}
		return nil
	}
	return Quota{User: part(e.User), ClientID: part(e.ClientID), Quotas: maps.Clone(quotas)}
}

// Entity parses q's entity back and checks its quotas (quota.Entity.Validate,
// quota.ValidateValue); an error names the entity.
func (q Quota) Entity() (quota.Entity, error) {
	var e quota.Entity
	var errs []error
	for _, x := range []struct {
		name string
		from *QuotaPart
		to   *quota.Part
	}{{quota.TypeUser, q.User, &e.User}, {quota.TypeClientID, q.ClientID, &e.ClientID}} {
		switch {
		case x.from == nil:
		case x.from.Default && x.from.Name == nil:
			*x.to = quota.DefaultPart
		case !x.from.Default && x.from.Name != nil:
			*x.to = quota.Name(*x.from.Name)
		default:
			errs = append(errs, fmt.Errorf("the %s is either {\"name\": …} or {\"default\": true}", x.name))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, e.Validate())
	}
	if len(q.Quotas) == 0 {
		errs = append(errs, errors.New("no quotas"))
	}
	for _, k := range slices.Sorted(maps.Keys(q.Quotas)) {
		errs = append(errs, quota.ValidateValue(k, q.Quotas[k]))
	}
	if err := errors.Join(errs...); err != nil {
		return quota.Entity{}, fmt.Errorf("quotas of %q: %w", e, err)
	}
	return e, nil
}

// Token is one delegation token as the meta shard holds it: never its HMAC,
// which the brokers derive from kafka.delegation-token-secret-key (so a
// restored token works on brokers with the same secret). Times are Unix
// milliseconds.
type Token struct {
	ID          string   `json:"id"`
	Owner       string   `json:"owner"`
	Requester   string   `json:"requester"`
	Renewers    []string `json:"renewers,omitempty"`
	Issued      int64    `json:"issued"`
	Expires     int64    `json:"expires"`
	MaxLifetime int64    `json:"max_lifetime"`
}

// User is one user's SCRAM credential for one mechanism, as the meta shard
// holds it: the salt and the derived keys, never a password.
type User struct {
	Name       string `json:"name"`
	Mechanism  string `json:"mechanism"` // SCRAM-SHA-256 or SCRAM-SHA-512
	Iterations int32  `json:"iterations"`
	Salt       []byte `json:"salt"`
	StoredKey  []byte `json:"stored_key"`
	ServerKey  []byte `json:"server_key"`
}

// Topic is a topic as the meta shard held it.
type Topic struct {
	Name              string            `json:"name"`
	ID                string            `json:"id"` // 32 hex digits
	Configs           map[string]string `json:"configs"`
	Partitions        int32             `json:"partitions"`
	ReplicationFactor int16             `json:"replication_factor"`
}

// TopicID decodes ID.
func (t Topic) TopicID() ([16]byte, error) {
	var id [16]byte
	b, err := hex.DecodeString(t.ID)
	if err != nil || len(b) != 16 {
		return id, fmt.Errorf("topic %q: id %q is not 32 hex digits", t.Name, t.ID)
	}
	copy(id[:], b)
	return id, nil
}

// Group is one consumer group's committed offsets and the protocol type it
// used (a restored group is empty: its members rejoin).
type Group struct {
	Group        string   `json:"group"`
	ProtocolType string   `json:"protocol_type,omitempty"`
	Generation   int32    `json:"generation"`
	Offsets      []Offset `json:"offsets"`
}

// Offset is one committed offset with everything OffsetFetch returns.
type Offset struct {
	Topic           string `json:"topic"`
	Partition       int32  `json:"partition"`
	Offset          int64  `json:"offset"`
	LeaderEpoch     int32  `json:"leader_epoch"`
	Metadata        string `json:"metadata,omitempty"`
	CommitTimestamp int64  `json:"commit_timestamp"`
	ExpireTimestamp int64  `json:"expire_timestamp"`
}

// Partition is one partition's tiered manifest. Records in [TieredEnd,
// HighWatermark) existed only on the brokers' disks when the backup was
// taken and are not restored.
type Partition struct {
	Topic         string    `json:"topic"`
	Partition     int32     `json:"partition"`
	LogStart      int64     `json:"log_start_offset"`
	TieredEnd     int64     `json:"tiered_end_offset"`
	HighWatermark int64     `json:"high_watermark"`
	Segments      []Segment `json:"segments"`
	// Aborted lists the transactions aborted in the tiered range, by
	// marker offset, so that read_committed consumers of a restored
	// partition still skip their records; ExtendSegments adds those the
	// segments uploaded after the backup list.
	Aborted []AbortedTxn `json:"aborted_transactions,omitempty"`
}

// AbortedTxn is an aborted transaction: its producer, first offset and
// marker offset (a raftsm.AbortedMarker).
type AbortedTxn struct {
	ProducerID   int64 `json:"producer_id"`
	FirstOffset  int64 `json:"first_offset"`
	MarkerOffset int64 `json:"marker_offset"`
}

// FromAborted converts a partition's aborted index.
func FromAborted(idx []raftsm.AbortedMarker) []AbortedTxn {
	if len(idx) == 0 {
		return nil
	}
	out := make([]AbortedTxn, len(idx))
	for i, a := range idx {
		out[i] = AbortedTxn(a)
	}
	return out
}

// AbortedMarkers converts back.
func AbortedMarkers(a []AbortedTxn) []raftsm.AbortedMarker {
	out := make([]raftsm.AbortedMarker, len(a))
	for i := range a {
		out[i] = raftsm.AbortedMarker(a[i])
	}
	return out
}

// Restored is the offset range a restore gives the partition: from the log
// start to the end of its last segment. A partition with nothing tiered
// comes back empty at its old high watermark, so offsets consumers have
// seen are never handed out again for other records.
func (p Partition) Restored() (start, end int64) {
	if len(p.Segments) == 0 {
		end = max(p.LogStart, p.HighWatermark)
		return end, end
	}
	end = p.Segments[len(p.Segments)-1].End
	return min(max(p.LogStart, p.Segments[0].Base), end), end
}

// Segment is a raftsm.SegmentRecord; Key is relative to the store's
// segments/ prefix.
type Segment struct {
	Base         int64  `json:"base"`
	End          int64  `json:"end"`
	Key          string `json:"key"`
	Size         int64  `json:"size"`
	IndexPos     int64  `json:"index_pos"`
	DataBytes    int64  `json:"data_bytes"`
	MaxTimestamp int64  `json:"max_timestamp"`
	LeaderEpoch  int32  `json:"leader_epoch"`
	UploadedAt   int64  `json:"uploaded_at"`
}

// FromRecords converts a partition's manifest.
func FromRecords(recs []raftsm.SegmentRecord) []Segment {
	out := make([]Segment, len(recs))
	for i, r := range recs {
		out[i] = Segment{
			Base: r.BaseOffset, End: r.EndOffset, Key: r.Key, Size: r.Size, IndexPos: r.IndexPos,
			DataBytes: r.DataBytes, MaxTimestamp: r.MaxTimestamp, LeaderEpoch: r.LeaderEpoch, UploadedAt: r.UploadedAt,
		}
	}
	return out
}

// Records converts back.
func Records(segs []Segment) []raftsm.SegmentRecord {
	out := make([]raftsm.SegmentRecord, len(segs))
	for i, s := range segs {
		out[i] = raftsm.SegmentRecord{
			BaseOffset: s.Base, EndOffset: s.End, Key: s.Key, Size: s.Size, IndexPos: s.IndexPos,
			DataBytes: s.DataBytes, MaxTimestamp: s.MaxTimestamp, LeaderEpoch: s.LeaderEpoch, UploadedAt: s.UploadedAt,
		}
	}
	return out
}

// Manifest describes one complete backup; it is the last object written.
type Manifest struct {
	Format         int       `json:"format"`
	ID             string    `json:"id"`
	ClusterID      string    `json:"cluster_id"`
	Node           int32     `json:"node"` // the broker that took it
	ChronikVersion string    `json:"chronik_version"`
	CreatedAt      time.Time `json:"created_at"`
	// DurationSeconds is how long collecting and writing took.
	DurationSeconds float64  `json:"duration_seconds"`
	Compression     string   `json:"compression"`
	Objects         []Object `json:"objects"`
	// SizeBytes is the stored size of the objects (not counting the
	// manifest, nor the segments, which tiering already stored).
	SizeBytes int64 `json:"size_bytes"`
	Topics    int   `json:"topics"`
	// Partitions, Segments and SegmentBytes count the partitions and the
	// tiered segments (and their bytes) the backup refers to.
	Partitions   int   `json:"partitions"`
	Segments     int   `json:"segments"`
	SegmentBytes int64 `json:"segment_bytes"`
	Groups       int   `json:"groups"`
	Offsets      int   `json:"offsets"`
	// Users counts the SCRAM credentials (one per user and mechanism).
	Users int `json:"users,omitempty"`
	// ACLs counts the access control bindings.
	ACLs int `json:"acls,omitempty"`
	// Quotas counts the entities with client quotas.
	Quotas int `json:"quotas,omitempty"`
	// Tokens counts the delegation tokens.
	Tokens int `json:"tokens,omitempty"`
	// NextProducerID is Data.NextProducerID.
	NextProducerID int64 `json:"next_producer_id,omitempty"`
	// Features is Data.Features.
	Features []Feature `json:"features,omitempty"`
	// RecoveryPoint is, per partition, what a restore brings back:
	// [LogStart, TieredEnd). HighWatermark is where the log ended when the
	// backup was taken.
	RecoveryPoint []RecoveryPoint `json:"recovery_point"`
}

// Object is one stored part of a backup.
type Object struct {
	Name        string `json:"name"` // relative to backups/<id>/
	Kind        string `json:"kind"` // topics, groups, partitions, users, acls or quotas
	Compression string `json:"compression"`
	Size        int64  `json:"size"`   // stored bytes
	SHA256      string `json:"sha256"` // of the stored bytes, hex
	RawSize     int64  `json:"raw_size"`
	Items       int    `json:"items"`
}

// RecoveryPoint is one partition's restorable range.
type RecoveryPoint struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	LogStart      int64  `json:"log_start_offset"`
	TieredEnd     int64  `json:"tiered_end_offset"`
	HighWatermark int64  `json:"high_watermark"`
}

// Object kinds, in the order they are written and read.
const (
	kindTopics     = "topics"
	kindGroups     = "groups"
	kindPartitions = "partitions"
	kindUsers      = "users"  // only when there are any
	kindACLs       = "acls"   // only when there are any
	kindQuotas     = "quotas" // only when there are any
	kindTokens     = "tokens" // only when there are any
)

func extension(compression string) string {
	switch compression {
	case Zstd:
		return ".json.zst"
	case Gzip:
		return ".json.gz"
	default:
		return ".json"
	}
}

// CheckCompression validates a compression name.
func CheckCompression(c string) error {
	switch c {
	case Zstd, Gzip, None:
		return nil
	}
	return fmt.Errorf("backup: compression %q: want zstd, gzip or none", c)
}

// encodeObject marshals items as JSON and compresses it.
func encodeObject(kind, compression string, items any, n int) ([]byte, Object, error) {
	raw, err := json.Marshal(items)
	if err != nil {
		return nil, Object{}, err
	}
	var out []byte
	switch compression {
	case Zstd:
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return nil, Object{}, err
		}
		out = enc.EncodeAll(raw, nil)
		_ = enc.Close()
	case Gzip:
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(raw); err != nil {
			return nil, Object{}, err
		}
		if err := zw.Close(); err != nil {
			return nil, Object{}, err
		}
		out = buf.Bytes()
	case None:
		out = raw
	default:
		return nil, Object{}, CheckCompression(compression)
	}
	sum := sha256.Sum256(out)
	return out, Object{
		Name: kind + extension(compression), Kind: kind, Compression: compression,
		Size: int64(len(out)), SHA256: hex.EncodeToString(sum[:]), RawSize: int64(len(raw)), Items: n,
	}, nil
}

// maxRawSize bounds a decompressed object, so a corrupt size cannot exhaust
// memory.
const maxRawSize = 4 << 30

// decodeObject verifies stored bytes against o and unmarshals them into v.
func decodeObject(o Object, stored []byte, v any) error {
	if int64(len(stored)) != o.Size {
		return fmt.Errorf("%w: object %s has %d bytes, the manifest says %d", ErrCorrupt, o.Name, len(stored), o.Size)
	}
	sum := sha256.Sum256(stored)
	if hex.EncodeToString(sum[:]) != o.SHA256 {
		return fmt.Errorf("%w: object %s fails its SHA-256 check (the manifest says %s)", ErrCorrupt, o.Name, o.SHA256)
	}
	var raw []byte
	switch o.Compression {
	case Zstd:
		dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxRawSize))
		if err != nil {
			return err
		}
		raw, err = dec.DecodeAll(stored, nil)
		dec.Close()
		if err != nil {
			return fmt.Errorf("%w: object %s: zstd: %w", ErrCorrupt, o.Name, err)
		}
	case Gzip:
		zr, err := gzip.NewReader(bytes.NewReader(stored))
		if err == nil {
			raw, err = io.ReadAll(io.LimitReader(zr, maxRawSize))
		}
		if err != nil {
			return fmt.Errorf("%w: object %s: gzip: %w", ErrCorrupt, o.Name, err)
		}
	case None:
		raw = stored
	default:
		return fmt.Errorf("%w: object %s: unknown compression %q", ErrCorrupt, o.Name, o.Compression)
	}
	if int64(len(raw)) != o.RawSize {
		return fmt.Errorf("%w: object %s decompresses to %d bytes, the manifest says %d", ErrCorrupt, o.Name, len(raw), o.RawSize)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: object %s: %w", ErrCorrupt, o.Name, err)
	}
	return nil
}

// Validate checks that d is restorable: topic IDs and names are unique and
// well formed, partitions belong to topics, segments are contiguous, user
// credentials are complete, ACLs valid and quotas valid, each listed once.
func (d *Data) Validate() error {
	if d.NextProducerID < 0 {
		return fmt.Errorf("%w: next producer ID %d", ErrCorrupt, d.NextProducerID)
	}
	seenFeature := map[string]bool{}
	for _, f := range d.Features {
		if f.Name == "" || f.Level < 0 || seenFeature[f.Name] {
			return fmt.Errorf("%w: feature %q at level %d (listed twice, or invalid)", ErrCorrupt, f.Name, f.Level)
		}
		seenFeature[f.Name] = true
	}
	topics := map[string]Topic{}
	ids := map[string]string{}
	for _, t := range d.Topics {
		if t.Name == "" {
			return fmt.Errorf("%w: a topic has no name", ErrCorrupt)
		}
		if _, err := t.TopicID(); err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if _, dup := topics[t.Name]; dup {
			return fmt.Errorf("%w: topic %q is listed twice", ErrCorrupt, t.Name)
		}
		if other, dup := ids[t.ID]; dup {
			return fmt.Errorf("%w: topics %q and %q share id %s", ErrCorrupt, other, t.Name, t.ID)
		}
		if t.Partitions <= 0 || t.ReplicationFactor <= 0 {
			return fmt.Errorf("%w: topic %q has %d partitions, replication factor %d", ErrCorrupt, t.Name, t.Partitions, t.ReplicationFactor)
		}
		topics[t.Name], ids[t.ID] = t, t.Name
	}
	for _, p := range d.Partitions {
		t, ok := topics[p.Topic]
		if !ok || p.Partition < 0 || p.Partition >= t.Partitions {
			return fmt.Errorf("%w: partition %s/%d belongs to no topic of the backup", ErrCorrupt, p.Topic, p.Partition)
		}
		if p.LogStart < 0 {
			return fmt.Errorf("%w: partition %s/%d: log start %d", ErrCorrupt, p.Topic, p.Partition, p.LogStart)
		}
		for i, s := range p.Segments {
			if s.Key == "" || s.End <= s.Base || s.Size <= 0 || (i > 0 && s.Base != p.Segments[i-1].End) {
				return fmt.Errorf("%w: partition %s/%d: segment %d (%d-%d %q) does not continue the manifest", ErrCorrupt, p.Topic, p.Partition, i, s.Base, s.End, s.Key)
			}
		}
		for _, a := range p.Aborted {
			if a.ProducerID < 0 || a.FirstOffset < 0 || a.MarkerOffset <= a.FirstOffset {
				return fmt.Errorf("%w: partition %s/%d: aborted transaction %+v", ErrCorrupt, p.Topic, p.Partition, a)
			}
		}
	}
	for _, g := range d.Groups {
		if g.Group == "" {
			return fmt.Errorf("%w: a group has no name", ErrCorrupt)
		}
	}
	users := map[[2]string]bool{}
	for _, u := range d.Users {
		k := [2]string{u.Name, u.Mechanism}
		switch {
		case u.Name == "" || u.Mechanism != "SCRAM-SHA-256" && u.Mechanism != "SCRAM-SHA-512":
			return fmt.Errorf("%w: a user credential has name %q, mechanism %q", ErrCorrupt, u.Name, u.Mechanism)
		case u.Iterations <= 0 || len(u.Salt) == 0 || len(u.StoredKey) == 0 || len(u.ServerKey) == 0:
			return fmt.Errorf("%w: user %q's %s credential is incomplete", ErrCorrupt, u.Name, u.Mechanism)
		case users[k]:
			return fmt.Errorf("%w: user %q's %s credential is listed twice", ErrCorrupt, u.Name, u.Mechanism)
		}
		users[k] = true
	}
	acls := map[acl.Binding]bool{}
	for _, a := range d.ACLs {
		b, err := a.Binding()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if acls[b] {
			return fmt.Errorf("%w: ACL %s is listed twice", ErrCorrupt, b)
		}
		acls[b] = true
	}
	quotas := map[quota.Entity]bool{}
	for _, q := range d.Quotas {
		e, err := q.Entity()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if quotas[e] {
			return fmt.Errorf("%w: the quotas of %s are listed twice", ErrCorrupt, e)
		}
		quotas[e] = true
	}
	tokens := map[string]bool{}
	for _, t := range d.Tokens {
		switch {
		case t.ID == "" || t.Owner == "" || t.Requester == "":
			return fmt.Errorf("%w: a delegation token has ID %q, owner %q, requester %q", ErrCorrupt, t.ID, t.Owner, t.Requester)
		case t.Issued <= 0 || t.Expires < t.Issued || t.MaxLifetime < t.Expires:
			return fmt.Errorf("%w: delegation token %q has times %d, %d, %d (issued, expires, max)", ErrCorrupt, t.ID, t.Issued, t.Expires, t.MaxLifetime)
		case tokens[t.ID]:
			return fmt.Errorf("%w: delegation token %q is listed twice", ErrCorrupt, t.ID)
		}
		tokens[t.ID] = true
	}
	return nil
}
