package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
