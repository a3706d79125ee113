// Package drivertest is the conformance suite and the benchmarks that every
// tiering backend runs against its driver.Bucket. A backend's test file is
// a few lines:
//
//	func TestConformance(t *testing.T) {
//		drivertest.RunConformance(t, func(tb testing.TB) driver.Bucket { return newTestBucket(tb) })
//	}
//
// The suite asks for a fresh, empty bucket per subtest, closes it at the end
// of the subtest and checks every rule of the driver.Bucket documentation:
// put/get, ranged reads, listing with prefixes and past 1,000 keys (paging),
// idempotent deletes, NotFound classification, atomic puts, concurrent use,
// large objects (multipart where the backend has it) and context
// cancellation. It skips nothing.
package drivertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
)

// NewBucket returns a new, empty bucket for one test or benchmark, and
// registers with tb.Cleanup whatever releases its backing resources. The
// suite closes the bucket itself.
type NewBucket func(tb testing.TB) driver.Bucket

// Option adjusts the suite to a backend.
type Option func(*options)

type options struct {
	largeSize int64
	partSize  int64
}

// WithLargeObjectSize sets the size of the large-object tests (default
// 12 MiB). Pick one that spans several parts of the backend's multipart
// upload.
func WithLargeObjectSize(n int64) Option { return func(o *options) { o.largeSize = n } }

// WithPartSize tells the suite the backend's multipart part (or block or
// chunk) size, so that ranged reads straddle a part boundary and an
// interrupted upload fails after the first part was sent (default 5 MiB, the
// S3 minimum).
func WithPartSize(n int64) Option { return func(o *options) { o.partSize = n } }

// manyKeys is more than one page of every backend's listing (1,000 keys for
// S3, GCS and Azure as the drivers here configure them).
const manyKeys = 1100

// RunConformance runs the conformance suite against the buckets that
// newBucket returns.
func RunConformance(t *testing.T, newBucket NewBucket, opts ...Option) {
	o := options{largeSize: 12 << 20, partSize: 5 << 20}
	for _, opt := range opts {
		opt(&o)
	}
	open := func(t *testing.T) driver.Bucket {
		t.Helper()
		b := newBucket(t)
		t.Cleanup(func() {
			if err := b.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return b
	}
	tests := []struct {
		name string
		fn   func(*testing.T, driver.Bucket, options)
	}{
		{"PutGet", testPutGet},
		{"KeyNames", testKeyNames},
		{"Range", testRange},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"List", testList},
		{"ListManyKeys", testListManyKeys},
		{"AtomicPut", testAtomicPut},
		{"Concurrent", testConcurrent},
		{"Large", testLarge},
		{"ContextCanceled", testContextCanceled},
		{"Store", testStore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t), o)
		})
	}
}

// testData returns n deterministic pseudo-random bytes.
func testData(n int64, seed uint64) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b) // never fails
	return b
}

func put(t testing.TB, b driver.Bucket, key string, data []byte) {
	t.Helper()
	if err := b.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

func read(t testing.TB, b driver.Bucket, key string, off, n int64) []byte {
	t.Helper()
	rc, err := b.Open(t.Context(), key, off, n)
	if err != nil {
		t.Fatalf("Open(%q, %d, %d): %v", key, off, n, err)
	}
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q [%d, +%d): %v", key, off, n, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("closing reader of %q: %v", key, err)
	}
	return got
}

func stat(t testing.TB, b driver.Bucket, key string) driver.Attributes {
	t.Helper()
	a, err := b.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	return a
}

func list(t testing.TB, b driver.Bucket, prefix string) []driver.Object {
	t.Helper()
	var objs []driver.Object
	if err := b.List(t.Context(), prefix, func(o driver.Object) error {
		objs = append(objs, o)
		return nil
	}); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return objs
}

func keys(objs []driver.Object) []string {
	ks := make([]string, len(objs))
	for i, o := range objs {
		ks[i] = o.Key
	}
	return ks
}

