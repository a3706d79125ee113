package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chronik-go/chronik/tiering"
)

// A restore plan is a verified backup written into an empty data directory
// (<data-dir>/restore/plan.json). A broker that starts and finds one
// applies it through Raft (core/broker), then deletes it.
const (
	planDir  = "restore"
	planFile = "plan.json"
)

// Plan is what a broker restores on start.
type Plan struct {
	Format    int       `json:"format"`
	Source    string    `json:"source"` // the store, without secrets
	CreatedAt time.Time `json:"created_at"`
	Manifest  *Manifest `json:"manifest"`
	Data      *Data     `json:"data"`
	// Notes are what the verification adjusted: segments retention had
	// already deleted, segments uploaded after the backup.
	Notes []string `json:"notes,omitempty"`
}

// Prepare downloads backup id (the latest complete one if empty) from
// store, verifies every object and that the segments it refers to are
// still there, extends each partition with the segments uploaded after
// the backup (ExtendSegments), and returns the plan. It writes nothing.
func Prepare(ctx context.Context, store *tiering.Store, id string) (*Plan, error) {
	m, d, err := Load(ctx, store, id)
	if err != nil {
		return nil, err
	}
	notes, err := CheckSegments(ctx, store, d)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", m.ID, err)
	}
	more, err := ExtendSegments(ctx, store, d)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", m.ID, err)
	}
	notes = append(notes, more...)
	return &Plan{Format: FormatVersion, Source: store.String(), CreatedAt: time.Now().UTC(), Manifest: m, Data: d, Notes: notes}, nil
}

// PlanPath is where a data directory's restore plan lives.
func PlanPath(dataDir string) string { return filepath.Join(dataDir, planDir, planFile) }

// CheckEmptyDataDir fails unless dir is missing or an empty directory: a
// restore never writes next to existing state.
func CheckEmptyDataDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("cannot read data dir %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("data dir %s is not empty (%d entries, e.g. %s): a restore only goes into an empty data dir; nothing was changed — point --data-dir at an empty directory", dir, len(entries), entries[0].Name())
	}
	return nil
}

// WritePlan writes p into dataDir, which must be empty or missing; the file
// appears atomically, complete or not at all.
func WritePlan(dataDir string, p *Plan) error {
	if err := CheckEmptyDataDir(dataDir); err != nil {
		return err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	dir := filepath.Join(dataDir, planDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", dir, err)
	}
	tmp := filepath.Join(dir, planFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, PlanPath(dataDir))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.RemoveAll(dataDir)
		return fmt.Errorf("cannot write the restore plan into %s: %w", dataDir, err)
	}
	return nil
}

// ReadPlan returns the data directory's restore plan, if it has one.
func ReadPlan(dataDir string) (*Plan, bool, error) {
	b, err := os.ReadFile(PlanPath(dataDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var p Plan
	err = json.Unmarshal(b, &p)
	if err == nil && (p.Manifest == nil || p.Data == nil) {
		err = errors.New("no manifest or data")
	}
	if err != nil {
		return nil, false, fmt.Errorf("restore plan %s is corrupt (%w): run chronik restore again into an empty data dir", PlanPath(dataDir), err)
	}
	if p.Format > FormatVersion {
		return nil, false, fmt.Errorf("restore plan %s has format %d; this chronik reads up to %d", PlanPath(dataDir), p.Format, FormatVersion)
	}
	if err := p.Data.Validate(); err != nil {
		return nil, false, fmt.Errorf("restore plan %s: %w", PlanPath(dataDir), err)
	}
	return &p, true, nil
}

// RemovePlan deletes the data directory's restore plan once applied.
func RemovePlan(dataDir string) error {
	if err := os.RemoveAll(filepath.Join(dataDir, planDir)); err != nil {
		return err
	}
	return syncDir(dataDir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
