package raftsm

import (
	"golang.org/x/sys/unix"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// startWriteback asks the kernel to start writing [off, off+n) of f to disk
// without waiting for it (sync_file_range with SYNC_FILE_RANGE_WRITE only).
// Files without a descriptor (in-memory file systems) are skipped; so are
// errors: the fsync at the next flush is what makes the bytes durable.
func startWriteback(f vfs.File, off, n int64) {
	if fd := f.Fd(); fd != vfs.InvalidFd {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	}
}

// dropPages waits until [off, off+n) of f is written and drops its pages
// from the page cache (sync_file_range, then POSIX_FADV_DONTNEED). Errors
// are ignored: the pages then stay until the kernel reclaims them, and the
// fsync at the next flush reports a write error.
func dropPages(f vfs.File, off, n int64) {
	if fd := f.Fd(); fd != vfs.InvalidFd {
		_ = unix.SyncFileRange(int(fd), off, n,
			unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
		_ = unix.Fadvise(int(fd), off, n, unix.FADV_DONTNEED)
	}
}