func equalData(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Fatalf("%s: got %d bytes, want %d; first difference at byte %d", what, len(got), len(want), i)
}

func wantKind(t testing.TB, b driver.Bucket, what string, err error, want driver.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want one of kind %v", what, want)
	}
	if got := b.ErrorKind(err); got != want {
		t.Fatalf("%s: ErrorKind(%v) = %v, want %v", what, err, got, want)
	}
	if got := b.ErrorKind(fmt.Errorf("wrapped: %w", err)); got != want {
		t.Fatalf("%s: ErrorKind of the wrapped error %v = %v, want %v (use errors.As)", what, err, got, want)
	}
}

func wantMissing(t testing.TB, b driver.Bucket, key string) {
	t.Helper()
	_, err := b.Stat(context.WithoutCancel(t.Context()), key)
	wantKind(t, b, fmt.Sprintf("Stat(%q) of an object that must not exist", key), err, driver.NotFound)
}

func testPutGet(t *testing.T, b driver.Bucket, _ options) {
	before := time.Now().Add(-time.Hour)
	for i, n := range []int64{0, 1, 1000, 1<<20 + 3} {
		key := fmt.Sprintf("obj-%d", n)
		data := testData(n, uint64(i))
		put(t, b, key, data)
		equalData(t, "Open(0, -1) of "+key, read(t, b, key, 0, -1), data)
		a := stat(t, b, key)
		if a.Size != n {
			t.Errorf("Stat(%q).Size = %d, want %d", key, a.Size, n)
		}
		if a.ModTime.Before(before) || a.ModTime.After(time.Now().Add(time.Hour)) {
			t.Errorf("Stat(%q).ModTime = %v, want about now", key, a.ModTime)
		}
	}

	// Overwrite replaces content, size and (if the backend has one) ETag.
	put(t, b, "over", []byte("first version"))
	a1 := stat(t, b, "over")
	put(t, b, "over", []byte("second, longer version"))
	equalData(t, "overwritten object", read(t, b, "over", 0, -1), []byte("second, longer version"))
	a2 := stat(t, b, "over")
	if a2.Size != int64(len("second, longer version")) {
		t.Errorf("Size after overwrite = %d", a2.Size)
	}
	if a1.ETag != "" && a1.ETag == a2.ETag {
		t.Errorf("ETag %q did not change when the content did", a1.ETag)
	}

	// Unknown size (-1) from a plain reader.
	data := testData(70_000, 99)
	if err := b.Put(t.Context(), "unknown-size", onlyReader{bytes.NewReader(data)}, -1); err != nil {
		t.Fatalf("Put with size -1: %v", err)
	}
	equalData(t, "object put with size -1", read(t, b, "unknown-size", 0, -1), data)
	if err := b.Put(t.Context(), "empty-unknown", onlyReader{bytes.NewReader(nil)}, -1); err != nil {
		t.Fatalf("Put of nothing with size -1: %v", err)
	}
	if a := stat(t, b, "empty-unknown"); a.Size != 0 {
		t.Errorf("empty object put with size -1 has size %d", a.Size)
	}
}

