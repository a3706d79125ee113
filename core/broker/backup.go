package broker

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/lni/dragonboat/v4"
	sm "github.com/lni/dragonboat/v4/statemachine"
	"go.opentelemetry.io/otel/metric"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/core/backup"
	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/core/quota"
	"github.com/chronik-go/chronik/raftsm"
	"github.com/chronik-go/chronik/tiering"
)

// Disaster recovery on the broker (docs/disaster-recovery.md): collecting
// a backup (core/backup writes it), scheduling backups on the meta
// leader, and applying a restore plan found in the data dir at start.

// recovery is the broker's disaster-recovery state.
type recovery struct {
	coords []*raftsm.Coordinator // this node's coordinator state machines, by shard
	store  *tiering.Store        // the root of the tier.url store
	backup *backup.Service
	stop   context.CancelFunc
	done   chan struct{}
}

// startBackups starts the backup service and, with a schedule configured,
// its scheduler (which takes backups only while this broker leads the
// meta shard).
func (b *Broker) startBackups(meter metric.Meter) error {
	c := b.cfg.Backup
	svc, err := backup.NewService(backup.Config{
		Interval: c.Interval, LogGrowthEntries: c.LogGrowthEntries, Keep: c.Keep, Compression: c.Compression,
	}, b.dr.store, backup.Info{ClusterID: b.cfg.Kafka.ClusterID, Node: b.cfg.NodeID}, b.collectBackup, meter, b.log)
	if err != nil {
		return err
	}
	b.dr.backup = svc
	if b.cfg.Tier.URL == "" && (c.Interval > 0 || c.LogGrowthEntries > 0) {
		b.log.Warn("backups go to <data-dir>/tier, which is lost with this disk: set tier.url to an object store to make them useful for disaster recovery",
			"data", b.cfg.DataDir)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.dr.stop, b.dr.done = cancel, make(chan struct{})
	go func() {
		defer close(b.dr.done)
		svc.Run(ctx, b.leadsMeta, b.metadataEntries)
	}()
	return nil
}

func (b *Broker) stopBackups() {
	if b.dr.stop != nil {
		b.dr.stop()
		<-b.dr.done
	}
}

// leadsMeta reports whether this broker leads the meta shard.
func (b *Broker) leadsMeta() bool {
	id, _, ok, err := b.nh.GetLeaderID(raftsm.MetaShardID)
	return err == nil && ok && raftsm.BrokerOfReplica(id) == b.cfg.NodeID
}

// metadataEntries counts the Raft entries applied by the meta and
// coordinator shards: the log-growth trigger of scheduled backups.
func (b *Broker) metadataEntries() uint64 {
	n := b.meta.View().Applied
	for _, c := range b.dr.coords {
		n += c.AppliedIndex()
	}
	return n
}

// Backup takes a backup now (POST /v1/backups).
func (b *Broker) Backup(ctx context.Context) (*backup.Manifest, error) {
	if b.dr.backup == nil {
		return nil, errors.New("backups are not available: the broker is starting")
	}
	return b.dr.backup.Backup(ctx)
}

// barrier waits until the local replica of shard has applied everything
// committed before the call (a ReadIndex).
func (b *Broker) barrier(ctx context.Context, shard uint64) error {
	return retryTemp(ctx, func(ctx context.Context) error {
		_, err := b.nh.SyncRead(ctx, shard, nil)
		return err
	})
}

// retryTemp runs fn with a 5s deadline per attempt until it succeeds, fails
// permanently, or ctx ends; Dragonboat's temporary errors (no leader yet,
// busy, timeout) are retried.
func retryTemp(ctx context.Context, fn func(context.Context) error) error {
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := fn(actx)
		cancel()
		temporary := dragonboat.IsTempError(err) || errors.Is(err, context.DeadlineExceeded)
		if err == nil || ctx.Err() != nil || !temporary {
			if err != nil && ctx.Err() != nil {
				return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
			}
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// collectBackup exports topics, committed offsets and partition manifests.
// Each shard is read after a ReadIndex, so the export holds everything
// committed before the backup started; partition manifests come from the
// local replicas, or from their leaders' admin API.
func (b *Broker) collectBackup(ctx context.Context) (*backup.Data, error) {
	d := &backup.Data{Topics: []backup.Topic{}, Groups: []backup.Group{}, Partitions: []backup.Partition{}}
	if err := b.barrier(ctx, raftsm.MetaShardID); err != nil {
		return nil, fmt.Errorf("meta shard: %w", err)
	}
	d.NextProducerID = b.cluster.NextProducerID()
	levels := b.cluster.Features().Levels
	for _, name := range slices.Sorted(maps.Keys(levels)) {
		d.Features = append(d.Features, backup.Feature{Name: name, Level: levels[name]})
	}
	for _, c := range b.cluster.ScramCredentials() {
		d.Users = append(d.Users, backup.User{
			Name: c.User, Mechanism: scramMechanismName(c.Mechanism), Iterations: c.Iterations,
			Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey,
		})
	}
	for _, x := range b.cluster.ACLs().Bindings() {
		d.ACLs = append(d.ACLs, backup.ACLOf(x))
	}
	quotas := b.cluster.Quotas()
	for _, e := range quotas.Entities() {
		d.Quotas = append(d.Quotas, backup.QuotaOf(e, quotas.Quotas(e)))
	}
	now := time.Now().UnixMilli()
	for _, t := range b.cluster.Tokens() {
		if t.Expires >= now {
			d.Tokens = append(d.Tokens, backup.Token{
				ID: t.ID, Owner: t.Owner, Requester: t.Requester, Renewers: t.Renewers,
				Issued: t.Issued, Expires: t.Expires, MaxLifetime: t.MaxLifetime,
			})
		}
	}
	topics := b.cluster.Topics()
	for _, t := range topics {
		rf := 1
		if len(t.Partitions) > 0 {
			rf = len(t.Partitions[0].Nodes)
		}
		d.Topics = append(d.Topics, backup.Topic{
			Name: t.Name, ID: hex.EncodeToString(t.ID[:]), Configs: nonNil(t.Configs),
			Partitions: int32(len(t.Partitions)), ReplicationFactor: int16(rf),
		})
	}
	for _, c := range b.dr.coords {
		if err := b.barrier(ctx, c.ShardID()); err != nil {
			return nil, fmt.Errorf("coordinator shard %d: %w", c.ShardID(), err)
		}
		for _, g := range c.GroupIDs() {
			offs := c.Offsets(g)
			if len(offs) == 0 {
				continue // metadata only: nothing a consumer resumes from
			}
			bg := backup.Group{Group: g, Offsets: make([]backup.Offset, 0, len(offs))}
			if rec, ok := c.Group(g); ok {
				bg.ProtocolType, bg.Generation = rec.ProtocolType, rec.Generation
			}
			for tp, o := range offs {
				bg.Offsets = append(bg.Offsets, backup.Offset{
					Topic: tp.Topic, Partition: tp.Partition, Offset: o.Offset, LeaderEpoch: o.LeaderEpoch,
					Metadata: o.Metadata, CommitTimestamp: o.CommitTimestamp, ExpireTimestamp: o.ExpireTimestamp,
				})
			}
			sort.Slice(bg.Offsets, func(i, j int) bool {
				x, y := bg.Offsets[i], bg.Offsets[j]
				return x.Topic < y.Topic || x.Topic == y.Topic && x.Partition < y.Partition
			})
			d.Groups = append(d.Groups, bg)
		}
	}
	sort.Slice(d.Groups, func(i, j int) bool { return d.Groups[i].Group < d.Groups[j].Group })
	// Partitions with no replica here: from the brokers holding one, the
	// leader's manifest if it answers, else the most advanced follower's
	// (a follower's manifest is a prefix of the leader's).
	answers := map[int32][]peerManifest{}
	for _, t := range topics {
		for _, p := range t.Partitions {
			tp := partition.TP{Topic: t.Name, Partition: p.Index}
			if lg, ok := b.parts.Log(tp); ok {
				m, err := manifestOf(tp, lg)
				if err != nil {
					return nil, err
				}
				d.Partitions = append(d.Partitions, m)
				continue
			}
			var best *peerManifest
			var errs []error
			for _, node := range p.Nodes {
				got, ok := answers[node]
				if !ok {
					var err error
					if got, err = b.peerManifests(ctx, node); err != nil {
						errs = append(errs, err)
					}
					answers[node] = got
				}
				for i := range got {
					m := &got[i]
					if m.Topic == tp.Topic && m.Partition.Partition == tp.Partition &&
						(best == nil || m.Leader && !best.Leader || m.Leader == best.Leader && m.TieredEnd > best.TieredEnd) {
						best = m
					}
				}
			}
			if best == nil {
				return nil, fmt.Errorf("partition %s/%d: no broker holding it (%v) reported its manifest: %w", tp.Topic, tp.Partition, p.Nodes, errors.Join(errs...))
			}
			d.Partitions = append(d.Partitions, best.Partition)
		}
	}
	sort.Slice(d.Partitions, func(i, j int) bool {
		x, y := d.Partitions[i], d.Partitions[j]
		return x.Topic < y.Topic || x.Topic == y.Topic && x.Partition < y.Partition
	})
	return d, nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// manifestOf exports one local replica's manifest, with the aborted
// transactions of its tiered range.
func manifestOf(tp partition.TP, lg *raftsm.Partition) (backup.Partition, error) {
	segs := lg.Segments()
	p := backup.Partition{
		Topic: tp.Topic, Partition: tp.Partition, LogStart: lg.LogStartOffset(),
		TieredEnd: lg.TieredEnd(), HighWatermark: lg.HighWatermark(), Segments: backup.FromRecords(segs),
	}
	// The segments are read after the counters, so a segment committed in
	// between may be listed past TieredEnd; the manifest decides.
	if n := len(segs); n > 0 {
		p.TieredEnd = segs[n-1].EndOffset
	}
	aborted, err := lg.AbortedMarkers(0, p.TieredEnd)
	if err != nil {
		return p, fmt.Errorf("%s/%d: aborted transactions: %w", tp.Topic, tp.Partition, err)
	}
	p.Aborted = backup.FromAborted(aborted)
	return p, nil
}

// peerManifest is one replica's manifest as GET /v1/tier/manifests
// reports it.
type peerManifest struct {
	backup.Partition
	Leader bool `json:"leader"`
}

// peerManifests reads GET /v1/tier/manifests from a broker.
func (b *Broker) peerManifests(ctx context.Context, node int32) ([]peerManifest, error) {
	addr := ""
	if r, ok := b.cluster.BrokerRecord(node); ok {
		addr = r.HTTP
	}
	if n, ok := b.cfg.Node(node); ok && addr == "" {
		addr = n.HTTP
	}
	if addr == "" {
		return nil, fmt.Errorf("broker %d leads partitions with no replica here, and its HTTP address is unknown", node)
	}
	resp, err := b.admin.Do(ctx, http.MethodGet, addr, "/v1/tier/manifests", nil)
	if err != nil {
		return nil, fmt.Errorf("partition manifests from broker %d (%s): %w", node, addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("partition manifests from broker %d (%s): %s", node, addr, resp.Status)
	}
	var out []peerManifest
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("partition manifests from broker %d (%s): %w", node, addr, err)
	}
	return out, nil
}

// localManifests are the manifests of this broker's replicas; one that
// cannot be read is left out (and logged), so a backup takes it from
// another replica or fails.
func (b *Broker) localManifests() []peerManifest {
	out := []peerManifest{}
	for _, r := range b.parts.LocalReplicas() {
		m, err := manifestOf(r.TP, r.Log)
		if err != nil {
			b.log.Error("partition manifest for a backup", "err", err)
			continue
		}
		out = append(out, peerManifest{Partition: m, Leader: r.IsLeader})
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i].Partition, out[j].Partition
		return x.Topic < y.Topic || x.Topic == y.Topic && x.Partition < y.Partition
	})
	return out
}

// restoreFromPlan applies a restore plan left in the data dir by chronik
// restore (or serve --recover-from), before tiering starts: topics with
// their original UUIDs and configs, committed offsets, and the manifest of
// every partition with a replica here. Every step is idempotent (a topic
// that exists with the same UUID, a group that has offsets and a partition
// that is not empty are left alone), so a broker that crashes part way
// re-applies the plan on its next start, and every broker of a cluster
// applies the same plan: each restores the partitions it holds. The plan
// is deleted once done.
func (b *Broker) restoreFromPlan(ctx context.Context) error {
	plan, ok, err := backup.ReadPlan(b.cfg.DataDir)
	if err != nil || !ok {
		return err
	}
	d := plan.Data
	log := b.log.With("backup", plan.Manifest.ID)
	start := time.Now()
	log.Info("restoring from backup", "source", plan.Source, "created", plan.Manifest.CreatedAt,
		"topics", len(d.Topics), "partitions", len(d.Partitions), "groups", len(d.Groups))
	known := map[string]bool{}
	for _, t := range d.Topics {
		known[t.Name] = true
	}
	for name := range b.meta.View().Topics {
		if !known[name] {
			log.Warn("the cluster has a topic the backup does not; leaving it alone", "topic", name)
		}
	}

	for i, t := range d.Topics {
		id, _ := t.TopicID() // validated by ReadPlan
		err := retryMeta(ctx, func(ctx context.Context) error {
			_, err := b.cluster.RestoreTopic(ctx, t.Name, id, t.Configs, t.Partitions, t.ReplicationFactor)
			return err
		})
		if err != nil {
			return fmt.Errorf("restore: topic %q: %w (the restore plan stays in %s; fix the cause and start again, or delete it to start without restoring)",
				t.Name, err, backup.PlanPath(b.cfg.DataDir))
		}
		log.Info("restore: topic created", "topic", t.Name, "id", t.ID, "partitions", t.Partitions, "progress", fmt.Sprintf("%d/%d", i+1, len(d.Topics)))
	}

	if d.NextProducerID > 0 {
		if err := b.cluster.ReserveProducerIDs(ctx, d.NextProducerID); err != nil {
			return fmt.Errorf("restore: producer IDs: %w (the restore plan stays in %s)", err, backup.PlanPath(b.cfg.DataDir))
		}
		log.Info("restore: producer IDs below the backup's reserved", "next_producer_id", d.NextProducerID)
	}
	users, err := b.restoreUsers(ctx, d.Users)
	if err != nil {
		return fmt.Errorf("restore: %w (the restore plan stays in %s)", err, backup.PlanPath(b.cfg.DataDir))
	}
	if len(d.Users) > 0 {
		log.Info("restore: SCRAM credentials restored", "credentials", users, "of", len(d.Users))
	}
	acls, err := b.restoreACLs(ctx, d.ACLs)
	if err != nil {
		return fmt.Errorf("restore: %w (the restore plan stays in %s)", err, backup.PlanPath(b.cfg.DataDir))
	}
	if len(d.ACLs) > 0 {
		log.Info("restore: ACLs restored", "acls", acls, "of", len(d.ACLs))
	}
	quotas, err := b.restoreQuotas(ctx, d.Quotas)
	if err != nil {
		return fmt.Errorf("restore: %w (the restore plan stays in %s)", err, backup.PlanPath(b.cfg.DataDir))
	}
	if len(d.Quotas) > 0 {
		log.Info("restore: client quotas restored", "entities", quotas, "of", len(d.Quotas))
	}
	tokens, err := b.restoreTokens(ctx, d.Tokens)
	if err != nil {
		return fmt.Errorf("restore: %w (the restore plan stays in %s)", err, backup.PlanPath(b.cfg.DataDir))
	}
	if len(d.Tokens) > 0 {
		log.Info("restore: delegation tokens restored", "tokens", tokens, "of", len(d.Tokens), "expired_since", len(d.Tokens)-tokens)
	}
	features, err := b.restoreFeatures(ctx, d.Features)
	if err != nil {
		return fmt.Errorf("restore: %w (the restore plan stays in %s)", err, backup.PlanPath(b.cfg.DataDir))
	}
	if len(d.Features) > 0 {
		log.Info("restore: feature levels restored", "features", features, "of", len(d.Features))
	}

	ends := map[partition.TP]int64{}
	for _, p := range d.Partitions {
		_, ends[partition.TP{Topic: p.Topic, Partition: p.Partition}] = p.Restored()
	}
	groups, err := b.restoreGroups(ctx, d.Groups, ends)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	log.Info("restore: committed offsets restored", "groups", groups, "of", len(d.Groups))

	restored, last := 0, time.Now()
	for i, p := range d.Partitions {
		did, err := b.restorePartition(ctx, p)
		if err != nil {
			return fmt.Errorf("restore: partition %s/%d: %w", p.Topic, p.Partition, err)
		}
		if did {
			restored++
		}
		if time.Since(last) > 2*time.Second || i == len(d.Partitions)-1 {
			last = time.Now()
			log.Info("restore: partitions", "progress", fmt.Sprintf("%d/%d", i+1, len(d.Partitions)), "restored_here", restored)
		}
	}
	if err := backup.RemovePlan(b.cfg.DataDir); err != nil {
		return fmt.Errorf("restore: done, but cannot delete the plan: %w", err)
	}
	log.Info("restore complete", "duration", time.Since(start).Round(time.Millisecond).String(),
		"topics", len(d.Topics), "partitions_restored_here", restored, "groups", groups)
	return nil
}

// retryMeta is retryTemp for a meta-shard proposal: no meta leader yet
// (cluster.ErrNotController) is retried too.
func retryMeta(ctx context.Context, propose func(ctx context.Context) error) error {
	return retryTemp(ctx, func(ctx context.Context) error {
		err := propose(ctx)
		if errors.Is(err, cluster.ErrNotController) {
			return dragonboat.ErrTimeout // retried: no meta leader yet
		}
		return err
	})
}

// restoreUsers sets every SCRAM credential of the backup that the cluster
// does not hold (one set since, by user and mechanism, is left alone). It
// returns how many it set.
func (b *Broker) restoreUsers(ctx context.Context, users []backup.User) (int, error) {
	n := 0
	for _, u := range users {
		mech := scramMechanisms[u.Mechanism] // validated by ReadPlan
		if _, ok := b.cluster.ScramCredential(u.Name, mech); ok {
			continue
		}
		c := raftsm.ScramCredential{User: u.Name, Mechanism: mech, Iterations: u.Iterations, Salt: u.Salt, StoredKey: u.StoredKey, ServerKey: u.ServerKey}
		err := retryMeta(ctx, func(ctx context.Context) error {
			return b.cluster.SetScram(ctx, c)
		})
		if err != nil {
			return n, fmt.Errorf("user %q's %s credential: %w", u.Name, u.Mechanism, err)
		}
		n++
	}
	return n, nil
}

// restoreTokens creates every delegation token of the backup that has not
// expired since and that the cluster does not hold. It returns how many
// it created.
func (b *Broker) restoreTokens(ctx context.Context, tokens []backup.Token) (int, error) {
	n := 0
	for _, t := range tokens {
		if _, ok := b.cluster.Token(t.ID); ok || t.Expires < time.Now().UnixMilli() {
			continue
		}
		tok := raftsm.DelegationToken{
			ID: t.ID, Owner: t.Owner, Requester: t.Requester, Renewers: t.Renewers,
			Issued: t.Issued, Expires: t.Expires, MaxLifetime: t.MaxLifetime,
		}
		err := retryMeta(ctx, func(ctx context.Context) error {
			return b.cluster.CreateToken(ctx, tok)
		})
		if err != nil {
			return n, fmt.Errorf("delegation token %q: %w", t.ID, err)
		}
		n++
	}
	return n, nil
}

// restoreACLs creates, in one proposal, every ACL of the backup that the
// cluster lacks (those it has, as after a restore cut short, are left
// alone). It returns how many it created.
func (b *Broker) restoreACLs(ctx context.Context, acls []backup.ACL) (int, error) {
	have := b.cluster.ACLs()
	var missing []acl.Binding
	for _, a := range acls {
		x, err := a.Binding() // validated by ReadPlan
		if err != nil {
			return 0, err
		}
		if !have.Contains(x) {
			missing = append(missing, x)
		}
	}
	if len(missing) == 0 {
		return 0, nil
	}
	err := retryMeta(ctx, func(ctx context.Context) error {
		return b.cluster.CreateACLs(ctx, missing)
	})
	if err != nil {
		return 0, fmt.Errorf("ACLs: %w", err)
	}
	return len(missing), nil
}

// restoreFeatures sets the feature levels of the backup that the cluster
// has not set (a restore cut short, or set since, keeps what it has). It
// returns how many it set.
func (b *Broker) restoreFeatures(ctx context.Context, features []backup.Feature) (int, error) {
	set := 0
	for _, f := range features {
		name := f.Name
		if _, have := b.cluster.Features().Levels[name]; have {
			continue
		}
		err := retryMeta(ctx, func(ctx context.Context) error {
			return b.cluster.SetFeature(ctx, name, f.Level)
		})
		if err != nil {
			return set, fmt.Errorf("feature %s: %w", name, err)
		}
		set++
	}
	return set, nil
}

// restoreQuotas sets, in one proposal, the quotas of every entity of the
// backup that the cluster has no quotas for; an entity it has quotas for
// (as after a restore cut short, or set since) is left alone, even where
// they differ. It returns how many entities it set.
func (b *Broker) restoreQuotas(ctx context.Context, quotas []backup.Quota) (int, error) {
	have := b.cluster.Quotas()
	var missing []quota.Alteration
	for _, q := range quotas {
		e, err := q.Entity() // validated by ReadPlan
		if err != nil {
			return 0, err
		}
		if have.Quotas(e) != nil {
			continue
		}
		a := quota.Alteration{Entity: e}
		for _, k := range slices.Sorted(maps.Keys(q.Quotas)) {
			a.Ops = append(a.Ops, quota.Op{Key: k, Value: q.Quotas[k]})
		}
		missing = append(missing, a)
	}
	if len(missing) == 0 {
		return 0, nil
	}
	if err := requireQuotaLevel(b.cluster, missing); err != nil {
		return 0, fmt.Errorf("client quotas: %w", err)
	}
	err := retryMeta(ctx, func(ctx context.Context) error {
		return b.cluster.AlterQuotas(ctx, missing)
	})
	if err != nil {
		return 0, fmt.Errorf("client quotas: %w", err)
	}
	return len(missing), nil
}

// restoreGroups restores the committed offsets of every group that has
// none yet, as an empty group (its members rejoin) whose offsets expire
// offsets.retention.minutes after the restore. An offset past its
// partition's restored end (the consumer had read records that were not
// tiered yet) becomes that end: the consumer resumes with the first record
// produced after the restore instead of skipping it. It returns how many
// groups it restored.
func (b *Broker) restoreGroups(ctx context.Context, groups []backup.Group, ends map[partition.TP]int64) (int, error) {
	n, done := len(b.dr.coords), 0
	now := time.Now().UnixMilli()
	for _, g := range groups {
		shard := raftsm.CoordinatorShardID(g.Group, n)
		c := b.dr.coords[shard-raftsm.FirstCoordinatorShardID]
		if err := b.barrier(ctx, shard); err != nil {
			return done, fmt.Errorf("group %q: coordinator shard %d: %w", g.Group, shard, err)
		}
		if c.HasOffsets(g.Group) {
			continue
		}
		var cmds [][]byte
		if !c.HasGroup(g.Group) && g.ProtocolType != "" {
			cmds = append(cmds, raftsm.EncodeStoreGroup(&raftsm.GroupRecord{
				Group: g.Group, ProtocolType: g.ProtocolType, Generation: g.Generation, Timestamp: now,
			}))
		}
		offs := make([]raftsm.CommittedOffset, 0, len(g.Offsets))
		for _, o := range g.Offsets {
			if end, ok := ends[partition.TP{Topic: o.Topic, Partition: o.Partition}]; ok && o.Offset > end {
				b.log.Warn("restore: committed offset is past the recovery point; the group resumes there",
					"group", g.Group, "topic", o.Topic, "partition", o.Partition, "committed", o.Offset, "resumes_at", end)
				o.Offset = end
			}
			offs = append(offs, raftsm.CommittedOffset{
				TopicPartition: raftsm.TopicPartition{Topic: o.Topic, Partition: o.Partition},
				OffsetRecord: raftsm.OffsetRecord{
					Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata,
					CommitTimestamp: o.CommitTimestamp, ExpireTimestamp: o.ExpireTimestamp,
				},
			})
		}
		cmds = append(cmds, raftsm.EncodeCommitOffsets(g.Group, offs))
		for _, cmd := range cmds {
			if _, err := b.proposeOn(ctx, shard, cmd); err != nil {
				return done, fmt.Errorf("group %q: %w", g.Group, err)
			}
		}
		done++
	}
	return done, nil
}

// restorePartition proposes a partition's manifest if this broker holds a
// replica of it; other brokers restore the others. It reports whether
// this call restored it.
func (b *Broker) restorePartition(ctx context.Context, p backup.Partition) (bool, error) {
	tp := partition.TP{Topic: p.Topic, Partition: p.Partition}
	t, ok := b.cluster.Topic(p.Topic)
	if !ok || int(p.Partition) >= len(t.Partitions) {
		return false, errors.New("its topic is gone")
	}
	pl := t.Partitions[p.Partition]
	start, end := p.Restored()
	if !slices.Contains(pl.Nodes, b.cfg.NodeID) || end == 0 {
		return false, nil
	}
	var lg *raftsm.Partition
	for since := time.Now(); lg == nil; {
		if lg, ok = b.parts.Log(tp); ok {
			break
		}
		if time.Since(since) > 5*time.Second {
			since = time.Now()
			b.log.Info("restore: waiting for the local replica to start", "topic", tp.Topic, "partition", tp.Partition)
		}
		select { // the reconciler starts the replica
		case <-ctx.Done():
			return false, fmt.Errorf("its replica did not start here: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if lg.HighWatermark() > 0 || len(lg.Segments()) > 0 {
		return false, nil // restored already (by an earlier start or another broker)
	}
	res, err := b.proposeOn(ctx, pl.ShardID, raftsm.EncodeRestorePartition(start, backup.Records(p.Segments), backup.AbortedMarkers(p.Aborted)))
	if err != nil {
		return false, err
	}
	switch st := raftsm.ResultStatus(res.Data); st {
	case raftsm.StatusOK:
		return true, nil
	case raftsm.StatusNotEmpty:
		if int64(res.Value) != end {
			b.log.Warn("restore: partition already holds data; left as it is", "topic", tp.Topic, "partition", tp.Partition, "high_watermark", res.Value)
		}
		return false, nil
	default:
		return false, fmt.Errorf("restore command refused: %s", st)
	}
}

// proposeOn commits a command on a shard with a local replica, retrying
// while the shard has no leader.
func (b *Broker) proposeOn(ctx context.Context, shard uint64, cmd []byte) (sm.Result, error) {
	var res sm.Result
	err := retryTemp(ctx, func(ctx context.Context) error {
		var err error
		res, err = b.nh.SyncPropose(ctx, b.nh.GetNoOPSession(shard), cmd)
		return err
	})
	if err == nil {
		if st := raftsm.ResultStatus(res.Data); st == raftsm.StatusMalformed || st == raftsm.StatusUnsupportedCmd {
			err = fmt.Errorf("shard %d refused the command: %s", shard, st)
		}
	}
	return res, err
}

// peerProbeTimeout bounds how long a cold start waits for a live peer.
const peerProbeTimeout = 2 * time.Second

// PrepareRecovery is serve --recover-from: when cfg's data dir is empty
// and no live cluster answers (a single node never asks), it verifies the
// newest complete backup in the store at url and writes it as the data
// dir's restore plan, which Start then applies. It reports whether it
// wrote a plan. A data dir with state is left alone: the flag is harmless
// on later starts.
func PrepareRecovery(ctx context.Context, cfg config.Config, url string, log *slog.Logger) (bool, error) {
	if err := backup.CheckEmptyDataDir(cfg.DataDir); err != nil {
		log.Info("data dir is not empty: --recover-from is ignored", "data", cfg.DataDir)
		return false, nil
	}
	for _, n := range cfg.Nodes {
		if n.ID == cfg.NodeID {
			continue
		}
		for _, addr := range []string{n.Kafka, n.HTTP} {
			if addr == "" {
				continue
			}
			c, err := net.DialTimeout("tcp", addr, peerProbeTimeout)
			if err == nil {
				c.Close()
				log.Info("a live cluster answers: starting without restoring (this node joins it)", "peer", n.ID, "addr", addr)
				return false, nil
			}
		}
	}
	store, err := tiering.Default.OpenURL(ctx, url)
	if err != nil {
		return false, fmt.Errorf("--recover-from %s: %w", tiering.Redact(url), err)
	}
	defer store.Close()
	log.Info("empty data dir and no live cluster: recovering from the newest backup", "from", store.String())
	plan, err := backup.Prepare(ctx, store, "")
	if err != nil {
		return false, fmt.Errorf("--recover-from %s: %w (nothing was written to %s)", store, err, cfg.DataDir)
	}
	for _, n := range plan.Notes {
		log.Warn("restore: " + n)
	}
	if err := backup.WritePlan(cfg.DataDir, plan); err != nil {
		return false, err
	}
	log.Info("restore plan written", "backup", plan.Manifest.ID, "created", plan.Manifest.CreatedAt, "topics", len(plan.Data.Topics),
		"partitions", len(plan.Data.Partitions), "groups", len(plan.Data.Groups))
	return true, nil
}
