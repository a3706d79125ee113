//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Issue 5's acceptance test: a 3-node cluster tiering a 3-partition topic
// with 1 MiB segments to an S3 emulator that runs in this process (so the
// test can hold a PUT open, and take the whole store down).
const (
	tierTopic        = "tiered"
	tierPartitions   = 3
	tierSegmentBytes = 1 << 20
	tierLocalBytes   = 4 << 20
	tierRecordBytes  = 1024
	tierWatermark    = 16 << 20 // tier.max-pending-bytes
	tierBucket       = "chronik"
)

// s3Emulator is gofakes3 on a fixed address that can go down and come back
// with its objects, and that can hold the next segment PUT of one
// partition open after storing it (the uploader is killed meanwhile).
type s3Emulator struct {
	t       *testing.T
	addr    string
	backend *s3mem.Backend
	faker   *gofakes3.GoFakeS3

	mu      sync.Mutex
	srv     *http.Server
	holdFor string        // path fragment of the PUT to hold, "" = none
	held    chan string   // receives the held object's path
	release chan struct{} // closed to let the held PUT answer
}

func startS3(t *testing.T) *s3Emulator {
	t.Helper()
	e := &s3Emulator{t: t, backend: s3mem.New()}
	e.faker = gofakes3.New(e.backend, gofakes3.WithLogger(gofakes3.DiscardLog()), gofakes3.WithUnimplementedPageError())
	if err := e.backend.CreateBucket(tierBucket); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = l.Addr().String()
	e.serve(l)
	t.Cleanup(e.down)
	return e
}

func (e *s3Emulator) serve(l net.Listener) {
	inner := e.faker.Server()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r)
		e.mu.Lock()
		hold := r.Method == http.MethodPut && e.holdFor != "" && strings.Contains(r.URL.Path, e.holdFor)
		var held chan string
		var release chan struct{}
		if hold {
			held, release = e.held, e.release
			e.holdFor = ""
		}
		e.mu.Unlock()
		if hold {
			held <- r.URL.Path
			<-release // the response (buffered by net/http) leaves only now
		}
	})}
	e.mu.Lock()
	e.srv = srv
	e.mu.Unlock()
	go srv.Serve(l) //nolint:errcheck // ends with ErrServerClosed when the test takes the store down
}

