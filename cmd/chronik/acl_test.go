package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestACLCommandLine covers what `chronik acl` checks before any request:
// the flags of a binding or a filter, delete's --all and --yes. No broker
// runs here; a command that gets as far as dialing fails to reach one.
func TestACLCommandLine(t *testing.T) {
	down := closedAddr(t)
	tests := []struct {
		name string
		args []string
		out  string // substring of stdout
		err  string // substring of stderr; empty: exit 0
	}{
		{name: "acl without verb shows help", args: []string{"acl"}, out: "Available Commands:"},
		{name: "unknown verb", args: []string{"acl", "remove"}, err: `unknown command "remove" for "chronik acl"`},
		{name: "list takes no argument", args: []string{"acl", "list", "orders"}, err: `unexpected argument "orders"`},
		{name: "list bad pattern type", args: []string{"acl", "list", "--pattern-type", "glob"}, err: `--pattern-type "glob": use literal, prefixed, match or any`},
		{name: "list two resources", args: []string{"acl", "list", "--topic", "t", "--group", "g"}, err: "--topic and --group cannot be combined"},
		{name: "list empty topic", args: []string{"acl", "list", "--topic", ""}, err: "--topic: give a name"},
		{name: "list deny is create's", args: []string{"acl", "list", "--deny"}, err: "unknown flag: --deny"},
		{name: "list reaches for the broker", args: []string{"acl", "list", "--topic", "orders-1", "--pattern-type", "match"}, err: "cannot reach broker " + down},
		{name: "create needs a resource", args: []string{"acl", "create", "--principal", "User:a", "--operation", "read"}, err: "say which resource the ACL is on"},
		{name: "create needs a principal", args: []string{"acl", "create", "--topic", "t", "--operation", "read"}, err: "--principal is required"},
		{name: "create needs an operation", args: []string{"acl", "create", "--topic", "t", "--principal", "User:a"}, err: "--operation is required"},
		{name: "create unknown operation", args: []string{"acl", "create", "--topic", "t", "--principal", "User:a", "--operation", "read,fly"}, err: `--operation "fly": use all, read`},
		{name: "create match", args: []string{"acl", "create", "--topic", "t", "--principal", "User:a", "--operation", "read", "--pattern-type", "match"}, err: "use literal or prefixed"},
		{name: "create permission is a filter's", args: []string{"acl", "create", "--topic", "t", "--principal", "User:a", "--operation", "read", "--permission", "deny"}, err: "unknown flag: --permission"},
		{name: "create on the cluster", args: []string{"acl", "create", "--cluster", "--principal", "User:ops", "--operation", "describe-configs"}, err: "cannot reach broker " + down},
		{name: "delete everything needs --all", args: []string{"acl", "delete", "--yes"}, err: "refusing to delete every ACL: give a filter"},
		{name: "delete match alone is everything", args: []string{"acl", "delete", "--pattern-type", "match", "--yes"}, err: "refusing to delete every ACL"},
		{name: "delete --all with a filter", args: []string{"acl", "delete", "--all", "--topic", "t", "--yes"}, err: `--all deletes every ACL and takes no filter; drop --all to delete the ACLs of topic "t"`},
		{
			name: "delete without a terminal needs --yes", args: []string{"acl", "delete", "--principal", "User:bob"},
			err: "refusing to delete the ACLs of principal User:bob without confirmation: stdin is not a terminal — pass --yes",
		},
		{name: "delete all without a terminal needs --yes", args: []string{"acl", "delete", "--all"}, err: "refusing to delete every ACL without confirmation"},
		{name: "delete reaches for the broker", args: []string{"acl", "delete", "--all", "--yes"}, err: "cannot reach broker " + down},
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

// TestACLHelp checks that every acl command has help with an example and
// the shared cluster flags.
func TestACLHelp(t *testing.T) {
	parent, _, err := newRootCmd().Find([]string{"acl"})
	if err != nil || parent.Name() != "acl" {
		t.Fatalf("no acl command: %v", err)
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
