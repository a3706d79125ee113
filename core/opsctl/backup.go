package opsctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/chronik-go/chronik/core/backup"
	"github.com/chronik-go/chronik/tiering"
)

// Backups (`chronik backup now | list | show`) go through the brokers'
// admin API (POST /v1/backups, GET /v1/backups[/{id}]); a restore
// (`chronik restore`) reads the object store directly, since no broker
// runs (docs/disaster-recovery.md).

// BackupReport is one backup's manifest (`backup now`, `backup show`).
type BackupReport struct {
	*backup.Manifest
}

// BackupNow asks the first answering broker of a to take a backup.
func BackupNow(ctx context.Context, a Admin) (*BackupReport, error) {
	var m backup.Manifest
	if err := adminDo(ctx, a, http.MethodPost, "/v1/backups", nil, &m); err != nil {
		return nil, err
	}
	return &BackupReport{&m}, nil
}

// BackupShow reads one backup's manifest through a broker.
func BackupShow(ctx context.Context, a Admin, id string) (*BackupReport, error) {
	if err := backup.CheckID(id); err != nil {
		return nil, invalidf("%v — `chronik backup list` shows the IDs", err)
	}
	var m backup.Manifest
	if err := adminDo(ctx, a, http.MethodGet, "/v1/backups/"+id, nil, &m); err != nil {
		return nil, err
	}
	return &BackupReport{&m}, nil
}

// BackupListReport is `backup list`.
type BackupListReport struct {
	Backups []backup.Summary `json:"backups"`
}

// BackupList lists the backups in the store through a broker.
func BackupList(ctx context.Context, a Admin) (*BackupListReport, error) {
	r := &BackupListReport{Backups: []backup.Summary{}}
	if err := adminDo(ctx, a, http.MethodGet, "/v1/backups", nil, &r.Backups); err != nil {
		return nil, err
	}
	return r, nil
}

// BackupListFrom lists the backups by reading the object store directly,
// with no broker running (disaster recovery).
func BackupListFrom(ctx context.Context, reg *tiering.Registry, url string) (*BackupListReport, error) {
	store, err := openFrom(ctx, reg, url)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	all, err := backup.List(ctx, store)
	if err != nil {
		return nil, failf(ErrUnreachable, err, "%v", err)
	}
	return &BackupListReport{Backups: all}, nil
}

// BackupShowFrom reads one backup's manifest from the object store.
func BackupShowFrom(ctx context.Context, reg *tiering.Registry, url, id string) (*BackupReport, error) {
	if err := backup.CheckID(id); err != nil {
		return nil, invalidf("%v — `chronik backup list` shows the IDs", err)
	}
	store, err := openFrom(ctx, reg, url)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	m, err := backup.Show(ctx, store, id)
	switch {
	case errors.Is(err, backup.ErrNotFound), errors.Is(err, backup.ErrCorrupt):
		return nil, failf(ErrInvalidInput, err, "%v", err)
	case err != nil:
		return nil, failf(ErrUnreachable, err, "%v", err)
	}
	return &BackupReport{m}, nil
}

func openFrom(ctx context.Context, reg *tiering.Registry, url string) (*tiering.Store, error) {
	if reg == nil {
		reg = tiering.Default
	}
	store, err := reg.OpenURL(ctx, url)
	if err != nil {
		return nil, invalidf("--from %s: %v", tiering.Redact(url), err)
	}
	return store, nil
}

