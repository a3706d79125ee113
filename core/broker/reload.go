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
	mod     time.Time // the newest file time when value was loaded
	checked time.Time
	lastErr string
}

// newReloaded loads the value once; its error fails the caller (start-up).
func newReloaded[T any](what string, log *slog.Logger, load func() (T, error), paths ...string) (*reloaded[T], error) {
	r := &reloaded[T]{what: what, paths: paths, load: load, log: log}
	mod, err := r.modTime()
	if err != nil {
		return nil, err
	}
	if r.value, err = load(); err != nil {
		return nil, err
	}
	r.mod, r.checked = mod, time.Now()
	return r, nil
}

// modTime is the newest modification time of the files.
func (r *reloaded[T]) modTime() (time.Time, error) {
	var newest time.Time
	for _, p := range r.paths {
		info, err := os.Stat(p)
		if err != nil {
			return time.Time{}, err
		}
		if info.ModTime().After(newest) {
			newest = info.ModTime()
		}
	}
	return newest, nil
}

// get returns the value, loading it again first if a file changed.
func (r *reloaded[T]) get() T {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) < reloadCheck {
		return r.value
	}
	r.checked = time.Now()
	mod, err := r.modTime()
	if err == nil && mod.Equal(r.mod) {
		return r.value
	}
	var v T
	if err == nil {
		if v, err = r.load(); err == nil {
			r.value, r.mod, r.lastErr = v, mod, ""
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
