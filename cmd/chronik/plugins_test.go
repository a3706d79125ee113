package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestPluginsCommand(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := run([]string{"plugins"}, &out, &errOut); code != 0 {
		t.Fatalf("chronik plugins exited %d: %s", code, errOut.String())
	}
	for _, want := range []string{"NAME", "s3://", "minio://", "gs://", "azblob://", "file://", "mem://"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("chronik plugins does not list %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"plugins", "--format", "json"}, &out, &errOut); code != 0 {
		t.Fatalf("chronik plugins --format json exited %d: %s", code, errOut.String())
	}
	var doc struct {
		Plugins []struct {
			Name    string   `json:"name"`
			Schemes []string `json:"schemes"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("--format json: %v\n%s", err, out.String())
	}
	names := map[string]bool{}
	for _, p := range doc.Plugins {
		names[p.Name] = true
	}
	for _, want := range []string{"azure", "gcs", "local", "mem", "minio", "s3"} {
		if !names[want] {
			t.Errorf("JSON lacks plugin %q: %s", want, out.String())
		}
	}
}
