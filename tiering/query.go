package tiering

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Query reads the query parameters of a store URL for a Provider's FromURL.
// Each getter leaves its destination alone when the parameter is absent, so
// the defaults of NewConfig stand; Err reports malformed values, repeated
// parameters and every parameter that no getter read, so a typo in a URL
// fails instead of being ignored.
type Query struct {
	values url.Values
	read   map[string]bool
	errs   []error
}

// NewQuery returns a Query over u's query parameters.
func NewQuery(u *url.URL) *Query {
	q := &Query{read: map[string]bool{}}
	var err error
	if q.values, err = url.ParseQuery(u.RawQuery); err != nil {
		q.errs = append(q.errs, fmt.Errorf("query: %w", err))
	}
	return q
}

func (q *Query) get(name string) (string, bool) {
	q.read[name] = true
	vs, ok := q.values[name]
	if !ok {
		return "", false
	}
	if len(vs) > 1 {
		q.errs = append(q.errs, fmt.Errorf("query parameter %q is given %d times", name, len(vs)))
	}
	return vs[0], true
}

// String sets *dst to the parameter's value if present.
func (q *Query) String(name string, dst *string) {
	if v, ok := q.get(name); ok {
		*dst = v
	}
}

// Bool sets *dst from a true/false (1/0) parameter; an empty value means true.
func (q *Query) Bool(name string, dst *bool) {
	v, ok := q.get(name)
	if !ok {
		return
	}
	if v == "" {
		*dst = true
		return
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		q.errs = append(q.errs, fmt.Errorf("query parameter %s=%q: want true or false", name, v))
		return
	}
	*dst = b
}

// Int sets *dst from an integer parameter.
func (q *Query) Int(name string, dst *int) {
	v, ok := q.get(name)
	if !ok {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		q.errs = append(q.errs, fmt.Errorf("query parameter %s=%q: want an integer", name, v))
		return
	}
	*dst = n
}

// Bytes sets *dst from a size: a number of bytes with an optional KiB, MiB or
// GiB suffix ("8MiB").
func (q *Query) Bytes(name string, dst *int64) {
	v, ok := q.get(name)
	if !ok {
		return
	}
	n, err := ParseBytes(v)
	if err != nil {
		q.errs = append(q.errs, fmt.Errorf("query parameter %s: %w", name, err))
		return
	}
	*dst = n
}

// Duration sets *dst from a Go duration ("1.5s").
func (q *Query) Duration(name string, dst *time.Duration) {
	v, ok := q.get(name)
	if !ok {
		return
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		q.errs = append(q.errs, fmt.Errorf("query parameter %s=%q: want a duration such as 1.5s", name, v))
		return
	}
	*dst = d
}

// Err returns every problem found, including the parameters nobody read.
func (q *Query) Err() error {
	var unknown []string
	for name := range q.values {
		if !q.read[name] {
			unknown = append(unknown, name)
		}
	}
	errs := q.errs
	if len(unknown) > 0 {
		slices.Sort(unknown)
		known := make([]string, 0, len(q.read))
		for name := range q.read {
			known = append(known, name)
		}
		slices.Sort(known)
		errs = append(errs, fmt.Errorf("unknown query parameter %s (known: %s)",
			strings.Join(unknown, ", "), strings.Join(known, ", ")))
	}
	return errors.Join(errs...)
}

// ParseBytes parses a size in bytes with an optional KiB, MiB or GiB suffix.
func ParseBytes(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size: want bytes, optionally with KiB, MiB or GiB", s)
	}
	return n * mult, nil
}
