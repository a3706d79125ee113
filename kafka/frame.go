package kafka

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// minFrameSize is the smallest request: api key, version, correlation ID.
const minFrameSize = 8

// Errors of readRequest. A request that comes with one of the header errors
// (errUnknownKey, errUnsupportedVersion, errMalformed) is returned alongside
// the error with whatever header fields were read, for logging and for the
// ApiVersions downgrade answer.
var (
	errFrameSize          = errors.New("kafka: request frame size out of range")
	errUnknownKey         = errors.New("kafka: unknown or unserved api key")
	errUnsupportedVersion = errors.New("kafka: unsupported api version")
	errMalformed          = errors.New("kafka: malformed request")
)

// request is one parsed request. It owns the frame buffer for its whole
// lifetime: byte slices in msg (produce records) alias it, and the backend
// may keep them until the proposal is encoded, so the buffer is never reused.
type request struct {
	key      int16
	version  int16
	corrID   int32
	clientID *string
	msg      kmsg.Request
	// size is the number of bytes read for this request, length prefix
	// included.
	size  int
	start time.Time
}

// flexibleResponseHeader reports whether the response header carries a tag
// buffer (response header v1). ApiVersions always answers with header v0 so
// that a client that does not know our versions can still parse it.
func (r *request) flexibleResponseHeader() bool {
	return r.key != keyAPIVersions && r.msg != nil && r.msg.IsFlexible()
}

// readRequest reads one request frame from br and parses it. The frame size
// is checked against [minFrameSize, limit] before anything is allocated. A clean
// EOF before a frame starts returns io.EOF; EOF inside a frame returns
// io.ErrUnexpectedEOF.
func readRequest(br *bufio.Reader, limit int32) (*request, error) {
	var sizeBuf [4]byte
	if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
	if size < minFrameSize || size > limit {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", errFrameSize, size, limit)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(br, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	r, err := parseRequest(buf)
	if r != nil {
		r.size = int(size) + 4
		r.start = time.Now()
	}
	return r, err
}

// parseRequest parses a frame (without its length prefix): header v1 or v2,
// then the body at the requested version.
func parseRequest(buf []byte) (*request, error) {
	rd := kbin.Reader{Src: buf}
	r := &request{
		key:     rd.Int16(),
		version: rd.Int16(),
		corrID:  rd.Int32(),
	}
	if err := rd.Complete(); err != nil {
		return nil, fmt.Errorf("%w: short header", errMalformed)
	}
	a := lookupAPI(r.key)
	if a == nil {
		return r, fmt.Errorf("%w: key %d", errUnknownKey, r.key)
	}
	if r.version < a.min || r.version > a.max {
		return r, fmt.Errorf("%w: %s v%d (served %d–%d)", errUnsupportedVersion, kmsg.NameForKey(r.key), r.version, a.min, a.max)
	}
	// The client ID is a classic nullable string even in header v2: clients
	// send it before they know whether the broker speaks flexible versions.
	r.clientID = rd.NullableString()
	msg := kmsg.RequestForKey(r.key)
	msg.SetVersion(r.version)
	if msg.IsFlexible() {
		kmsg.SkipTags(&rd)
	}
	if err := rd.Complete(); err != nil {
		return r, fmt.Errorf("%w: %s v%d header: %w", errMalformed, kmsg.NameForKey(r.key), r.version, err)
	}
	if err := msg.ReadFrom(rd.Src); err != nil {
		return r, fmt.Errorf("%w: %s v%d body: %w", errMalformed, kmsg.NameForKey(r.key), r.version, err)
	}
	r.msg = msg
	return r, nil
}

// appendResponse frames resp for r: size, correlation ID, the header tag
// buffer when the response header is flexible, then the body.
func appendResponse(dst []byte, r *request, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = kbin.AppendInt32(dst, r.corrID)
	if r.flexibleResponseHeader() {
		dst = append(dst, 0) // no header tags
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
