package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// MaxDecompressedBytes bounds the decompressed records section of one batch,
// so that a small compressed batch cannot make the broker allocate without
// limit. It is far above any max.message.bytes a producer can be allowed.
const MaxDecompressedBytes = 64 << 20

// maxPooledBuffer is the largest decompression buffer kept for reuse; the
// rare bigger one is left to the garbage collector.
const maxPooledBuffer = 1 << 20

var bufferPool = sync.Pool{New: func() any { return new([]byte) }}

func getBuffer() *[]byte { return bufferPool.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		*b = nil
	}
	bufferPool.Put(b)
}

// decompress decodes src, the records section of a batch compressed with
// codec, appending to dst.
func decompress(codec Codec, src, dst []byte) ([]byte, error) {
	var (
		out []byte
		err error
	)
	switch codec {
	case CodecGzip:
		out, err = decompressGzip(src, dst)
	case CodecSnappy:
		out, err = decompressSnappy(src, dst)
	case CodecLZ4:
		out, err = decompressLZ4(src, dst)
	case CodecZstd:
		out, err = decompressZstd(src, dst)
	default:
		return nil, fmt.Errorf("%w: unknown compression codec %d", ErrInvalid, codec)
	}
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, ErrTooLarge) || errors.Is(err, ErrInvalid):
		return nil, err
	default:
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, codec, err)
	}
}

func errDecompressedTooLarge(codec Codec) error {
	return fmt.Errorf("%w: %s records decompress to more than %d bytes", ErrTooLarge, codec, MaxDecompressedBytes)
}

type gzipDecoder struct {
	src bytes.Reader
	r   gzip.Reader
}

var gzipPool sync.Pool

func decompressGzip(src, dst []byte) ([]byte, error) {
	d, _ := gzipPool.Get().(*gzipDecoder)
	if d == nil {
		d = new(gzipDecoder)
	}
	defer gzipPool.Put(d)
	d.src.Reset(src)
	if err := d.r.Reset(&d.src); err != nil {
		return nil, err
	}
	return readAllBounded(&d.r, dst, CodecGzip)
}

type lz4Decoder struct {
	src bytes.Reader
	r   *lz4.Reader
}

var lz4Pool sync.Pool

func decompressLZ4(src, dst []byte) ([]byte, error) {
	d, _ := lz4Pool.Get().(*lz4Decoder)
	if d == nil {
		d = &lz4Decoder{}
		d.r = lz4.NewReader(&d.src)
	}
	defer lz4Pool.Put(d)
	d.src.Reset(src)
	d.r.Reset(&d.src)
	return readAllBounded(d.r, dst, CodecLZ4)
}

// readAllBounded appends everything r yields to dst, failing with
// ErrTooLarge past MaxDecompressedBytes.
func readAllBounded(r io.Reader, dst []byte, codec Codec) ([]byte, error) {
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		// Never ask for more than one byte past the limit.
		limit := min(cap(dst), start+MaxDecompressedBytes+1)
		n, err := r.Read(dst[len(dst):limit])
		dst = dst[:len(dst)+n]
		if len(dst)-start > MaxDecompressedBytes {
			return nil, errDecompressedTooLarge(codec)
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

var (
	zstdOnce    sync.Once
	zstdDecoder *zstd.Decoder
	zstdInitErr error
)

// decompressZstd uses one shared decoder: DecodeAll is safe for concurrent
// use, and WithDecoderMaxMemory makes it reject frames that claim or reach
// more than the bound before allocating for them.
func decompressZstd(src, dst []byte) ([]byte, error) {
	zstdOnce.Do(func() {
		zstdDecoder, zstdInitErr = zstd.NewReader(nil,
			zstd.WithDecoderMaxMemory(MaxDecompressedBytes),
			zstd.WithDecoderConcurrency(0))
	})
	if zstdInitErr != nil {
		return nil, zstdInitErr
	}
	out, err := zstdDecoder.DecodeAll(src, dst)
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
		return nil, errDecompressedTooLarge(CodecZstd)
	}
	return out, err
}

// xerialMagic starts snappy data framed by the Java client's xerial
// SnappyOutputStream: this magic, a version and a compatible-version int32,
// then chunks of [int32 length][raw snappy block]. Other clients send one
// raw snappy block.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = 16

var errBadXerial = errors.New("malformed xerial snappy framing")

func decompressSnappy(src, dst []byte) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialMagic) {
		n, err := s2.DecodedLen(src)
		if err != nil {
			return nil, err
		}
		if n > MaxDecompressedBytes {
			return nil, errDecompressedTooLarge(CodecSnappy)
		}
		return decodeSnappyBlock(src, dst)
	}
	if len(src) < xerialHeaderSize {
		return nil, errBadXerial
	}
	// Sum the claimed sizes first so that dst grows once and a bomb is
	// refused before anything is decoded.
	var total int
	for rest := src[xerialHeaderSize:]; len(rest) > 0; {
		chunk, next, err := xerialChunk(rest)
		if err != nil {
			return nil, err
		}
		n, err := s2.DecodedLen(chunk)
		if err != nil {
			return nil, err
		}
		if total += n; total > MaxDecompressedBytes {
			return nil, errDecompressedTooLarge(CodecSnappy)
		}
		rest = next
	}
	dst = slices.Grow(dst, total)
	for rest := src[xerialHeaderSize:]; len(rest) > 0; {
		chunk, next, _ := xerialChunk(rest)
		var err error
		if dst, err = decodeSnappyBlock(chunk, dst); err != nil {
			return nil, err
		}
		rest = next
	}
	return dst, nil
}

func xerialChunk(b []byte) (chunk, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errBadXerial
	}
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(n) > uint64(len(b)) {
		return nil, nil, errBadXerial
	}
	return b[:n], b[n:], nil
}

// decodeSnappyBlock appends the decoding of one raw snappy block to dst; the
// caller has checked its decoded length against the bound.
func decodeSnappyBlock(src, dst []byte) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return nil, err
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	if _, err := s2.Decode(dst[start:], src); err != nil {
		return nil, err
	}
	return dst, nil
}