// onlyReader hides every interface but io.Reader (no Seek, no WriteTo, no Len).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func testKeyNames(t *testing.T, b driver.Bucket, _ options) {
	long := strings.Repeat("x", 200) + "/" + strings.Repeat("y", 200) + "/" + strings.Repeat("z", 200) + "/" +
		strings.Repeat("w", 200) + "/" + strings.Repeat("v", 100)
	names := []string{
		"plain",
		"dir/sub/00000000000000000042-7.seg",
		"with space",
		"plus+sign",
		"eq=amp&semi;colon:at@dollar$comma,",
		"percent%2Fnot-a-slash",
		"quote'paren(1)star*bang!tilde~",
		"unicode-é-日本語-ключ",
		"dots.in.name",
		long,
	}
	for i, k := range names {
		if err := tiering.CheckKey(k); err != nil {
			t.Fatalf("test key %q is not portable: %v", k, err)
		}
		put(t, b, k, []byte(k+fmt.Sprint(i)))
	}
	for i, k := range names {
		equalData(t, fmt.Sprintf("Open(%q)", k), read(t, b, k, 0, -1), []byte(k+fmt.Sprint(i)))
		if a := stat(t, b, k); a.Size != int64(len(k+fmt.Sprint(i))) {
			t.Errorf("Stat(%q).Size = %d", k, a.Size)
		}
	}
	want := slices.Clone(names)
	slices.Sort(want)
	if got := keys(list(t, b, "")); !slices.Equal(got, want) {
		t.Errorf("List(\"\") = %q\nwant %q", got, want)
	}
	for _, k := range names {
		if got := keys(list(t, b, k)); !slices.Equal(got, []string{k}) {
			t.Errorf("List(%q) = %q, want just that key", k, got)
		}
		if err := b.Delete(t.Context(), k); err != nil {
			t.Fatalf("Delete(%q): %v", k, err)
		}
		wantMissing(t, b, k)
	}
}

func testRange(t *testing.T, b driver.Bucket, _ options) {
	data := testData(1000, 7)
	put(t, b, "r", data)
	for _, c := range []struct{ off, n, from, to int64 }{
		{0, -1, 0, 1000},
		{0, 1000, 0, 1000},
		{0, 1, 0, 1},
		{10, 20, 10, 30},
		{999, 1, 999, 1000},
		{999, -1, 999, 1000},
		{500, -1, 500, 1000},
		{990, 100, 990, 1000}, // cut at the end
		{0, 5000, 0, 1000},
		{1000, -1, 1000, 1000}, // at the end: empty
		{1000, 10, 1000, 1000},
		{5000, -1, 1000, 1000}, // past the end: empty
		{5000, 3, 1000, 1000},
	} {
		got := read(t, b, "r", c.off, c.n)
		equalData(t, fmt.Sprintf("Open(r, %d, %d)", c.off, c.n), got, data[c.from:c.to])
	}
	put(t, b, "empty", nil)
	equalData(t, "Open(empty, 0, -1)", read(t, b, "empty", 0, -1), nil)
	equalData(t, "Open(empty, 0, 10)", read(t, b, "empty", 0, 10), nil)
}

func testNotFound(t *testing.T, b driver.Bucket, _ options) {
	ctx := t.Context()
	_, err := b.Stat(ctx, "missing")
	wantKind(t, b, "Stat of a missing object", err, driver.NotFound)
	rc, err := b.Open(ctx, "missing", 0, -1)
	if err == nil {
		// Some backends report a missing object on the first read.
		_, err = io.ReadAll(rc)
		_ = rc.Close()
	}
	wantKind(t, b, "Open of a missing object", err, driver.NotFound)
	rc, err = b.Open(ctx, "dir/missing", 10, 5)
	if err == nil {
		_, err = io.ReadAll(rc)
		_ = rc.Close()
	}
	wantKind(t, b, "ranged Open of a missing object", err, driver.NotFound)
	// A prefix of an existing key is not an object.
	put(t, b, "dir/present", []byte("x"))
	_, err = b.Stat(ctx, "dir")
	wantKind(t, b, "Stat of a key's directory", err, driver.NotFound)
	if got := b.ErrorKind(errors.New("some error")); got != driver.Unknown {
		t.Errorf("ErrorKind of an error the driver did not return = %v, want Unknown", got)
	}
}

