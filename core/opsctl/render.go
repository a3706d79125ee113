package opsctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Format is how a report is printed.
type Format string

// The formats --format accepts.
const (
	// Table is aligned columns for people; not a stable interface.
	Table Format = "table"
	// JSON is one indented JSON document with snake_case field names,
	// stable for scripts: fields are added, never renamed or removed.
	JSON Format = "json"
)

// Formats lists the accepted values of --format, for help text.
var Formats = []Format{Table, JSON}

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case Table, JSON:
		return f, nil
	}
	return "", invalidf("--format %q: use table or json", s)
}

// Report is the result of one command: JSON through its exported fields,
// a table through WriteTable.
type Report interface {
	// WriteTable writes the human-readable form: aligned columns, rows in a
	// stable order.
	WriteTable(w io.Writer) error
}

// Print writes r to w in format f.
func Print(w io.Writer, f Format, r Report) error {
	if f == JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.WriteTable(w)
}

// table writes aligned columns: two spaces between columns, no trailing
// padding, a header row in capitals. Cells must not contain tabs or
// newlines; cell escapes them.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = cell(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// cell makes s safe for one table cell and shows an empty value as "-".
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

// sections writes each non-empty section (a table) to w, separated by one
// blank line.
func sections(w io.Writer, parts ...func(io.Writer) error) error {
	first := true
	for _, p := range parts {
		var buf bytes.Buffer
		if err := p(&buf); err != nil {
			return err
		}
		if buf.Len() == 0 {
			continue
		}
		if !first {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		first = false
		if _, err := buf.WriteTo(w); err != nil {
			return err
		}
	}
	return nil
}

func itoa[T ~int | ~int16 | ~int32 | ~int64](v T) string { return strconv.FormatInt(int64(v), 10) }

// optInt shows an optional number, "-" when absent.
func optInt[T ~int32 | ~int64](v *T) string {
	if v == nil {
		return "-"
	}
	return itoa(*v)
}

// joinInts shows a broker or partition list as "1,2,3".
func joinInts(vs []int32) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = itoa(v)
	}
	return strings.Join(s, ",")
}

func ptr[T any](v T) *T { return &v }
