package raftsm

import (
	"bytes"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// TestDropPagesEvicts: dropPages leaves none of the range in the page
// cache (mincore), and the file still reads back the same bytes.
func TestDropPagesEvicts(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && st.Type == unix.TMPFS_MAGIC {
		t.Skip("tmpfs keeps its pages: nothing to drop")
	}
	path := filepath.Join(dir, "f")
	f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	data := bytes.Repeat([]byte("p"), 4<<20)
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	resident := func() int {
		m, err := unix.Mmap(int(f.Fd()), 0, len(data), unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = unix.Munmap(m) }()
		vec := make([]byte, (len(data)+unix.Getpagesize()-1)/unix.Getpagesize())
		if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
			t.Fatal(errno)
		}
		n := 0
		for _, v := range vec {
			n += int(v & 1)
		}
		return n
	}
	if n := resident(); n == 0 {
		t.Skip("written pages are not in the page cache on this file system")
	}
	dropPages(f, 0, int64(len(data)))
	if n := resident(); n != 0 {
		t.Fatalf("%d pages still cached after dropPages", n)
	}
	got := make([]byte, len(data))
	if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back after the drop: %v, equal %v", err, bytes.Equal(got, data))
	}
}