// down closes the listener and every connection: the store is unreachable.
func (e *s3Emulator) down() {
	e.mu.Lock()
	srv := e.srv
	e.srv = nil
	e.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// up serves again on the same address, with the same objects.
func (e *s3Emulator) up() {
	e.t.Helper()
	var l net.Listener
	var err error
	for range 50 { // the port may linger briefly after Close
		if l, err = net.Listen("tcp", e.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		e.t.Fatalf("S3 emulator cannot listen on %s again: %v", e.addr, err)
	}
	e.serve(l)
}

// holdNextPut arms the hold for the next PUT whose path contains frag.
func (e *s3Emulator) holdNextPut(frag string) (held <-chan string, release func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.holdFor, e.held, e.release = frag, make(chan string, 1), make(chan struct{})
	return e.held, sync.OnceFunc(func() { close(e.release) })
}

func (e *s3Emulator) exists(path string) bool {
	key := strings.TrimPrefix(strings.TrimPrefix(path, "/"), tierBucket+"/")
	_, err := e.backend.HeadObject(tierBucket, key)
	return err == nil
}

func (e *s3Emulator) url() string {
	return fmt.Sprintf("s3://%s/cluster?endpoint=http://%s&path_style=true&region=us-east-1&access_key_id=test&secret_access_key=test", tierBucket, e.addr)
}

// tierValue is record i of partition p: a readable header and incompressible
// bytes derived from (p, i), so the checker can regenerate it.
func tierValue(p int32, i int64) []byte {
	v := make([]byte, tierRecordBytes)
	n := copy(v, fmt.Sprintf("p%d-%012d-", p, i))
	rng := rand.New(rand.NewPCG(uint64(p), uint64(i)))
	for j := n; j < len(v); j += 8 {
		x := rng.Uint64()
		for k := 0; k < 8 && j+k < len(v); k++ {
			v[j+k] = byte(x >> (8 * k))
		}
	}
	return v
}

type tierAck struct {
	p      int32
	i      int64
	offset int64
}

// tierProducer produces tierValue records round robin over the partitions
// at about rate records/s, recording acks and failures.
type tierProducer struct {
	cl     *kgo.Client
	next   []int64 // per partition: the next i
	mu     sync.Mutex
	acks   []tierAck
	failed map[string]int // error text → count
	wg     sync.WaitGroup
}

func newTierProducer(t *testing.T, seeds []string, delivery time.Duration) *tierProducer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(tierTopic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordDeliveryTimeout(delivery),
		kgo.MaxBufferedRecords(4096), kgo.ProducerBatchMaxBytes(256<<10), kgo.MetadataMinAge(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &tierProducer{cl: cl, next: make([]int64, tierPartitions), failed: map[string]int{}}
}

// produce sends n records (0: until ctx ends) at about rate records/s.
func (tp *tierProducer) produce(ctx context.Context, n int64, rate int) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	perTick := max(1, rate/100)
	sent := int64(0)
	for n == 0 || sent < n {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for k := 0; k < perTick && (n == 0 || sent < n); k++ {
			p := int32(sent % tierPartitions)
			i := tp.next[p]
			tp.next[p]++
			sent++
			tp.wg.Add(1)
			tp.cl.Produce(context.Background(), &kgo.Record{Partition: p, Value: tierValue(p, i)}, func(r *kgo.Record, err error) {
				defer tp.wg.Done()
				tp.mu.Lock()
				defer tp.mu.Unlock()
				switch {
				case errors.Is(err, kerr.KafkaStorageError):
					tp.failed[kerr.KafkaStorageError.Message]++
					return
				case err != nil:
					tp.failed[err.Error()]++
					return
				}
				tp.acks = append(tp.acks, tierAck{p: r.Partition, i: i, offset: r.Offset})
			})
		}
	}
}

func (tp *tierProducer) wait() { tp.wg.Wait() }

func (tp *tierProducer) snapshot() (acks int, failed map[string]int) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	f := map[string]int{}
	for k, v := range tp.failed {
		f[k] = v
	}
	return len(tp.acks), f
}

type tierRow struct {
	Topic            string  `json:"topic"`
	Partition        int32   `json:"partition"`
	Leader           bool    `json:"leader"`
	LocalStart       int64   `json:"local_start_offset"`
	TieredEnd        int64   `json:"tiered_end_offset"`
	HighWatermark    int64   `json:"high_watermark"`
	Segments         int     `json:"remote_segments"`
	LocalBytes       int64   `json:"local_bytes"`
	UploadLagBytes   int64   `json:"upload_lag_bytes"`
	UploadLagSeconds float64 `json:"upload_lag_seconds"`
	LastError        string  `json:"last_error"`
}

// tierRows returns node i's replicas of the tiered topic.
func (c *testCluster) tierRows(i int) ([]tierRow, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + c.addrs[i].http + "/v1/tier")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st struct {
		Partitions []tierRow `json:"partitions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, err
	}
	var out []tierRow
	for _, r := range st.Partitions {
		if r.Topic == tierTopic {
			out = append(out, r)
		}
	}
	return out, nil
}

// waitTiered waits until every replica of every partition has uploaded
// all but the active segment and trimmed its local data to
// local.retention.bytes plus two segments.
func (c *testCluster) waitTiered(t *testing.T, d time.Duration, what string) []tierRow {
	t.Helper()
	var leaders []tierRow
	waitUntil(t, d, what, func() (bool, string) {
		leaders = leaders[:0]
		for i := range c.nodes {
			rows, err := c.tierRows(i)
			if err != nil {
				return false, fmt.Sprintf("node %d: %v", i+1, err)
			}
			if len(rows) != tierPartitions {
				return false, fmt.Sprintf("node %d reports %d replicas", i+1, len(rows))
			}
			for _, r := range rows {
				if r.LocalBytes > tierLocalBytes+2*tierSegmentBytes {
					return false, fmt.Sprintf("node %d partition %d holds %d local bytes", i+1, r.Partition, r.LocalBytes)
				}
				if r.Leader {
					if r.UploadLagBytes >= tierSegmentBytes {
						return false, fmt.Sprintf("partition %d: %d bytes not uploaded (last error %q)", r.Partition, r.UploadLagBytes, r.LastError)
					}
					leaders = append(leaders, r)
				}
			}
		}
		if len(leaders) != tierPartitions {
			return false, fmt.Sprintf("%d leaders", len(leaders))
		}
		return true, ""
	})
	return leaders
}

// checkTierAcks consumes the topic from offset 0 and checks every acked
// record byte-identical at its acknowledged offset, offsets contiguous.
func checkTierAcks(t *testing.T, c *testCluster, acks []tierAck) {
	t.Helper()
	start := time.Now()
	end := endOffsets(t, c.addrs[c.live(-1)].kafka, tierTopic, tierPartitions)
	recs := consumeAll(t, c.addrs[c.live(-1)].kafka, tierTopic, end)
	byOffset := make(map[int32]map[int64]*kgo.Record)
	total := 0
	for p, rs := range recs {
		m := make(map[int64]*kgo.Record, len(rs))
		for k, r := range rs {
			if r.Offset != int64(k) {
				t.Fatalf("partition %d: record %d has offset %d: offsets are not contiguous from 0", p, k, r.Offset)
			}
			m[r.Offset] = r
		}
		byOffset[p] = m
		total += len(rs)
	}
	for _, a := range acks {
		r := byOffset[a.p][a.offset]
		if r == nil {
			t.Fatalf("acked record %d of partition %d at offset %d is missing (end %d)", a.i, a.p, a.offset, end[a.p])
		}
		if !bytes.Equal(r.Value, tierValue(a.p, a.i)) {
			t.Fatalf("partition %d offset %d: value differs from acked record %d (%q…)", a.p, a.offset, a.i, r.Value[:min(len(r.Value), 24)])
		}
	}
	t.Logf("read %d records (%d MB) from offset 0 in %s; all %d acks byte-identical at their offsets",
		total, total*tierRecordBytes>>20, time.Since(start).Round(time.Millisecond), len(acks))
}

func TestE2ETieredStorage(t *testing.T) {
	s3 := startS3(t)
	c := startClusterWith(t, 3, fmt.Sprintf(`[tier]
url = %q
check-interval = "100ms"
sweep-interval = "1s"
upload-timeout = "3s"
orphan-grace = "10s"
max-pending-bytes = %d
`, s3.url(), tierWatermark))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	admin := newClient(t, c.addrs[0].kafka)
	defer admin.Close()
	seg, local := fmt.Sprint(tierSegmentBytes), fmt.Sprint(tierLocalBytes)
	resp, err := kadm.NewClient(admin).CreateTopic(ctx, tierPartitions, 3, map[string]*string{
		"remote.storage.enable": kadm.StringPtr("true"), "segment.bytes": &seg, "local.retention.bytes": &local,
	}, tierTopic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}

	// Phase 1: 200 MB, and the leader of partition 0 killed while the store
	// holds its segment PUT (stored, not yet answered: the commit never
	// happens, so that object is an orphan).
	const total = 200 << 20 / tierRecordBytes
	prod := newTierProducer(t, c.seeds(), deliveryTimeout)
	produced := make(chan struct{})
	start := time.Now()
	go func() { defer close(produced); prod.produce(ctx, total, 15000) }()

	waitUntil(t, 2*time.Minute, "a quarter of the records acked", func() (bool, string) {
		n, _ := prod.snapshot()
		return n >= total/4, fmt.Sprintf("%d acked", n)
	})
	held, release := s3.holdNextPut("/0/")
	var orphan string
	select {
	case orphan = <-held:
	case <-time.After(time.Minute):
		t.Fatal("no segment upload of partition 0 within a minute")
	}
	parts, desc := c.leaders(tierTopic, -1)
	victim := int(parts[0].leader) - 1
	if victim < 0 {
		t.Fatalf("no leader of partition 0: %s", desc)
	}
	kill9(c.nodes[victim])
	release()
	t.Logf("killed node %d (leader of partition 0) with its upload of %s stored but unanswered", victim+1, orphan)
	time.Sleep(2 * time.Second)
	c.restart(victim)

	<-produced
	prod.wait()
	acks, failed := prod.snapshot()
	if len(failed) > 0 || acks != total {
		t.Fatalf("phase 1: %d of %d acked, failures %v", acks, total, failed)
	}
	t.Logf("phase 1: %d records (%d MB) acked in %s", acks, total*tierRecordBytes>>20, time.Since(start).Round(time.Millisecond))

	leaders := c.waitTiered(t, 3*time.Minute, "every partition tiered and trimmed")
	for _, r := range leaders {
		t.Logf("partition %d: %d segments, tiered end %d of %d, local from %d (%d bytes)", r.Partition, r.Segments, r.TieredEnd, r.HighWatermark, r.LocalStart, r.LocalBytes)
		if r.LocalStart == 0 || r.Segments < 10 {
			t.Fatalf("partition %d was not tiered: %+v", r.Partition, r)
		}
	}
	waitUntil(t, 30*time.Second, "the orphaned upload swept", func() (bool, string) {
		return !s3.exists(orphan), orphan + " still exists"
	})
	checkTierAcks(t, c, prod.acks)

	// Phase 2: the store is down for 60 s. Produce continues until a
	// partition has tier.max-pending-bytes not uploaded, then fails with
	// KAFKA_STORAGE_ERROR; nothing acknowledged is lost, and uploads catch
	// up once the store is back.
	s3.down()
	downAt := time.Now()
	prod2 := newTierProducer(t, c.seeds(), 5*time.Second)
	copy(prod2.next, prod.next)
	pctx, pstop := context.WithTimeout(ctx, 60*time.Second)
	prod2.produce(pctx, 0, 3000)
	pstop()
	prod2.wait()
	acks2, failed2 := prod2.snapshot()
	// kgo retries KAFKA_STORAGE_ERROR (it is retriable) until the delivery
	// timeout and then reports only the timeout; a producer without
	// retries shows what the broker answers.
	probe := newClient(t, c.addrs[c.live(-1)].kafka, kgo.DisableIdempotentWrite(), kgo.RecordRetries(0),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(tierTopic))
	storage := 0
	for p := int32(0); p < tierPartitions; p++ {
		err := probe.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte("probe")}).FirstErr()
		switch {
		case errors.Is(err, kerr.KafkaStorageError):
			storage++
			t.Logf("partition %d refuses produce: %v", p, err)
		case err != nil:
			t.Fatalf("partition %d: produce failed with %v; want KAFKA_STORAGE_ERROR or success", p, err)
		}
	}
	probe.Close()
	s3.up()
	t.Logf("store down %s: %d records acked (%d MB), failures %v", time.Since(downAt).Round(time.Second), acks2, acks2*tierRecordBytes>>20, failed2)
	if acks2*tierRecordBytes < tierWatermark {
		t.Fatalf("only %d bytes acked while the store was down; produce should continue up to the watermark", acks2*tierRecordBytes)
	}
	for msg, n := range failed2 {
		if msg != kerr.KafkaStorageError.Message && msg != kgo.ErrRecordTimeout.Error() {
			t.Fatalf("produce failed with %q (%d records); want only KAFKA_STORAGE_ERROR or its retries' timeout", msg, n)
		}
	}
	if storage == 0 {
		t.Fatal("no partition refused produce at the local-disk watermark while the store was down")
	}
	c.waitTiered(t, 3*time.Minute, "uploads caught up after the store came back")
	prod3 := newTierProducer(t, c.seeds(), deliveryTimeout)
	copy(prod3.next, prod2.next)
	prod3.produce(ctx, 3000, 3000)
	prod3.wait()
	if acks3, failed3 := prod3.snapshot(); acks3 != 3000 || len(failed3) > 0 {
		t.Fatalf("after the store came back: %d of 3000 acked, failures %v", acks3, failed3)
	}
	all := append(append(append([]tierAck{}, prod.acks...), prod2.acks...), prod3.acks...)
	checkTierAcks(t, c, all)
}
