package sharedlog

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/lni/dragonboat/v4/raftpb"
	"golang.org/x/sys/unix"
)

// BenchmarkSaveRound is one Dragonboat save round, fdatasync included, of
// shape=64x10KiB: 64 busy partitions (BenchmarkPartitionScaling's shape),
// or shape=1x1MiB: one partition at its maximum rate (one producer batch
// per entry). Every 50 rounds (not timed) each partition compacts its log,
// as after a snapshot, so that segments are freed as they fill.
// segments=fresh appends to new files; segments=recycled writes over
// deleted segments' files, as a broker does once its Raft log has reached
// its steady size. writes=direct writes each round's whole pages with
// O_DIRECT (direct.go), writes=cached all through the page cache.
// cpu-ns/op is the process's user and system CPU per round.
func BenchmarkSaveRound(b *testing.B) {
	for _, shape := range []struct {
		name  string
		parts int
		size  int
	}{{"64x10KiB", 64, 10 << 10}, {"1x1MiB", 1, 1 << 20}} {
		for _, recycle := range []bool{false, true} {
			for _, direct := range []int{0, -1} {
				name := "shape=" + shape.name + "/segments=" + map[bool]string{false: "fresh", true: "recycled"}[recycle] +
					"/writes=" + map[bool]string{false: "direct", true: "cached"}[direct < 0]
				b.Run(name, func(b *testing.B) {
					benchSaveRounds(b, shape.parts, shape.size, recycle, direct)
				})
			}
		}
	}
}

func benchSaveRounds(b *testing.B, parts, size int, recycle bool, direct int) {
	s, err := Open(b.TempDir(), Options{SegmentBytes: 16 << 20, DirectBytes: direct})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if !recycle {
		s.recycleMax = 0
	}
	cmd := make([]byte, size)
	for i := range cmd {
		cmd[i] = byte(i * 31)
	}
	ups := make([]pb.Update, parts)
	index := uint64(0)
	round := func(timed bool) {
		index++
		saveRound(b, s, ups, index, cmd)
		if index%50 != 0 {
			return
		}
		if timed {
			b.StopTimer()
			defer b.StartTimer()
		}
		for p := range ups {
			if err := s.RemoveEntriesTo(uint64(p+1), 1, index); err != nil {
				b.Fatal(err)
			}
		}
	}
	for range 3 * (16 << 20) / (parts * len(cmd)) { // past the first segments, so the pool has files
		round(false)
	}
	b.SetBytes(int64(parts * len(cmd)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for range b.N {
		round(true)
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(s.Stats().DeletedSegments), "deleted-segments")
}

// BenchmarkReplay opens a store holding 512 MiB of Raft log (64 partitions,
// ~10 KiB entries, nothing compacted) in eight 64 MiB segments, page cache
// warm: summaries=kept replays the sealed segments through their summaries,
// summaries=removed reads every segment, as a start did before summaries.
// MB/s is the log replayed per second.
func BenchmarkReplay(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	const parts = 64
	cmd := make([]byte, 10<<10)
	ups := make([]pb.Update, parts)
	for index := uint64(1); s.Stats().Bytes < 512<<20; index++ {
		saveRound(b, s, ups, index, cmd)
	}
	size := s.Stats().Bytes
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	for _, keep := range []bool{true, false} {
		b.Run("summaries="+map[bool]string{true: "kept", false: "removed"}[keep], func(b *testing.B) {
			if !keep {
				paths, _ := filepath.Glob(filepath.Join(dir, "*"+summarySuffix))
				for _, p := range paths {
					if err := os.Remove(p); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.SetBytes(size)
			for range b.N {
				s, err := Open(dir, Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(s.fromSummaries), "from-summaries")
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// saveRound saves entry index, holding cmd, for each of len(ups) partitions
// (shards 1 and up) in one round.
func saveRound(b *testing.B, s *Store, ups []pb.Update, index uint64, cmd []byte) {
	for p := range ups {
		ups[p] = pb.Update{
			ShardID: uint64(p + 1), ReplicaID: 1, State: pb.State{Term: 1, Commit: index},
			EntriesToSave: []pb.Entry{{Index: index, Term: 1, Cmd: cmd}},
		}
	}
	if err := s.SaveRaftState(ups, 1); err != nil {
		b.Fatal(err)
	}
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