func testDelete(t *testing.T, b driver.Bucket, _ options) {
	ctx := t.Context()
	put(t, b, "a/b/c", []byte("1"))
	put(t, b, "a/b/d", []byte("2"))
	for i := range 2 {
		if err := b.Delete(ctx, "a/b/c"); err != nil {
			t.Fatalf("Delete #%d of a/b/c: %v", i+1, err)
		}
	}
	wantMissing(t, b, "a/b/c")
	if err := b.Delete(ctx, "never/existed"); err != nil {
		t.Fatalf("Delete of a key that never existed: %v", err)
	}
	if got := keys(list(t, b, "")); !slices.Equal(got, []string{"a/b/d"}) {
		t.Errorf("List after deletes = %q, want [a/b/d]", got)
	}
	if err := b.Delete(ctx, "a/b/d"); err != nil {
		t.Fatal(err)
	}
	if got := list(t, b, ""); len(got) != 0 {
		t.Errorf("List of an emptied bucket = %q", keys(got))
	}
	// A deleted key can be written again.
	put(t, b, "a/b/c", []byte("again"))
	equalData(t, "rewritten a/b/c", read(t, b, "a/b/c", 0, -1), []byte("again"))
}

func testList(t *testing.T, b driver.Bucket, _ options) {
	all := []string{"a", "b/1", "b/2", "b/3.x", "b/3/x", "ba", "c/d/e", "c/d/f", "c/de"}
	for i, k := range slices.Backward(all) {
		put(t, b, k, testData(int64(i*10), uint64(i)))
	}
	objs := list(t, b, "")
	if got := keys(objs); !slices.Equal(got, all) {
		t.Fatalf("List(\"\") = %q\nwant %q (ascending byte order)", got, all)
	}
	for _, o := range objs {
		i := slices.Index(all, o.Key)
		if o.Size != int64(i*10) {
			t.Errorf("List: %s has Size %d, want %d", o.Key, o.Size, i*10)
		}
		if o.ModTime.IsZero() {
			t.Errorf("List: %s has no ModTime", o.Key)
		}
	}
	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{"b", []string{"b/1", "b/2", "b/3.x", "b/3/x", "ba"}},
		{"b/", []string{"b/1", "b/2", "b/3.x", "b/3/x"}},
		{"b/3", []string{"b/3.x", "b/3/x"}},
		{"b/3/", []string{"b/3/x"}},
		{"b/1", []string{"b/1"}},
		{"c/d", []string{"c/d/e", "c/d/f", "c/de"}},
		{"c/d/", []string{"c/d/e", "c/d/f"}},
		{"a", []string{"a"}},
		{"zz", nil},
		{"b/9/", nil},
	} {
		if got := keys(list(t, b, c.prefix)); !slices.Equal(got, c.want) {
			t.Errorf("List(%q) = %q, want %q", c.prefix, got, c.want)
		}
	}
	// fn's error stops the listing and comes back unchanged.
	stop := errors.New("stop here")
	calls := 0
	err := b.List(t.Context(), "", func(driver.Object) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("List whose callback failed returned %v, want the callback's error", err)
	}
	if calls != 2 {
		t.Errorf("List called its callback %d times after it failed on call 2", calls)
	}
}

