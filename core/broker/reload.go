package broker

import (
	"log/slog"
	"os"
	"sync"
	"time"
)

// reloadCheck is how often a reloaded value looks at its files' times.
const reloadCheck = time.Second

// reloaded is a value loaded from files (a TLS certificate, the SASL users)
// that is loaded again when any of them changes, looked at no more than
// once per reloadCheck. A load that fails (a half-written file) keeps the
// previous value in use and is warned about once per distinct error.
type reloaded[T any] struct {
	what  string // for the log
	paths []string
	load  func() (T, error)
	log   *slog.Logger

	mu      sync.Mutex
	value   T
	files   []os.FileInfo // the files when value was loaded
	checked time.Time
	lastErr string
}

// newReloaded loads the value once; its error fails the caller (start-up).
func newReloaded[T any](what string, log *slog.Logger, load func() (T, error), paths ...string) (*reloaded[T], error) {
	r := &reloaded[T]{what: what, paths: paths, load: load, log: log}
	files, err := r.stat()
	if err != nil {
		return nil, err
	}
	if r.value, err = load(); err != nil {
		return nil, err
	}
	r.files, r.checked = files, time.Now()
	return r, nil
}

// stat looks at the files (following symbolic links, as a secret mounted
// by Kubernetes swaps one).
func (r *reloaded[T]) stat() ([]os.FileInfo, error) {
	files := make([]os.FileInfo, len(r.paths))
	for i, p := range r.paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		files[i] = info
	}
	return files, nil
}

// unchanged reports whether every file is the one seen before, with the
// same time and size: a file replaced within the clock's granularity (a
// few ms) is still noticed when it is a new file or of another size.
func unchanged(before, now []os.FileInfo) bool {
	for i := range now {
		a, b := before[i], now[i]
		if !os.SameFile(a, b) || !a.ModTime().Equal(b.ModTime()) || a.Size() != b.Size() {
			return false
		}
	}
	return true
}

// get returns the value, loading it again first if a file changed.
func (r *reloaded[T]) get() T {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) < reloadCheck {
		return r.value
	}
	r.checked = time.Now()
	files, err := r.stat()
	if err == nil && unchanged(r.files, files) {
		return r.value
	}
	var v T
	if err == nil {
		if v, err = r.load(); err == nil {
			r.value, r.files, r.lastErr = v, files, ""
			r.log.Info(r.what+" reloaded", "files", r.paths)
			return r.value
		}
	}
	if err.Error() != r.lastErr {
		r.lastErr = err.Error()
		r.log.Warn(r.what+" cannot be loaded again; keeping the previous one", "err", err)
	}
	return r.value
}
