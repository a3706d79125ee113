package batch

import (
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// compress appends src, an uncompressed records section, compressed with
// codec to dst, in the form every Kafka client reads: a gzip stream, one raw
// snappy block, one LZ4 frame, or one zstd frame. It is decompress's inverse.
func compress(codec Codec, src, dst []byte) ([]byte, error) {
	switch codec {
	case CodecNone:
		return append(dst, src...), nil
	case CodecGzip:
		return compressGzip(src, dst)
	case CodecSnappy:
		return compressSnappy(src, dst)
	case CodecLZ4:
		return compressLZ4(src, dst)
	case CodecZstd:
		return compressZstd(src, dst)
	}
	return nil, fmt.Errorf("%w: unknown compression codec %d", ErrInvalid, codec)
}

// appendWriter appends what is written to b, so that the streaming encoders
// write straight into the caller's slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// resetWriter is what the gzip and lz4 writers have in common.
type resetWriter interface {
	io.WriteCloser
	Reset(w io.Writer)
}

// streamEncoder is a pooled gzip or lz4 writer bound to its own output.
// Building one costs far more than a small batch's compression (gzip's
// state is over 1 MB), hence the pools.
type streamEncoder struct {
	out appendWriter
	w   resetWriter
}

// encode appends the compression of src to dst as one complete stream.
func (e *streamEncoder) encode(src, dst []byte) ([]byte, error) {
	e.out.b = dst
	e.w.Reset(&e.out)
	_, err := e.w.Write(src)
	if err == nil {
		err = e.w.Close()
	}
	out := e.out.b
	e.out.b = nil // a pooled encoder must not keep the caller's memory alive
	if err != nil {
		return nil, err
	}
	return out, nil
}

var gzipEncoders = sync.Pool{New: func() any {
	e := new(streamEncoder)
	e.w = gzip.NewWriter(&e.out) // default level, as the Java client
	return e
}}

func compressGzip(src, dst []byte) ([]byte, error) {
	e := gzipEncoders.Get().(*streamEncoder)
	defer gzipEncoders.Put(e)
	return e.encode(src, dst)
}

// compressSnappy writes one raw snappy block, as franz-go and librdkafka do.
// The Java client reads it too (its SnappyInputStream falls back to a raw
// block when the xerial magic is missing), and it is half the work of
// xerial's chunked framing.
func compressSnappy(src, dst []byte) ([]byte, error) {
	n := s2.MaxEncodedLen(len(src))
	if n < 0 {
		return nil, fmt.Errorf("%w: %d bytes do not fit one snappy block", ErrTooLarge, len(src))
	}
	dst = slices.Grow(dst, n)
	enc := s2.EncodeSnappy(dst[len(dst):len(dst)+n], src)
	return dst[:len(dst)+len(enc)], nil
}

// lz4BlockSizes are the LZ4 frame block sizes, smallest first. A frame gets
// the smallest that holds the whole input: readers allocate a buffer of the
// block size (the Java client does), so small batches must not announce
// 4 MB blocks, and a single block keeps the content checksum trivially
// right for any reader that checks it block by block.
var lz4BlockSizes = [...]lz4.BlockSize{lz4.Block64Kb, lz4.Block256Kb, lz4.Block1Mb, lz4.Block4Mb}

// lz4Encoders holds one pool per entry of lz4BlockSizes: the block size is
// fixed when a writer is built.
var lz4Encoders [len(lz4BlockSizes)]sync.Pool

// compressLZ4 writes one LZ4 frame (the format Kafka uses for magic 2, with
// the correct header checksum) with independent blocks, no block checksums
// and a content checksum: pierrec/lz4's defaults, which is what franz-go
// writes and Kafka and librdkafka read.
func compressLZ4(src, dst []byte) ([]byte, error) {
	i := 0
	for i < len(lz4BlockSizes)-1 && len(src) > int(lz4BlockSizes[i]) {
		i++
	}
	e, _ := lz4Encoders[i].Get().(*streamEncoder)
	if e == nil {
		e = new(streamEncoder)
		w := lz4.NewWriter(&e.out)
		if err := w.Apply(lz4.BlockSizeOption(lz4BlockSizes[i])); err != nil {
			return nil, err
		}
		e.w = w
	}
	defer lz4Encoders[i].Put(e)
	return e.encode(src, dst)
}

var (
	zstdEncOnce    sync.Once
	zstdEncoder    *zstd.Encoder
	zstdEncInitErr error
)

// compressZstd uses one shared encoder: EncodeAll is safe for concurrent use
// (it takes one of GOMAXPROCS internal encoders). The level is the default,
// like Kafka's zstd level 3; the 1 MB window bounds every encoder's history
// and what a consumer must allocate to decode, while covering a whole batch
// of the usual sizes. Zero frames make even empty input a valid frame.
func compressZstd(src, dst []byte) ([]byte, error) {
	zstdEncOnce.Do(func() {
		zstdEncoder, zstdEncInitErr = zstd.NewWriter(nil,
			zstd.WithWindowSize(1<<20),
			zstd.WithZeroFrames(true))
	})
	if zstdEncInitErr != nil {
		return nil, zstdEncInitErr
	}
	return zstdEncoder.EncodeAll(src, dst), nil
}
