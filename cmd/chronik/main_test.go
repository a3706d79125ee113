package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		out, err   string // substrings of stdout and stderr
		notInError string
	}{
		{name: "version", args: []string{"version"}, out: "chronik dev (go"},
		{name: "--version", args: []string{"--version"}, out: "chronik dev (go"},
		{name: "help lists serve", args: []string{"--help"}, out: "serve"},
		{
			name: "serve help names env vars and defaults",
			args: []string{"serve", "--help"},
			out:  `CHRONIK_DATA_DIR) (default "./data")`,
		},
		{
			name: "invalid config fails before starting",
			args: []string{"serve", "--node-id", "0", "--log-level", "loud"},
			code: 1,
			err:  "chronik: config: node-id is 0",
			// a runtime error prints no usage
			notInError: "Usage:",
		},
		{
			name: "unknown flag",
			args: []string{"serve", "--nodeid", "2"},
			code: 1,
			err:  "run 'chronik serve --help' for usage",
		},
		{name: "unknown command", args: []string{"srve"}, code: 1, err: `unknown command "srve"`},
		{name: "stray argument", args: []string{"serve", "now"}, code: 1, err: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CHRONIK_CONFIG", "")
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tt.out) {
				t.Errorf("stdout %q does not contain %q", &stdout, tt.out)
			}
			if !strings.Contains(stderr.String(), tt.err) {
				t.Errorf("stderr %q does not contain %q", &stderr, tt.err)
			}
			if tt.notInError != "" && strings.Contains(stderr.String(), tt.notInError) {
				t.Errorf("stderr %q contains %q", &stderr, tt.notInError)
			}
		})
	}
}
