//go:build !linux

package raftsm

import "github.com/cockroachdb/pebble/v2/vfs"

// startWriteback does nothing where sync_file_range is missing: the fsync
// at the next flush writes the bytes.
func startWriteback(vfs.File, int64, int64) {}

// dropPages does nothing where sync_file_range is missing: the kernel
// reclaims the pages when it needs them.
func dropPages(vfs.File, int64, int64) {}