func testListManyKeys(t *testing.T, b driver.Bucket, _ options) {
	many := make([]string, manyKeys)
	for i := range many {
		many[i] = fmt.Sprintf("many/%05d", i)
	}
	others := []string{"m", "manz", "other/1"}
	start := time.Now()
	parallel(t, 8, len(many), func(i int) error {
		return b.Put(t.Context(), many[i], bytes.NewReader([]byte(many[i])), int64(len(many[i])))
	})
	for _, k := range others {
		put(t, b, k, []byte(k))
	}
	t.Logf("put %d keys in %v", len(many)+len(others), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	objs := list(t, b, "many/")
	t.Logf("listed %d keys in %v", len(objs), time.Since(start).Round(time.Millisecond))
	if got := keys(objs); !slices.Equal(got, many) {
		t.Fatalf("List(many/) returned %d keys, want %d in order (first difference at %d)", len(got), len(many), firstDiff(got, many))
	}
	for _, o := range objs {
		if o.Size != int64(len(o.Key)) {
			t.Fatalf("List: %s has Size %d, want %d", o.Key, o.Size, len(o.Key))
		}
	}
	all := append(slices.Clone(many), others...)
	slices.Sort(all)
	if got := keys(list(t, b, "")); !slices.Equal(got, all) {
		t.Fatalf("List(\"\") returned %d keys, want %d (first difference at %d)", len(got), len(all), firstDiff(got, all))
	}

	// Stop after the first page.
	stop := errors.New("stop")
	var seen []string
	err := b.List(t.Context(), "many/", func(o driver.Object) error {
		seen = append(seen, o.Key)
		if len(seen) == 1050 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !slices.Equal(seen, many[:1050]) {
		t.Fatalf("List stopped at key 1050: err %v, %d keys seen", err, len(seen))
	}

	// A context canceled during the listing ends it with an error.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	calls := 0
	err = b.List(ctx, "many/", func(driver.Object) error {
		calls++
		cancel()
		return nil
	})
	if err == nil {
		t.Fatalf("List whose context was canceled at the first of %d keys returned no error", manyKeys)
	}
	if calls == manyKeys {
		t.Errorf("List whose context was canceled at the first key went on through all %d keys", manyKeys)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// parallel runs fn(0) … fn(n-1) on workers goroutines and fails t on the
// first error.
func parallel(t testing.TB, workers, n int, fn func(i int) error) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("item %d: %w", i, err))
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d concurrent operations failed; first: %v", len(errs), n, errs[0])
	}
}

// failingReader yields n bytes of data and then fails.
type failingReader struct {
	data []byte
	n    int
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	k := copy(p[:min(len(p), f.n)], f.data)
	f.data, f.n = f.data[k:], f.n-k
	return k, nil
}

func testAtomicPut(t *testing.T, b driver.Bucket, o options) {
	ctx := t.Context()
	errBoom := errors.New("reader failed")
	old := []byte("the old version")
	put(t, b, "k", old)

	for _, c := range []struct {
		name       string
		size, fail int64
	}{
		{"small", 1 << 20, 100 << 10},
		{"small unknown size", -1, 100 << 10},
		{"multipart", o.largeSize, o.partSize + o.partSize/2},
		{"multipart unknown size", -1, o.partSize + o.partSize/2},
	} {
		total := max(c.size, c.fail+1)
		data := testData(total, 3)
		err := b.Put(ctx, "k", &failingReader{data: data, n: int(c.fail), err: errBoom}, c.size)
		if err == nil {
			t.Fatalf("%s: Put whose reader failed returned no error", c.name)
		}
		equalData(t, c.name+": object after a failed overwrite", read(t, b, "k", 0, -1), old)
		err = b.Put(ctx, "new", &failingReader{data: data, n: int(c.fail), err: errBoom}, c.size)
		if err == nil {
			t.Fatalf("%s: Put whose reader failed returned no error", c.name)
		}
		wantMissing(t, b, "new")
	}
	if got := keys(list(t, b, "")); !slices.Equal(got, []string{"k"}) {
		t.Errorf("List after failed puts = %q, want [k]", got)
	}
}

func testConcurrent(t *testing.T, b driver.Bucket, _ options) {
	const workers, perWorker = 8, 12
	// Distinct keys: put, read back, stat, list, delete.
	parallel(t, workers, workers*perWorker, func(i int) error {
		ctx := t.Context()
		key := fmt.Sprintf("w%02d/%03d", i%workers, i)
		data := testData(int64(1000+i*37), uint64(i))
		if err := b.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
			return err
		}
		rc, err := b.Open(ctx, key, 0, -1)
		if err != nil {
			return err
		}
		got, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			return err
		}
		if !bytes.Equal(got, data) {
			return fmt.Errorf("%s read back %d bytes that differ from the %d written", key, len(got), len(data))
		}
		if a, err := b.Stat(ctx, key); err != nil || a.Size != int64(len(data)) {
			return fmt.Errorf("Stat(%s) = %+v, %w", key, a, err)
		}
		if i%3 == 0 {
			return b.Delete(ctx, key)
		}
		return nil
	})
	if n := len(list(t, b, "w")); n != workers*perWorker*2/3 {
		t.Errorf("List after concurrent puts and deletes: %d objects, want %d", n, workers*perWorker*2/3)
	}

	// One key, many writers and readers: every read sees one whole version.
	versions := make([][]byte, workers)
	for i := range versions {
		versions[i] = testData(int64(50_000+i*1000), uint64(100+i))
	}
	put(t, b, "shared", versions[0])
	whole := func(got []byte) bool {
		return slices.ContainsFunc(versions, func(v []byte) bool { return bytes.Equal(v, got) })
	}
	parallel(t, workers, workers*4, func(i int) error {
		ctx := t.Context()
		if i%2 == 0 {
			v := versions[i%workers]
			return b.Put(ctx, "shared", bytes.NewReader(v), int64(len(v)))
		}
		rc, err := b.Open(ctx, "shared", 0, -1)
		if err != nil {
			return err
		}
		got, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			return err
		}
		if !whole(got) {
			return fmt.Errorf("a read of a key being overwritten got %d bytes that match no version written", len(got))
		}
		return nil
	})
	if !whole(read(t, b, "shared", 0, -1)) {
		t.Errorf("after concurrent overwrites the object matches no version written")
	}
}

