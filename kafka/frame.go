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

// request is one parsed request. Byte slices in msg (produce records,
// group metadata, unknown tags) alias its frame, a pooled buffer (bufPool).
// The frame goes back to the pool only for APIs whose api.reuseFrame says
// nothing keeps such a slice once begin or handle returns (releaseFrame);
// otherwise the garbage collector frees it with the request.
type request struct {
	key     int16
	version int16
	corrID  int32
	// clientID may be shared with the connection's other requests
	// (readRequest); it is never written through.
	clientID *string
	msg      kmsg.Request
	// size is the number of bytes read for this request, length prefix
	// included.
	size  int
	start time.Time
	// frame is the pooled buffer msg was parsed from; nil once released.
	frame *[]byte
	// conn is the connection that read the request (nil in tests that
	// call handlers directly).
	conn *conn
	// principal is the connection's when the request was dispatched
	// (conn.principal is the reader's only).
	principal string
	// proposed and committed mark a produce's phases for its span (unix
	// ns, set only when tracing): its appends proposed, then all of them
	// waited for.
	proposed, committed int64
	// after and finished chain the connection's api.inOrder requests: the
	// handler starts once after is closed (nil: no predecessor) and closes
	// finished when it returns. Both nil for other requests.
	after    <-chan struct{}
	finished chan struct{}
}

// releaseFrame returns the request's frame to the pool. Nothing may use a
// byte slice of r.msg afterwards.
func (r *request) releaseFrame() {
	if r.frame != nil {
		bufPool.Put(r.frame)
		r.frame = nil
	}
}

// flexibleResponseHeader reports whether the response header carries a tag
// buffer (response header v1). ApiVersions always answers with header v0 so
// that a client that does not know our versions can still parse it.
func (r *request) flexibleResponseHeader() bool {
	return r.key != keyAPIVersions && r.msg != nil && r.msg.IsFlexible()
}

// readRequest reads one request frame from br into a pooled buffer and
// parses it. The frame size is checked against [minFrameSize, limit] before
// anything is allocated. A clean EOF before a frame starts returns io.EOF;
// EOF inside a frame returns io.ErrUnexpectedEOF. lastClientID, if not nil,
// is the previous request's client ID on the connection: when the header
// repeats it (clients send the same one every time) the request shares it
// instead of allocating a copy.
func readRequest(br *bufio.Reader, limit int32, lastClientID *string) (*request, error) {
	var sizeBuf [4]byte
	if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
	if size < minFrameSize || size > limit {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", errFrameSize, size, limit)
	}
	frame := bufPool.Get(int(size))
	if _, err := io.ReadFull(br, *frame); err != nil {
		bufPool.Put(frame)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	r, err := parseRequest(*frame, lastClientID)
	if r == nil || r.msg == nil {
		// Nothing aliases the frame: the header strings are copies.
		bufPool.Put(frame)
	} else {
		r.frame = frame
	}
	if r != nil {
		r.size = int(size) + 4
		r.start = time.Now()
	}
	return r, err
}

// parseRequest parses a frame (without its length prefix): header v1 or v2,
// then the body at the requested version. lastClientID is as for
// readRequest.
func parseRequest(buf []byte, lastClientID *string) (*request, error) {
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
	if n := rd.Int16(); n >= 0 {
		b := rd.Span(int(n))
		if lastClientID != nil && *lastClientID == string(b) { // no allocation
			r.clientID = lastClientID
		} else {
			id := string(b)
			r.clientID = &id
		}
	}
	msg := kmsg.RequestForKey(r.key)
	msg.SetVersion(r.version)
	if msg.IsFlexible() {
		skipTags(&rd)
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

// skipTags skips a tag buffer, as kmsg.SkipTags does; that one takes an
// interface, which moves every request's reader to the heap.
func skipTags(rd *kbin.Reader) {
	for n := rd.Uvarint(); n > 0 && rd.Ok(); n-- {
		_, size := rd.Uvarint(), rd.Uvarint()
		rd.Span(int(size))
	}
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
