//go:build integration

package main

import (
	"io"
	"strings"
	"testing"

	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/opsctl"
)

// TestACLCommands: `chronik acl create | list | delete` as a super user of
// a broker with kafka.authorizer = "acl": filters, --pattern-type match
// finding a prefixed ACL, delete by filter; a principal that is neither a
// super user nor allowed on the cluster is told who may manage ACLs, and
// may once an ACL allows it DESCRIBE on the cluster.
// TestACLUserResource: --user names the USER resource of delegation
// tokens by principal (a bare name is a user's), as kafka-acls.sh
// --user-principal does.
func TestACLUserResource(t *testing.T) {
	c, as := aclBrokerCLI(t)
	created := opsJSON[opsctl.ACLChange](c, as("admin", "acl", "create", "--user", "bob", "--principal", "User:alice", "--operation", "create-tokens")...)
	if len(created.ACLs) != 1 || created.ACLs[0].ResourceType != "USER" || created.ACLs[0].ResourceName != "User:bob" || created.ACLs[0].Operation != "CREATE_TOKENS" {
		t.Fatalf("acl create --user bob: %+v", created)
	}
	if got := opsJSON[opsctl.ACLList](c, as("admin", "acl", "list", "--user", "User:bob")...).ACLs; len(got) != 1 || got[0].Principal != "User:alice" {
		t.Fatalf("acl list --user User:bob: %+v", got)
	}
	c.fails("does not apply to resource type USER", as("admin", "acl", "create", "--user", "bob", "--principal", "User:alice", "--operation", "read")...)
}

