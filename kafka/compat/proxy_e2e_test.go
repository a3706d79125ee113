//go:build e2e

package compat

// proxy is a TCP relay in front of the broker. The broker advertises the
// proxy's address, so every connection of every client, bootstrap or not,
// passes through it. It reads only what it needs from each frame — a
// request's API key, version, correlation ID and client ID (the fixed v1+
// request header prefix), a response's correlation ID — and relays the bytes
// unchanged. From that it reports, per client ID, the API versions the client
// negotiated (docs/clients.md) and the requests the broker never answered
// because it closed the connection (how a client fails on an API the broker
// does not serve yet).

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxProxyFrame bounds one relayed frame; far above the broker's own limit.
const maxProxyFrame = 256 << 20

type proxy struct {
	ln     net.Listener
	target string // the broker's Kafka listener
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		versions   map[string]map[int16]map[int16]bool // client ID → key → versions
		unanswered map[string][]string                 // client ID → requests dropped by a broker-side close
		conns      map[net.Conn]struct{}
		closed     bool
	}
}

// startProxy listens on a free 127.0.0.1 port and relays every connection
// to target. t's cleanup closes the listener and every connection and waits
// for the relay goroutines.
func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &proxy{ln: ln, target: target}
	p.mu.versions = make(map[string]map[int16]map[int16]bool)
	p.mu.unanswered = make(map[string][]string)
	p.mu.conns = make(map[net.Conn]struct{})
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.mu.closed = true
	for c := range p.mu.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// track registers c so close can end it; false once the proxy is closed.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return false
	}
	p.mu.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.mu.conns, c)
	p.mu.Unlock()
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.relay(c)
	}
}

// pending is a request the broker has not answered yet.
type pending struct {
	corr     int32
	key, ver int16
	clientID string
}

func (p *proxy) relay(client net.Conn) {
	defer p.wg.Done()
	defer client.Close()
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	srv, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer srv.Close()
	if !p.track(srv) {
		return
	}
	defer p.untrack(srv)

	var (
		qmu         sync.Mutex
		queue       []pending // requests in flight, in request order
		clientGone  bool      // the client closed its side first
		clientReads = make(chan struct{})
	)
	go func() {
		defer close(clientReads)
		defer srv.Close()
		var hdr [4]byte
		for {
			frame, err := readFrame(client, hdr[:])
			if err != nil {
				qmu.Lock()
				clientGone = true
				qmu.Unlock()
				return
			}
			if len(frame) >= 8 {
				req := pending{
					key:  int16(binary.BigEndian.Uint16(frame[0:])),
					ver:  int16(binary.BigEndian.Uint16(frame[2:])),
					corr: int32(binary.BigEndian.Uint32(frame[4:])),
				}
				req.clientID = clientIDOf(frame[8:])
				p.record(req)
				qmu.Lock()
				queue = append(queue, req)
				qmu.Unlock()
			}
			if _, err := srv.Write(append(hdr[:], frame...)); err != nil {
				return
			}
		}
	}()

	var hdr [4]byte
	for {
		frame, err := readFrame(srv, hdr[:])
		if err != nil {
			break
		}
		if len(frame) >= 4 {
			corr := int32(binary.BigEndian.Uint32(frame))
			qmu.Lock()
			// Responses come in request order; requests skipped here got
			// no response by design (acks=0 produce).
			if i := slices.IndexFunc(queue, func(r pending) bool { return r.corr == corr }); i >= 0 {
				queue = queue[i+1:]
			}
			qmu.Unlock()
		}
		if _, err := client.Write(append(hdr[:], frame...)); err != nil {
			break
		}
	}
	qmu.Lock()
	gone, left := clientGone, queue
	qmu.Unlock()
	if !gone {
		for _, r := range left {
			p.recordUnanswered(r)
		}
	}
	client.Close()
	<-clientReads
}

// readFrame reads one size-prefixed Kafka frame into a new slice; hdr
// receives the 4-byte size prefix.
func readFrame(r io.Reader, hdr []byte) ([]byte, error) {
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr))
	if n < 0 || n > maxProxyFrame {
		return nil, fmt.Errorf("frame size %d", n)
	}
	frame := make([]byte, n)
	if _, err := io.ReadFull(r, frame); err != nil {
		return nil, err
	}
	return frame, nil
}

// clientIDOf reads the nullable client ID string that follows the
// correlation ID in every request header from v1 on (all requests but a
// v0 ControlledShutdown).
func clientIDOf(b []byte) string {
	if len(b) < 2 {
		return ""
	}
	n := int16(binary.BigEndian.Uint16(b))
	if n < 0 || int(n) > len(b)-2 {
		return ""
	}
	return string(b[2 : 2+int(n)])
}

func (p *proxy) record(r pending) {
	p.mu.Lock()
	defer p.mu.Unlock()
	byKey := p.mu.versions[r.clientID]
	if byKey == nil {
		byKey = make(map[int16]map[int16]bool)
		p.mu.versions[r.clientID] = byKey
	}
	if byKey[r.key] == nil {
		byKey[r.key] = make(map[int16]bool)
	}
	byKey[r.key][r.ver] = true
}

func (p *proxy) recordUnanswered(r pending) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.unanswered[r.clientID] = append(p.mu.unanswered[r.clientID], fmt.Sprintf("%s v%d", kmsg.NameForKey(r.key), r.ver))
}

// versions returns the versions clientID used for key, sorted.
func (p *proxy) versions(clientID string, key int16) []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var vs []int16
	for v := range p.mu.versions[clientID][key] {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// keys returns every API key clientID sent, sorted.
func (p *proxy) keys(clientID string) []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ks []int16
	for k := range p.mu.versions[clientID] {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// unanswered returns clientID's requests that the broker dropped by closing
// the connection (an unserved key or version closes it, see kafka/doc.go),
// deduplicated, in first-seen order.
func (p *proxy) unanswered(clientID string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, s := range p.mu.unanswered[clientID] {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
