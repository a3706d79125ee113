package tiering

import (
	"io"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{MaxAttempts: 10, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 9: time.Second} {
		for range 50 {
			if d := backoff(p, n); d < want/2 || d > want {
				t.Fatalf("backoff after attempt %d = %v, want within [%v, %v]", n, d, want/2, want)
			}
		}
	}
}

func TestExactReader(t *testing.T) {
	t.Parallel()
	// Covered end to end by drivertest's Store subtest; here the edge of
	// a reader that returns its last bytes together with io.EOF.
	r := &exactReader{r: &eofWithData{data: []byte("abc")}, left: 3}
	buf := make([]byte, 10)
	n, err := r.Read(buf)
	if n != 3 || err != nil {
		t.Fatalf("first Read = %d, %v", n, err)
	}
	if n, err := r.Read(buf); n != 0 || err == nil || err.Error() != "EOF" {
		t.Fatalf("second Read = %d, %v; want 0, EOF", n, err)
	}
}

type eofWithData struct{ data []byte }

func (e *eofWithData) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, io.EOF
}