// WriteTable lists the backups, newest last.
func (r *BackupListReport) WriteTable(w io.Writer) error {
	t := newTable(w, "ID", "CREATED", "TOPICS", "PARTITIONS", "GROUPS", "OFFSETS", "SEGMENTS", "SIZE", "COMPRESSION", "STATUS")
	for _, s := range r.Backups {
		if s.Manifest == nil {
			t.row(s.ID, "", "", "", "", "", "", "", "", "incomplete: "+s.Error)
			continue
		}
		m := s.Manifest
		t.row(m.ID, m.CreatedAt.UTC().Format(time.RFC3339), itoa(m.Topics), itoa(m.Partitions), itoa(m.Groups), itoa(m.Offsets),
			itoa(m.Segments), humanBytes(m.SizeBytes), m.Compression, "complete")
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(r.Backups) == 0 {
		_, err := fmt.Fprintln(w, "no backups yet: take one with chronik backup now")
		return err
	}
	return nil
}

// WriteTable shows the manifest: a summary, the objects, and per partition
// the offsets a restore brings back.
func (r *BackupReport) WriteTable(w io.Writer) error {
	m := r.Manifest
	return sections(w,
		func(w io.Writer) error {
			t := newTable(w)
			t.row("ID", m.ID)
			t.row("CREATED", m.CreatedAt.UTC().Format(time.RFC3339))
			t.row("CLUSTER", m.ClusterID)
			t.row("TAKEN-BY", "node "+itoa(m.Node))
			t.row("VERSION", m.ChronikVersion)
			t.row("DURATION", time.Duration(m.DurationSeconds*float64(time.Second)).Round(time.Millisecond).String())
			t.row("SIZE", fmt.Sprintf("%s (%s compressed objects)", humanBytes(m.SizeBytes), m.Compression))
			t.row("CONTENTS", fmt.Sprintf("%d topics, %d partitions, %d groups with %d offsets, %d SCRAM credentials, %d ACLs, client quotas for %d entities, %d delegation tokens",
				m.Topics, m.Partitions, m.Groups, m.Offsets, m.Users, m.ACLs, m.Quotas, m.Tokens))
			t.row("SEGMENTS", fmt.Sprintf("%d in the store, %s (not copied: tiered storage holds them)", m.Segments, humanBytes(m.SegmentBytes)))
			if m.NextProducerID > 0 {
				t.row("PRODUCER-IDS", fmt.Sprintf("below %d handed out (a restore reserves them)", m.NextProducerID))
			}
			if len(m.Features) > 0 {
				var fs []string
				for _, f := range m.Features {
					fs = append(fs, fmt.Sprintf("%s=%d", f.Name, f.Level))
				}
				t.row("FEATURES", strings.Join(fs, " "))
			}
			return t.flush()
		},
		func(w io.Writer) error {
			t := newTable(w, "OBJECT", "ITEMS", "SIZE", "RAW", "SHA256")
			for _, o := range m.Objects {
				t.row(o.Name, itoa(o.Items), humanBytes(o.Size), humanBytes(o.RawSize), o.SHA256)
			}
			return t.flush()
		},
		func(w io.Writer) error { return writeRecoveryPoint(w, m.RecoveryPoint) },
	)
}

// writeRecoveryPoint lists per partition the restorable range and what
// only the brokers' disks held.
func writeRecoveryPoint(w io.Writer, rps []backup.RecoveryPoint) error {
	if len(rps) == 0 {
		return nil
	}
	t := newTable(w, "TOPIC", "PARTITION", "RESTORES", "RECORDS", "HW-AT-BACKUP", "NOT-TIERED")
	for _, p := range rps {
		restores := ""
		if p.TieredEnd > p.LogStart {
			restores = fmt.Sprintf("%d-%d", p.LogStart, p.TieredEnd-1)
		}
		t.row(p.Topic, itoa(p.Partition), restores, itoa(max(p.TieredEnd-p.LogStart, 0)), itoa(p.HighWatermark), itoa(max(p.HighWatermark-max(p.TieredEnd, p.LogStart), 0)))
	}
	return t.flush()
}

// RestoreOptions says what `chronik restore` restores where.
type RestoreOptions struct {
	// From is the object-store URL holding the backups (tier.url).
	From string
	// Backup is the backup ID; empty means the newest complete one.
	Backup string
	// DataDir is the broker's data directory; it must be empty or missing.
	DataDir string
	// Registry opens From; nil means tiering.Default.
	Registry *tiering.Registry
}

// RestoreReport is what `chronik restore` prepared.
type RestoreReport struct {
	DataDir string       `json:"data_dir"`
	Plan    *backup.Plan `json:"plan"`
}

// PrepareRestore verifies a backup and writes it as a restore plan into an
// empty data dir, which the broker applies when it starts. Everything is
// downloaded, checksummed and decoded before the first write; on any
// error the data dir is left as it was.
func PrepareRestore(ctx context.Context, opts RestoreOptions) (*RestoreReport, error) {
	if strings.TrimSpace(opts.From) == "" {
		return nil, invalidf("give the object store holding the backups with --from URL (the cluster's tier.url, e.g. s3://bucket/prefix)")
	}
	if opts.DataDir == "" {
		return nil, invalidf("give the data dir to restore into with --data-dir, or --config and --node-id")
	}
	if err := backup.CheckEmptyDataDir(opts.DataDir); err != nil {
		return nil, invalidf("%v", err)
	}
	if opts.Backup != "" {
		if err := backup.CheckID(opts.Backup); err != nil {
			return nil, invalidf("--backup: %v", err)
		}
	}
	store, err := openFrom(ctx, opts.Registry, opts.From)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	plan, err := backup.Prepare(ctx, store, opts.Backup)
	switch {
	case errors.Is(err, backup.ErrCorrupt):
		return nil, failf(ErrInvalidInput, err, "%v\nnothing was written to %s; restore another backup with --backup ID (chronik backup list --from URL shows them)", err, opts.DataDir)
	case errors.Is(err, backup.ErrNotFound):
		return nil, failf(ErrInvalidInput, err, "%v", err)
	case err != nil:
		return nil, failf(ErrUnreachable, err, "%v\nnothing was written to %s", err, opts.DataDir)
	}
	if err := backup.WritePlan(opts.DataDir, plan); err != nil {
		return nil, err
	}
	return &RestoreReport{DataDir: opts.DataDir, Plan: plan}, nil
}

// WriteTable shows what will be restored and how to start the broker.
func (r *RestoreReport) WriteTable(w io.Writer) error {
	p := r.Plan
	m := p.Manifest
	return sections(w,
		func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "restoring backup %s of cluster %q taken %s by node %d (chronik %s)\nfrom %s\n",
				m.ID, m.ClusterID, m.CreatedAt.UTC().Format(time.RFC3339), m.Node, m.ChronikVersion, p.Source)
			for _, n := range p.Notes {
				if err == nil {
					_, err = fmt.Fprintln(w, "note: "+n)
				}
			}
			return err
		},
		func(w io.Writer) error {
			t := newTable(w, "TOPIC", "ID", "PARTITIONS", "REPLICATION", "CONFIGS")
			for _, tp := range p.Data.Topics {
				t.row(tp.Name, tp.ID, itoa(tp.Partitions), itoa(tp.ReplicationFactor), itoa(len(tp.Configs)))
			}
			return t.flush()
		},
		func(w io.Writer) error {
			t := newTable(w, "TOPIC", "PARTITION", "LOG-START", "END", "SEGMENTS", "BYTES", "LOST")
			for _, pa := range p.Data.Partitions {
				var size int64
				for _, s := range pa.Segments {
					size += s.Size
				}
				start, end := pa.Restored()
				// Records the brokers held but had not tiered yet.
				lost := max(pa.HighWatermark-end, 0)
				t.row(pa.Topic, itoa(pa.Partition), itoa(start), itoa(end), itoa(len(pa.Segments)), humanBytes(size), itoa(lost))
			}
			return t.flush()
		},
		func(w io.Writer) error {
			if len(p.Data.Groups) == 0 {
				return nil
			}
			t := newTable(w, "GROUP", "OFFSETS", "TOPICS")
			for _, g := range p.Data.Groups {
				seen, topics := map[string]bool{}, []string{}
				for _, o := range g.Offsets {
					if !seen[o.Topic] {
						seen[o.Topic] = true
						topics = append(topics, o.Topic)
					}
				}
				t.row(g.Group, itoa(len(g.Offsets)), strings.Join(topics, ","))
			}
			return t.flush()
		},
		func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "wrote the restore plan to %s\nstart the broker on this data dir (chronik serve --data-dir %s, with its usual config); it restores the plan before it serves, logging its progress.\nin a cluster, restore every node with the same backup and start them all.\n",
				backup.PlanPath(r.DataDir), r.DataDir)
			return err
		},
	)
}
