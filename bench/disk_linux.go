package bench

import (
	"os"
	"syscall"
)

// datasync is fdatasync(2): what Pebble's WAL does after a write.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
