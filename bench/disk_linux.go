package bench

import (
	"os"
	"syscall"
)

// datasync is fdatasync(2): what Pebble's WAL does after a write.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// writeBackAll is sync(2): every dirty page of the machine goes to disk.
func writeBackAll() { syscall.Sync() }
