package main

import (
	"testing"
)

// TestACLCommandLine covers what `chronik acl` checks before any request:
// the flags of a binding or a filter, delete's --all and --yes. No broker
// runs here; a command that gets as far as dialing fails to reach one.
func TestACLCommandLine(t *testing.T) {
	down := closedAddr(t)
	runCLICases(t, down, []cliCase{
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
	})
}

// TestACLHelp checks that every acl command has help with an example and
// the shared cluster flags.
func TestACLHelp(t *testing.T) { checkCommandHelp(t, "acl") }
