package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestQuotaCommandLine covers what `chronik quota` checks before any
// request: the entity flags, the rates, --strict. No broker runs here; a
// command that gets as far as dialing fails to reach one.
func TestQuotaCommandLine(t *testing.T) {
	down := closedAddr(t)
	tests := []struct {
		name string
		args []string
		out  string // substring of stdout
		err  string // substring of stderr; empty: exit 0
	}{
		{name: "quota without verb shows help", args: []string{"quota"}, out: "Available Commands:"},
		{name: "unknown verb", args: []string{"quota", "remove"}, err: `unknown command "remove" for "chronik quota"`},
		{name: "list takes no argument", args: []string{"quota", "list", "alice"}, err: `unexpected argument "alice"`},
		{name: "list user and default user", args: []string{"quota", "list", "--user", "a", "--user-default"}, err: "--user and --user-default cannot be combined"},
		{name: "list strict alone", args: []string{"quota", "list", "--strict"}, err: "--strict narrows"},
		{name: "list empty client ID", args: []string{"quota", "list", "--client-id", ""}, err: "--client-id: give a name (--client-id-default names the default)"},
		{name: "list reaches for the broker", args: []string{"quota", "list", "--user", "alice", "--strict"}, err: "cannot reach broker " + down},
		{name: "set needs an entity", args: []string{"quota", "set", "--producer-byte-rate", "1MiB"}, err: "say whose quota: --user NAME or --user-default, and/or --client-id ID or --client-id-default"},
		{name: "set needs a rate", args: []string{"quota", "set", "--user", "alice"}, err: "give the rates to set: --producer-byte-rate, --consumer-byte-rate or both"},
		{name: "set bad rate", args: []string{"quota", "set", "--user", "alice", "--consumer-byte-rate", "10MB"}, err: `--consumer-byte-rate "10MB": give bytes per second, optionally with KiB, MiB or GiB`},
		{name: "set zero rate", args: []string{"quota", "set", "--client-id-default", "--producer-byte-rate", "0"}, err: "`chronik quota delete` removes a quota"},
		{name: "set strict is list's", args: []string{"quota", "set", "--user", "a", "--strict", "--producer-byte-rate", "1"}, err: "unknown flag: --strict"},
		{name: "set client ID twice", args: []string{"quota", "set", "--client-id", "a", "--client-id-default", "--producer-byte-rate", "1"}, err: "--client-id and --client-id-default cannot be combined"},
		{name: "set reaches for the broker", args: []string{"quota", "set", "--user-default", "--client-id", "etl", "--producer-byte-rate", "10MiB"}, err: "cannot reach broker " + down},
		{name: "delete needs an entity", args: []string{"quota", "delete", "--producer-byte-rate"}, err: "say whose quota"},
		{name: "delete rate takes no value", args: []string{"quota", "delete", "--user", "a", "--producer-byte-rate=5"}, err: "invalid argument"},
		{name: "delete reaches for the broker", args: []string{"quota", "delete", "--user", "alice"}, err: "cannot reach broker " + down},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CHRONIK_CONFIG", "")
			t.Setenv("CHRONIK_BROKERS", down)
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if want := map[bool]int{true: 0, false: 1}[tt.err == ""]; code != want {
				t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, want, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tt.out) {
				t.Errorf("stdout %q does not contain %q", &stdout, tt.out)
			}
			if !strings.Contains(stderr.String(), tt.err) {
				t.Errorf("stderr %q does not contain %q", &stderr, tt.err)
			}
		})
	}
}

// TestQuotaHelp checks that every quota command has help with an example
// and the shared cluster flags.
func TestQuotaHelp(t *testing.T) {
	parent, _, err := newRootCmd().Find([]string{"quota"})
	if err != nil || parent.Name() != "quota" {
		t.Fatalf("no quota command: %v", err)
	}
	for _, c := range append([]*cobra.Command{parent}, parent.Commands()...) {
		t.Run(c.CommandPath(), func(t *testing.T) {
			if c.Short == "" || c.Example == "" {
				t.Errorf("missing Short or Example")
			}
			for _, name := range []string{"brokers", "format", "timeout", "sasl-user"} {
				if c.Flags().Lookup(name) == nil && c.PersistentFlags().Lookup(name) == nil && c.InheritedFlags().Lookup(name) == nil {
					t.Errorf("no --%s flag", name)
				}
			}
		})
	}
}
