package backup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
	"github.com/chronik-go/chronik/tiering/segment"
)

// Segments uploaded after a backup are in the store too: the recovery
// point is the last segment upload, not the last backup. ExtendSegments
// continues each partition's manifest with the segment objects that follow
// it, read from the store. Segment objects are self-describing (core/tier
// names them <topic>-<uuid>/<partition>/<base:020d>-<end:020d>-<epoch>.seg
// and ends each with a checksummed index and footer), and hold only
// committed records, so a contiguous chain of verified objects is a valid
// continuation of the log.
//
// The chain stops at the first gap, and where two objects start at the same
// offset with different ends (a leadership change left an orphan, or a
// later cluster restored from an older backup wrote its own history):
// which of the two is the log cannot be told from the store, so neither
// is taken.

// ExtendSegments extends d's partition manifests with the contiguous,
// verified segment objects the store holds after them, and reports what it
// added.
func ExtendSegments(ctx context.Context, store *tiering.Store, d *Data) ([]string, error) {
	segs, err := store.Sub(segmentsSub)
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, t := range d.Topics {
		ids[t.Name] = t.ID
	}
	var notes []string
	for i := range d.Partitions {
		p := &d.Partitions[i]
		prefix := p.Topic + "-" + ids[p.Topic] + "/" + strconv.Itoa(int(p.Partition)) + "/"
		byBase := map[int64][]driver.Object{}
		err := segs.List(ctx, prefix, func(o driver.Object) error {
			if base, _, _, ok := parseSegmentKey(strings.TrimPrefix(o.Key, prefix)); ok {
				byBase[base] = append(byBase[base], o)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("backup: list segments/%s: %w", prefix, err)
		}
		_, end := p.Restored()
		if len(p.Segments) == 0 {
			end = p.LogStart
		}
		added := 0
		for {
			cands := byBase[end]
			if len(cands) == 0 {
				break
			}
			if len(cands) > 1 {
				notes = append(notes, fmt.Sprintf("%s/%d: %d segment objects start at offset %d; the restore stops there", p.Topic, p.Partition, len(cands), end))
				break
			}
			s, aborted, err := segmentOf(ctx, segs, cands[0], prefix)
			if err != nil {
				notes = append(notes, fmt.Sprintf("%s/%d: segment object segments/%s is unusable (%v); the restore stops at offset %d", p.Topic, p.Partition, cands[0].Key, err, end))
				break
			}
			p.Segments = append(p.Segments, s)
			p.Aborted = mergeAborted(p.Aborted, aborted)
			end = s.End
			added++
		}
		if added > 0 {
			p.TieredEnd = end
			notes = append(notes, fmt.Sprintf("%s/%d: %d segments uploaded after the backup extend it to offset %d", p.Topic, p.Partition, added, end))
		}
	}
	return notes, nil
}

// parseSegmentKey parses <base:020d>-<end:020d>-<epoch>.seg.
func parseSegmentKey(name string) (base, end int64, epoch int32, ok bool) {
	parts := strings.Split(strings.TrimSuffix(name, ".seg"), "-")
	if len(parts) != 3 || !strings.HasSuffix(name, ".seg") {
		return 0, 0, 0, false
	}
	b, err1 := strconv.ParseInt(parts[0], 10, 64)
	e, err2 := strconv.ParseInt(parts[1], 10, 64)
	ep, err3 := strconv.ParseInt(parts[2], 10, 32)
	if err1 != nil || err2 != nil || err3 != nil || b < 0 || e <= b {
		return 0, 0, 0, false
	}
	return b, e, int32(ep), true
}

// segmentOf reads and verifies an object's index and footer and returns its
// manifest entry and the aborted transactions it lists.
func segmentOf(ctx context.Context, segs *tiering.Store, o driver.Object, prefix string) (Segment, []AbortedTxn, error) {
	base, end, epoch, _ := parseSegmentKey(strings.TrimPrefix(o.Key, prefix))
	if o.Size < segment.FooterSize {
		return Segment{}, nil, fmt.Errorf("%d bytes", o.Size)
	}
	foot, err := readRange(ctx, segs, o.Key, o.Size-segment.FooterSize, segment.FooterSize)
	if err != nil {
		return Segment{}, nil, err
	}
	f, err := segment.ParseFooter(foot)
	if err != nil {
		return Segment{}, nil, err
	}
	if f.IndexPos+f.TailSize() != o.Size || f.BaseOffset != base || f.EndOffset != end {
		return Segment{}, nil, fmt.Errorf("footer [%d, %d) of %d bytes does not match the object's name and size", f.BaseOffset, f.EndOffset, f.IndexPos+f.TailSize())
	}
	tail, err := readRange(ctx, segs, o.Key, f.IndexPos, f.TailSize())
	if err != nil {
		return Segment{}, nil, err
	}
	ix, err := segment.ParseIndex(tail)
	if err != nil {
		return Segment{}, nil, err
	}
	aborted := make([]AbortedTxn, len(ix.Aborted))
	for i, a := range ix.Aborted {
		aborted[i] = AbortedTxn(a)
	}
	return Segment{
		Base: base, End: end, Key: o.Key, Size: o.Size, IndexPos: f.IndexPos, DataBytes: f.DataLen,
		MaxTimestamp: f.MaxTimestamp, LeaderEpoch: epoch, UploadedAt: o.ModTime.UnixMilli(),
	}, aborted, nil
}

// mergeAborted adds the aborted transactions of add that a are missing
// (one transaction is listed by every segment it overlaps, and by the
// backup), keeping them by marker offset.
func mergeAborted(a, add []AbortedTxn) []AbortedTxn {
	for _, t := range add {
		i, found := slices.BinarySearchFunc(a, t.MarkerOffset, func(x AbortedTxn, m int64) int { return cmp.Compare(x.MarkerOffset, m) })
		if !found {
			a = slices.Insert(a, i, t)
		}
	}
	return a
}

func readRange(ctx context.Context, s *tiering.Store, key string, off, n int64) ([]byte, error) {
	rc, err := s.OpenRange(ctx, key, off, n)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err == nil && int64(len(b)) != n {
		err = errors.New("short read")
	}
	return b, err
}