func testLarge(t *testing.T, b driver.Bucket, o options) {
	n := o.largeSize
	data := testData(n, 42)
	sum := sha256.Sum256(data)
	for _, c := range []struct {
		name string
		r    io.Reader
		size int64
	}{
		{"known size", bytes.NewReader(data), n},
		{"unknown size", onlyReader{bytes.NewReader(data)}, -1},
	} {
		key := "large/" + strings.ReplaceAll(c.name, " ", "-")
		start := time.Now()
		if err := b.Put(t.Context(), key, c.r, c.size); err != nil {
			t.Fatalf("Put of %d bytes (%s): %v", n, c.name, err)
		}
		t.Logf("put %d MiB (%s) in %v", n>>20, c.name, time.Since(start).Round(time.Millisecond))
		if a := stat(t, b, key); a.Size != n {
			t.Fatalf("Stat(%s).Size = %d, want %d", key, a.Size, n)
		}
		got := read(t, b, key, 0, -1)
		if sha256.Sum256(got) != sum {
			equalData(t, "large object "+key, got, data)
		}
		// Ranges across a part boundary and at the end.
		for _, r := range [][2]int64{{o.partSize - 10, 20}, {2*o.partSize - 1, 2}, {n - 100, -1}, {n - 100, 1000}} {
			end := n
			if r[1] >= 0 {
				end = min(n, r[0]+r[1])
			}
			equalData(t, fmt.Sprintf("Open(%s, %d, %d)", key, r[0], r[1]), read(t, b, key, r[0], r[1]), data[r[0]:end])
		}
	}
}

// cancelingReader cancels a context once it has yielded after bytes.
type cancelingReader struct {
	r      io.Reader
	after  int
	cancel context.CancelFunc
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	if c.after <= 0 {
		c.cancel()
	}
	if c.after > 0 {
		p = p[:min(len(p), c.after)]
	}
	n, err := c.r.Read(p)
	c.after -= n
	return n, err
}