func TestACLCommands(t *testing.T) {
	c, as := aclBrokerCLI(t)

	created := opsJSON[opsctl.ACLChange](c, as("admin", "acl", "create", "--topic", "orders", "--principal", "User:alice", "--operation", "read,Describe")...)
	if created.Action != "created" || len(created.ACLs) != 2 || created.ACLs[0].Operation != "DESCRIBE" || created.ACLs[1].Operation != "READ" {
		t.Fatalf("acl create: %+v", created)
	}
	out := c.ok(as("admin", "acl", "create", "--topic", "orders-", "--pattern-type", "prefixed", "--principal", "User:bob", "--operation", "write")...)
	if !strings.Contains(out, "TOPIC          PREFIXED  orders-  User:bob   *     WRITE      ALLOW       created") {
		t.Fatalf("acl create table:\n%s", out)
	}

	list := func(args ...string) []opsctl.ACL {
		t.Helper()
		return opsJSON[opsctl.ACLList](c, as("admin", append([]string{"acl", "list"}, args...)...)...).ACLs
	}
	if all := list(); len(all) != 3 || all[0].ResourceName != "orders" || all[2] != (opsctl.ACL{
		ResourceType: "TOPIC", PatternType: "PREFIXED", ResourceName: "orders-", Principal: "User:bob", Host: "*", Operation: "WRITE", Permission: "ALLOW",
	}) {
		t.Fatalf("acl list: %+v", all)
	}
	if table := c.ok(as("admin", "acl", "list")...); !strings.HasPrefix(table, "RESOURCE-TYPE  PATTERN   NAME     PRINCIPAL   HOST  OPERATION  PERMISSION\n") {
		t.Fatalf("acl list table:\n%s", table)
	}
	if got := list("--principal", "User:bob"); len(got) != 1 || got[0].Principal != "User:bob" {
		t.Fatalf("acl list --principal User:bob: %+v", got)
	}
	if got := list("--topic", "orders-1"); len(got) != 0 {
		t.Fatalf("acl list --topic orders-1 (exact name): %+v", got)
	}
	if got := list("--topic", "orders-1", "--pattern-type", "match"); len(got) != 1 || got[0].ResourceName != "orders-" {
		t.Fatalf("acl list --topic orders-1 --pattern-type match: %+v", got)
	}
	if got := list("--topic", "orders", "--operation", "read", "--permission", "allow"); len(got) != 1 || got[0].Operation != "READ" {
		t.Fatalf("acl list --topic orders --operation read: %+v", got)
	}

	deleted := opsJSON[opsctl.ACLChange](c, as("admin", "acl", "delete", "--topic", "orders", "--operation", "describe", "--yes")...)
	if deleted.Action != "deleted" || len(deleted.ACLs) != 1 || deleted.ACLs[0].Operation != "DESCRIBE" {
		t.Fatalf("acl delete: %+v", deleted)
	}
	if out := c.ok(as("admin", "acl", "delete", "--topic", "orders", "--operation", "describe", "--yes")...); !strings.Contains(out, "no ACL matched") {
		t.Fatalf("acl delete of nothing:\n%s", out)
	}
	c.ok(as("admin", "acl", "create", "--topic", "orders", "--principal", "User:alice", "--operation", "read")...)
	if got := list(); len(got) != 2 {
		t.Fatalf("acl list after delete, and creating an ACL that exists: %+v", got)
	}
	c.fails("refusing to delete every ACL", as("admin", "acl", "delete", "--yes")...)
	c.fails("refusing to delete the ACLs of principal User:bob without confirmation", as("admin", "acl", "delete", "--principal", "User:bob")...)

	// On a terminal delete lists what it would delete and asks.
	stdinIsTerminal = func(io.Reader) bool { return true }
	t.Cleanup(func() { stdinIsTerminal = opsctl.IsTerminal })
	out, errOut, code := c.exec("y\n", as("admin", "acl", "delete", "--principal", "User:bob")...)
	if code != 1 || !strings.Contains(errOut, "orders-  User:bob") || !strings.Contains(errOut, "Delete this ACL?") ||
		!strings.Contains(errOut, `not confirmed (got "y", want "yes")`) {
		t.Fatalf("acl delete with a wrong answer: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if out, errOut, code = c.exec("", as("admin", "acl", "delete", "--principal", "User:nobody")...); code != 0 || !strings.Contains(out, "no ACL matched") {
		t.Fatalf("acl delete matching nothing asks nothing: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if out, errOut, code = c.exec("yes\n", as("admin", "acl", "delete", "--principal", "User:bob")...); code != 0 || !strings.Contains(out, "WRITE      ALLOW       deleted") {
		t.Fatalf("acl delete confirmed: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	stdinIsTerminal = opsctl.IsTerminal
	c.ok(as("admin", "acl", "create", "--topic", "orders-", "--pattern-type", "prefixed", "--principal", "User:bob", "--operation", "write")...)
	c.fails("operation READ does not apply", as("admin", "acl", "create", "--transactional-id", "tx", "--principal", "User:alice", "--operation", "read")...)

	t.Setenv(opsctl.EnvSASLPassword, "alice-secret")
	c.fails("kafka.super-users, or principals an ACL allows DESCRIBE", as("alice", "acl", "list")...)
	c.fails("kafka.super-users", as("alice", "acl", "create", "--cluster", "--principal", "User:alice", "--operation", "alter")...)
	t.Setenv(opsctl.EnvSASLPassword, "admin-secret")
	c.ok(as("admin", "acl", "create", "--cluster", "--principal", "User:alice", "--operation", "describe")...)
	t.Setenv(opsctl.EnvSASLPassword, "alice-secret")
	if got := opsJSON[opsctl.ACLList](c, as("alice", "acl", "list", "--cluster")...).ACLs; len(got) != 1 || got[0].ResourceName != "kafka-cluster" {
		t.Fatalf("acl list by alice, allowed DESCRIBE on the cluster: %+v", got)
	}
	c.fails("ALTER (acl create, delete)", as("alice", "acl", "delete", "--principal", "User:bob", "--yes")...)

	plain := newOpsCLI(t)
	plain.fails(`kafka.authorizer = "acl"`, "acl", "list", "--timeout", "5s")
}

// aclBrokerCLI starts a broker with kafka.authorizer = "acl", SCRAM users
// admin (a super user) and alice, and returns the CLI against it and as,
// which appends the flags that connect as a user.
func aclBrokerCLI(t *testing.T) (c *opsCLI, as func(user string, args ...string) []string) {
	t.Helper()
	cfg := brokertest.Config(t)
	brokertest.SASLUsers(t, &cfg, []string{"SCRAM-SHA-512"}, "admin", "alice")
	cfg.Kafka.SuperUsers = []string{"User:admin"}
	cfg.Kafka.Authorizer = "acl"
	b := brokertest.Start(t, cfg)
	t.Setenv("CHRONIK_CONFIG", "")
	t.Setenv("CHRONIK_BROKERS", "")
	t.Setenv(opsctl.EnvSASLPassword, "admin-secret")
	return &opsCLI{t: t, brokers: b.KafkaAddr()}, func(user string, args ...string) []string {
		return append(args, "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", user, "--timeout", "5s")
	}
}
