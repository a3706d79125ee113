package raftsm

import (
	"strings"
	"testing"

	sm "github.com/lni/dragonboat/v4/statemachine"
)

// BenchmarkStoreSync: what a partition's Sync costs after 1 MiB of batches
// (16 commands of 64 KiB) — what Dragonboat waits for, holding the
// partition's lock, at each snapshot. On disk (the test's temp dir).
func BenchmarkStoreSync(b *testing.B) {
	p := diskPartition(b)
	cmd := appendCmd(1, plain(256, 1, strings.Repeat("x", 64<<10)))
	b.SetBytes(16 * int64(len(cmd)))
	index := uint64(0)
	for b.Loop() {
		b.StopTimer()
		for range 16 {
			index++
			if _, err := p.Update([]sm.Entry{{Index: index, Cmd: cmd}}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := p.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}
