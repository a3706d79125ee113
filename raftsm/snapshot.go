package raftsm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Snapshot stream format: a magic header, then frames of
// uvarint(len(key)) key uvarint(len(value)) value with keys relative to the
// shard prefix, then a zero-length key as the end marker. The stream is
// written straight from a Pebble snapshot iterator, never buffered whole.
const snapshotMagic = "chronik-shard-v1"

// loadCommitBytes bounds one Pebble batch while loading a snapshot.
const loadCommitBytes = 4 << 20

var errSnapshotFormat = errors.New("raftsm: malformed snapshot stream")

// saveShard streams the shard's keys from snap. value, when not nil,
// appends to dst what the stream holds for the (relative) key k stored
// with value v.
func saveShard(snap *pebble.Snapshot, shardID uint64, w io.Writer, stop <-chan struct{},
	value func(dst, k, v []byte) ([]byte, error),
) error {
	defer snap.Close()
	lo, hi := shardBounds(shardID)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	bw := bufio.NewWriterSize(w, 256<<10)
	if _, err := bw.WriteString(snapshotMagic); err != nil {
		return err
	}
	var hdr [binary.MaxVarintLen64]byte
	var buf []byte
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%1024 == 0 {
			select {
			case <-stop:
				return sm.ErrSnapshotStopped
			default:
			}
		}
		k := it.Key()[len(lo):]
		if len(k) == 0 {
			return fmt.Errorf("raftsm: shard %d: empty relative key", shardID)
		}
		v := it.Value()
		if value != nil {
			if buf, err = value(buf[:0], k, v); err != nil {
				return err
			}
			v = buf
		}
		for _, part := range [][]byte{k, v} {
			if _, err := bw.Write(hdr[:binary.PutUvarint(hdr[:], uint64(len(part)))]); err != nil {
				return err
			}
			if _, err := bw.Write(part); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if err := bw.WriteByte(0); err != nil {
		return err
	}
	return bw.Flush()
}

// loadShard replaces the shard's keys with the stream's. value, when not
// nil, sees every frame in stream (key) order and returns what to store
// for it.
func loadShard(store *Store, shardID uint64, r io.Reader, stop <-chan struct{},
	value func(k, v []byte) ([]byte, error),
) error {
	br := bufio.NewReaderSize(r, 256<<10)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapshotMagic {
		return fmt.Errorf("%w: bad header", errSnapshotFormat)
	}
	if err := store.DeleteShard(shardID); err != nil {
		return err
	}
	prefix := shardPrefix(shardID)
	b := store.db.NewBatch()
	defer func() { b.Close() }()
	readPart := func() ([]byte, error) {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errSnapshotFormat, err)
		}
		if n > 1<<30 {
			return nil, fmt.Errorf("%w: frame of %d bytes", errSnapshotFormat, n)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, fmt.Errorf("%w: %w", errSnapshotFormat, err)
		}
		return buf, nil
	}
	var state []byte
	for {
		select {
		case <-stop:
			return sm.ErrSnapshotStopped
		default:
		}
		k, err := readPart()
		if err != nil {
			return err
		}
		if len(k) == 0 {
			break
		}
		v, err := readPart()
		if err != nil {
			return err
		}
		if value != nil {
			if v, err = value(k, v); err != nil {
				return err
			}
		}
		if k[0] == keyState {
			// The applied index goes in last, so a load cut short by a
			// crash leaves a shard that reports nothing applied and gets
			// the snapshot again.
			state = v
			continue
		}
		if err := b.Set(append(prefix[:len(prefix):len(prefix)], k...), v, nil); err != nil {
			return err
		}
		if b.Len() >= loadCommitBytes {
			if err := store.apply(b); err != nil {
				return err
			}
			b.Close()
			b = store.db.NewBatch()
		}
	}
	if state != nil {
		if err := b.Set(append(prefix[:len(prefix):len(prefix)], keyState), state, nil); err != nil {
			return err
		}
	}
	if err := store.apply(b); err != nil {
		return err
	}
	return store.Sync()
}
