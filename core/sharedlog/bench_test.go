package sharedlog

import (
	"os"
	"path/filepath"
	"testing"

	pb "github.com/lni/dragonboat/v4/raftpb"
)

// BenchmarkSaveRound is one Dragonboat save round of 64 busy partitions
// (BenchmarkPartitionScaling's shape: ~10 KiB per partition per round),
// fdatasync included; every 50 rounds (not timed) each partition compacts
// its log, as after a snapshot, so that segments are freed as they fill. segments=fresh appends to new
// files; segments=recycled writes over deleted segments' files, as a
// broker does once its Raft log has reached its steady size.
func BenchmarkSaveRound(b *testing.B) {
	for _, recycle := range []bool{false, true} {
		name := map[bool]string{false: "fresh", true: "recycled"}[recycle]
		b.Run("segments="+name, func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{SegmentBytes: 16 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if !recycle {
				s.recycleMax = 0
			}
			const parts = 64
			cmd := make([]byte, 10<<10)
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
			b.SetBytes(parts * int64(len(cmd)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				round(true)
			}
			b.StopTimer()
			st := s.Stats()
			b.ReportMetric(float64(st.DeletedSegments), "deleted-segments")
		})
	}
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
