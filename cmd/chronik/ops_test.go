package main

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// closedAddr returns a loopback address nobody listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestOperatorCommandLine covers flag and argument handling of the topic
// and group commands, everything that fails before a request, and the
// message for an unreachable cluster. No broker runs here.
func TestOperatorCommandLine(t *testing.T) {
	down := closedAddr(t)
	tests := []struct {
		name string
		args []string
		code int
		out  string // substring of stdout
		err  string // substring of stderr
	}{
		{name: "root help lists topic and group", args: []string{"--help"}, out: "group"},
		{name: "topic without verb shows help", args: []string{"topic"}, out: "Available Commands:"},
		{name: "unknown verb suggests", args: []string{"topic", "lsit"}, code: 1, err: `unknown command "lsit" for "chronik topic"; did you mean "list"?`},
		{name: "group unknown verb", args: []string{"group", "nuke"}, code: 1, err: `unknown command "nuke" for "chronik group"`},
		{name: "create needs a name", args: []string{"topic", "create"}, code: 1, err: "give the topic name: chronik topic create NAME"},
		{name: "describe takes one name", args: []string{"topic", "describe", "a", "b"}, code: 1, err: "one topic name only"},
		{name: "producers needs a name", args: []string{"topic", "producers"}, code: 1, err: "give the topic name: chronik topic producers NAME"},
		{name: "producers bad partitions", args: []string{"topic", "producers", "t", "--partitions", "0,-1"}, code: 1, err: `--partitions "0,-1": want partition numbers from 0`},
		{name: "producers partitions", args: []string{"topic", "producers", "t", "--partitions", "2, 0,2"}, code: 1, err: "cannot reach broker"},
		{name: "list takes no argument", args: []string{"topic", "list", "x"}, code: 1, err: `unexpected argument "x"`},
		{
			name: "config needs key=value", args: []string{"topic", "create", "t", "--config", "retention.ms"}, code: 1,
			err: `--config "retention.ms": want key=value, e.g. --config retention.ms=86400000`,
		},
		{name: "config key twice", args: []string{"topic", "create", "t", "--config", "a=1", "--config", "a=2"}, code: 1, err: "--config a is given twice"},
		{name: "partitions zero", args: []string{"topic", "create", "t", "--partitions", "0"}, code: 1, err: "--partitions 0: give 1 or more"},
		{
			name: "partitions not a number", args: []string{"topic", "create", "t", "--partitions", "x"}, code: 1,
			err: "run 'chronik topic create --help' for usage",
		},
		{name: "alter needs a change", args: []string{"topic", "alter", "t"}, code: 1, err: "nothing to alter"},
		{name: "alter delete-config with value", args: []string{"topic", "alter", "t", "--delete-config", "a=1"}, code: 1, err: "give only the key"},
		{
			name: "alter set and delete one key", args: []string{"topic", "alter", "t", "--config", "a=1", "--delete-config", "a"}, code: 1,
			err: "a is both set (--config) and deleted (--delete-config)",
		},
		{name: "bad format", args: []string{"topic", "list", "--format", "yaml", "--brokers", down}, code: 1, err: `--format "yaml": use table or json`},
		{name: "bad timeout", args: []string{"topic", "list", "--timeout", "0s", "--brokers", down}, code: 1, err: "--timeout 0s"},
		{name: "bad brokers", args: []string{"topic", "list", "--brokers", "a:1,,b:2"}, code: 1, err: "empty address"},
		{
			name: "delete without a terminal needs --yes", args: []string{"topic", "delete", "t", "--brokers", down}, code: 1,
			err: `refusing to delete topic "t" without confirmation: stdin is not a terminal — pass --yes`,
		},
		{
			name: "unreachable", args: []string{"topic", "list", "--brokers", down}, code: 1,
			err: "chronik: cannot reach broker " + down + ": connection refused — is `chronik serve` running there? use --brokers",
		},
		{name: "unreachable through env", args: []string{"group", "list"}, code: 1, err: "cannot reach broker " + down},
		{name: "reset needs a target", args: []string{"group", "reset-offsets", "g", "--topic", "t"}, code: 1, err: "say where to move the offsets"},
		{name: "reset needs a topic", args: []string{"group", "reset-offsets", "g", "--to-earliest"}, code: 1, err: "--topic is required"},
		{
			name: "reset one target only", args: []string{"group", "reset-offsets", "g", "--topic", "t", "--to-latest", "--to-offset", "3"}, code: 1,
			err: "--to-latest and --to-offset cannot be combined",
		},
		{
			name: "reset bad datetime", args: []string{"group", "reset-offsets", "g", "--topic", "t", "--to-datetime", "2024-05-01"}, code: 1,
			err: `--to-datetime "2024-05-01": want an RFC 3339 time`,
		},
		{
			name: "reset bad partitions", args: []string{"group", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--partitions", "0,x"}, code: 1,
			err: `--partitions "0,x"`,
		},
		{
			name: "reset shift-by zero is a target", args: []string{"group", "reset-offsets", "g", "--topic", "t", "--shift-by", "0", "--brokers", down}, code: 1,
			err: "cannot reach broker",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CHRONIK_CONFIG", "")
			t.Setenv("CHRONIK_BROKERS", down)
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
			if code != 0 && strings.Contains(stderr.String(), "Usage:") {
				t.Errorf("an error printed the usage:\n%s", &stderr)
			}
		})
	}
}

// TestOperatorHelp checks that every operator command has help with an
// example, and that the shared flags reach every subcommand.
func TestOperatorHelp(t *testing.T) {
	root := newRootCmd()
	for _, noun := range []string{"topic", "group"} {
		parent, _, err := root.Find([]string{noun})
		if err != nil || parent.Name() != noun {
			t.Fatalf("no %s command: %v", noun, err)
		}
		for _, c := range append([]*cobra.Command{parent}, parent.Commands()...) {
			t.Run(c.CommandPath(), func(t *testing.T) {
				if c.Short == "" || c.Example == "" {
					t.Errorf("missing Short or Example")
				}
				for _, name := range []string{"brokers", "format", "timeout"} {
					if c.Flags().Lookup(name) == nil && c.PersistentFlags().Lookup(name) == nil && c.InheritedFlags().Lookup(name) == nil {
						t.Errorf("no --%s flag", name)
					}
				}
			})
		}
	}

	// On create and alter --config is the topic config; elsewhere the file.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"topic", "create", "--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("create --help: exit %d: %s", code, &stderr)
	}
	if !strings.Contains(stdout.String(), "--config key=value") || !strings.Contains(stdout.String(), "set CHRONIK_CONFIG instead") {
		t.Errorf("topic create --help does not explain --config:\n%s", &stdout)
	}
	stdout.Reset()
	if code := run([]string{"topic", "list", "--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("list --help: exit %d: %s", code, &stderr)
	}
	if !strings.Contains(stdout.String(), "--config file") {
		t.Errorf("topic list --help has no --config file flag:\n%s", &stdout)
	}
}
