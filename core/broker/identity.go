package broker

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lni/dragonboat/v4/raftpb"

	"github.com/chronik-go/chronik/core/sharedlog"
)

// identityFile records which node a data directory belongs to.
const identityFile = "node.id"

// claimDataDir creates dir if needed and checks (or records) that it
// belongs to nodeID, so a data dir is never opened by the wrong node.
func claimDataDir(dir string, nodeID int32) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create data dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, identityFile)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(strconv.Itoa(int(nodeID))+"\n"), 0o644); err != nil {
			return fmt.Errorf("cannot write %s: %w", path, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
		return syncDir(dir)
	case err != nil:
		return fmt.Errorf("cannot read %s: %w", path, err)
	}
	owner, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%s is corrupt (%q): restore it or use another --data-dir", path, strings.TrimSpace(string(b)))
	}
	if int32(owner) != nodeID {
		return fmt.Errorf("data dir %s belongs to node %d, but this broker is node %d: start it with --node-id %d or use another --data-dir", dir, owner, nodeID, owner)
	}
	return nil
}

// logDBFile records which Raft log store (raft.logdb) a data dir was
// created with: Dragonboat cannot convert a log from one store to the other.
const logDBFile = "raft.logdb"

// newDataDirLogDB is the Raft log store of a data dir created without
// raft.logdb set. The shared log appends every replica's entries to one
// log and fdatasyncs it once per save round, where tan fsyncs a file per
// replica (64 partitions: ~1.2 instead of ~11 ms per round, bench/README.md
// "Partition scaling") and Pebble flushes and compacts the log (~3.2
// instead of 1.0 bytes written per payload byte, "Write amplification").
const newDataDirLogDB = sharedlog.Name

// claimLogDB returns the Raft log store dir must be opened with and records
// it the first time. configured is raft.logdb ("" when unset). A data dir
// keeps the store it was created with; one from before the record existed
// is read from Dragonboat's own flag file (pebble unless it was started with
// raft.logdb = "tan" or "sharedlog"). A configured store that differs fails, so a broker
// never opens an empty log of the other type beside the real one.
func claimLogDB(dir, configured string) (string, error) {
	path := filepath.Join(dir, logDBFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		rec := strings.TrimSpace(string(b))
		if rec != "pebble" && rec != "tan" && rec != sharedlog.Name {
			return "", fmt.Errorf("%s is corrupt (%q): it must hold sharedlog, tan or pebble", path, rec)
		}
		return rec, checkLogDB(dir, rec, configured)
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("cannot read %s: %w", path, err)
	}
	rec, err := raftLogDBType(filepath.Join(dir, "raft"))
	if err != nil {
		return "", err
	}
	if rec == "" { // no Raft data yet: a new data dir
		rec = cmp.Or(configured, newDataDirLogDB)
	}
	if err := checkLogDB(dir, rec, configured); err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(rec+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return rec, syncDir(dir)
}

func checkLogDB(dir, rec, configured string) error {
	if configured != "" && configured != rec {
		return fmt.Errorf("data dir %s holds a %s Raft log, but raft.logdb is %q: a Raft log cannot change store, so set raft.logdb = %q or remove the setting (or use another --data-dir)", dir, rec, configured, rec)
	}
	return nil
}

// raftLogDBType returns the Raft log store named in Dragonboat's flag file
// (NodeHostDir/dragonboat.ds, written when the NodeHost is first created),
// or "" when there is none yet.
func raftLogDBType(raftDir string) (string, error) {
	path := filepath.Join(raftDir, "dragonboat.ds")
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("cannot read %s: %w", path, err)
	}
	var st raftpb.RaftDataStatus
	if len(b) < 8 { // 8-byte checksum, then the message
		return "", fmt.Errorf("%s is corrupt (%d bytes)", path, len(b))
	}
	if err := st.Unmarshal(b[8:]); err != nil {
		return "", fmt.Errorf("%s is corrupt: %w", path, err)
	}
	switch {
	case strings.EqualFold(st.LogdbType, "tan"):
		return "tan", nil
	case st.LogdbType == sharedlog.Name:
		return sharedlog.Name, nil
	}
	return "pebble", nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