func testContextCanceled(t *testing.T, b driver.Bucket, o options) {
	put(t, b, "exists", []byte("data"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := b.Put(ctx, "k", bytes.NewReader([]byte("x")), 1); err == nil {
		t.Error("Put with a canceled context returned no error")
	}
	wantMissing(t, b, "k")
	if rc, err := b.Open(ctx, "exists", 0, -1); err == nil {
		// The body may have been in flight; reading it must fail or the
		// open must have.
		if _, err := io.ReadAll(rc); err == nil {
			t.Error("Open with a canceled context returned no error and a readable body")
		}
		_ = rc.Close()
	}
	if _, err := b.Stat(ctx, "exists"); err == nil {
		t.Error("Stat with a canceled context returned no error")
	}
	if err := b.List(ctx, "", func(driver.Object) error { return nil }); err == nil {
		t.Error("List with a canceled context returned no error")
	}
	if err := b.Delete(ctx, "exists"); err == nil {
		t.Error("Delete with a canceled context returned no error")
	}
	equalData(t, "object after a canceled delete", read(t, b, "exists", 0, -1), []byte("data"))

	// Canceled in the middle of a large (multipart) upload.
	data := testData(o.largeSize, 5)
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	r := &cancelingReader{r: bytes.NewReader(data), after: int(o.partSize + o.partSize/2), cancel: cancel}
	if err := b.Put(ctx, "big", r, int64(len(data))); err == nil {
		t.Error("Put canceled in the middle returned no error")
	}
	wantMissing(t, b, "big")
}

// testStore runs the bucket behind a tiering.Store: prefixes, sentinel
// errors and the Store's own checks.
func testStore(t *testing.T, b driver.Bucket, _ options) {
	ctx := t.Context()
	s, err := tiering.New(nopCloser{b}, tiering.WithPrefix("chronik/test"), tiering.WithProviderName("drivertest"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "seg/1", bytes.NewReader([]byte("one")), 3); err != nil {
		t.Fatal(err)
	}
	if got := stat(t, b, "chronik/test/seg/1"); got.Size != 3 {
		t.Fatalf("the Store wrote %d bytes under its prefix, want 3", got.Size)
	}
	got, err := s.ReadAll(ctx, "seg/1")
	if err != nil || string(got) != "one" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if _, err := s.Stat(ctx, "seg/2"); !errors.Is(err, tiering.ErrNotFound) {
		t.Fatalf("Store.Stat of a missing key = %v, want ErrNotFound", err)
	}
	if _, err := s.Open(ctx, "seg/2"); !errors.Is(err, tiering.ErrNotFound) {
		t.Fatalf("Store.Open of a missing key = %v, want ErrNotFound", err)
	}
	rc, err := s.OpenRange(ctx, "seg/1", 1, 0)
	if err != nil {
		t.Fatalf("empty range: %v", err)
	}
	if rest, _ := io.ReadAll(rc); len(rest) != 0 {
		t.Errorf("empty range read %q", rest)
	}
	_ = rc.Close()
	if _, err := s.OpenRange(ctx, "seg/2", 1, 0); !errors.Is(err, tiering.ErrNotFound) {
		t.Fatalf("empty range of a missing key = %v, want ErrNotFound", err)
	}
	err = s.Put(ctx, "short", bytes.NewReader([]byte("ab")), 3)
	if !errors.Is(err, tiering.ErrInvalidArgument) {
		t.Fatalf("Put of 2 bytes claimed as 3 = %v, want ErrInvalidArgument", err)
	}
	wantMissing(t, b, "chronik/test/short")
	err = s.Put(ctx, "long", bytes.NewReader([]byte("abcd")), 3)
	if !errors.Is(err, tiering.ErrInvalidArgument) {
		t.Fatalf("Put of 4 bytes claimed as 3 = %v, want ErrInvalidArgument", err)
	}
	wantMissing(t, b, "chronik/test/long")
	put(t, b, "outside", []byte("x"))
	var listed []string
	if err := s.List(ctx, "", func(o driver.Object) error {
		listed = append(listed, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(listed, []string{"seg/1"}) {
		t.Errorf("Store.List = %q, want [seg/1] (keys relative to the prefix)", listed)
	}
	if err := s.Delete(ctx, "seg/1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "seg/1"); err != nil {
		t.Fatalf("second Store.Delete: %v", err)
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Stat(ctx2, "seg/1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Store.Stat with a canceled context = %v, want context.Canceled", err)
	}
}

// nopCloser keeps the suite's Close of the bucket the only one.
type nopCloser struct{ driver.Bucket }

func (nopCloser) Close() error { return nil }
