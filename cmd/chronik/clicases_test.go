package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// cliCase is one command line and what it must print: out on stdout, err
// on stderr (empty err: exit 0, else exit 1).
type cliCase struct {
	name string
	args []string
	out  string // substring of stdout
	err  string // substring of stderr; empty: exit 0
}

// runCLICases runs each case, with no config file and the brokers at down.
func runCLICases(t *testing.T, down string, cases []cliCase) {
	t.Helper()
	for _, tt := range cases {
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

// checkCommandHelp checks that `chronik name` and each of its subcommands
// have help with an example and the shared cluster flags.
func checkCommandHelp(t *testing.T, name string) {
	t.Helper()
	parent, _, err := newRootCmd().Find([]string{name})
	if err != nil || parent.Name() != name {
		t.Fatalf("no %s command: %v", name, err)
	}
	for _, c := range append([]*cobra.Command{parent}, parent.Commands()...) {
		t.Run(c.CommandPath(), func(t *testing.T) {
			if c.Short == "" || c.Example == "" {
				t.Errorf("missing Short or Example")
			}
			for _, flag := range []string{"brokers", "format", "timeout", "sasl-user"} {
				if c.Flags().Lookup(flag) == nil && c.PersistentFlags().Lookup(flag) == nil && c.InheritedFlags().Lookup(flag) == nil {
					t.Errorf("no --%s flag", flag)
				}
			}
		})
	}
}
