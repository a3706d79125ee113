package sharedlog

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Direct writes. A large save round (a busy partition's batches) writes its
// whole pages with O_DIRECT: the kernel takes them straight from the
// store's buffer instead of copying them into the page cache and writing
// them back from there at the fdatasync. On this machine that cut the
// brokers' CPU per record by a quarter to a third and raised produce
// throughput by 15–25 % (bench/README.md "Direct writes of the Raft log";
// alone, in BenchmarkSaveRound, it saves less, and costs a little on the
// 64-partition shape). The partial pages at either end, and rounds smaller
// than Options.DirectBytes, are written through the page cache as before,
// so the file format and small rounds (commit-index updates, trickle
// partitions) are unchanged, and every byte is on disk when the round's
// fdatasync returns either way. O_DIRECT needs the file offset, the length
// and the memory 4 KiB aligned: the round's buffer is kept at the same
// offset within a page as the round's place in the file. A file system
// without O_DIRECT (tmpfs on older kernels), or a direct write that fails,
// gets page-cache writes until the store is opened again.

// pageSize is the alignment O_DIRECT asks for: file offset, length and
// memory address (4 KiB covers every logical block size in use).
const pageSize = 4096

// DefaultDirectBytes is the smallest save round written with direct I/O.
const DefaultDirectBytes = 64 << 10

// minBufBytes is the smallest buffer allocated for a round.
const minBufBytes = 64 << 10

// maxKeptBufBytes is the largest round buffer kept for the next round. A
// busy node's rounds reach 4–8 MiB (64 partitions at full rate), and the
// buffer grows to twice what a round needs: kept only up to 8 MiB, it was
// dropped after every such round and grown again from 64 KiB by doubling,
// a sixth of the broker's allocations (bench/README.md "Allocations on
// the produce path").
const maxKeptBufBytes = 32 << 20

// openDirectLocked opens the current segment for direct writes, closing
// the previous segment's, unless direct writes are off.
func (s *Store) openDirectLocked() {
	if s.direct != nil {
		_ = s.direct.Close()
		s.direct = nil
	}
	if s.opts.DirectBytes < 0 || s.noDirect {
		return
	}
	f, err := os.OpenFile(s.cur.path, os.O_WRONLY|unix.O_DIRECT, 0)
	if err != nil {
		s.directUnavailable(err)
		return
	}
	s.direct = f
}

// directUnavailable turns direct writes off until the store is opened
// again, after the file system refused them or one failed.
func (s *Store) directUnavailable(err error) {
	if s.direct != nil {
		_ = s.direct.Close()
		s.direct = nil
	}
	s.noDirect = true
	if s.opts.Logger != nil {
		s.opts.Logger.Warn("raft log: direct I/O unavailable, writing through the page cache until the next start", "dir", s.dir, "err", err)
	}
}

// writeAt writes b at off in the current segment: the whole pages in the
// middle of a large round directly, the rest through the page cache. It
// returns how many bytes went directly.
func (s *Store) writeAt(b []byte, off int64) (int, error) {
	if s.direct != nil && len(b) >= s.directBytes() {
		head := int(-off & (pageSize - 1)) // up to the first page boundary
		if head < len(b) {
			mid := (len(b) - head) &^ (pageSize - 1)
			if mid > 0 && uintptr(unsafe.Pointer(&b[head]))&(pageSize-1) == 0 {
				if _, err := s.cur.f.WriteAt(b[:head], off); err != nil {
					return 0, err
				}
				_, err := s.direct.WriteAt(b[head:head+mid], off+int64(head))
				if err == nil {
					_, err = s.cur.f.WriteAt(b[head+mid:], off+int64(head+mid))
					return mid, err
				}
				// Refused (EINVAL: a file system that takes the flag but
				// not the writes) or failed: write it all through the
				// cache, which reports a real failure (a full disk, an
				// I/O error) again, here or at the fdatasync.
				s.directUnavailable(err)
			}
		}
	}
	_, err := s.cur.f.WriteAt(b, off)
	return 0, err
}

// directBytes is the smallest round written with direct I/O.
func (s *Store) directBytes() int {
	if s.opts.DirectBytes == 0 {
		return DefaultDirectBytes
	}
	return s.opts.DirectBytes
}

// reserveLocked makes room for n more bytes in the round's buffer. A round
// starts at the same offset within a page in memory as in the file, so
// that its whole pages can be written directly.
func (s *Store) reserveLocked(n int) {
	phase := int(s.off & (pageSize - 1))
	if len(s.buf) == 0 && cap(s.bufMem) >= phase+n {
		s.buf = s.bufMem[phase:phase]
		return
	}
	if cap(s.buf)-len(s.buf) >= n {
		return
	}
	mem := alignedBytes(max(2*(phase+len(s.buf)+n), minBufBytes))
	buf := mem[phase : phase+len(s.buf)]
	copy(buf, s.buf)
	s.bufMem, s.buf = mem, buf
}

// releaseBufLocked empties the round's buffer after its write, dropping it
// after a rare huge round.
func (s *Store) releaseBufLocked() {
	if cap(s.bufMem) > maxKeptBufBytes {
		s.bufMem = nil
	}
	s.buf = nil
}

// alignedBytes returns n bytes starting at a page boundary.
func alignedBytes(n int) []byte {
	b := make([]byte, n+pageSize)
	skip := int(-uintptr(unsafe.Pointer(&b[0])) & (pageSize - 1))
	return b[skip : skip+n : skip+n]
}
