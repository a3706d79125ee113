package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/chronik-go/chronik/core/opsctl"
)

func newACLCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "acl",
		Short: "List, create and delete the cluster's access control lists",
		Long: `Manage the cluster's ACLs (Kafka's DescribeAcls, CreateAcls and DeleteAcls, as
kafka-acls.sh uses): who may do what on which topics, groups, transactional
IDs and the cluster. The brokers enforce them with kafka.authorizer = "acl".
Only the principals of the brokers' kafka.super-users, or principals an ACL
allows DESCRIBE (list) or ALTER (create, delete) on the cluster, may manage
them: connect as one with --sasl-mechanism, --sasl-user and
CHRONIK_SASL_PASSWORD. See docs/cli.md.`,
		Example: `  chronik acl create --topic orders --principal User:alice --operation read,describe
  chronik acl create --topic orders- --pattern-type prefixed --principal User:bob --operation write
  chronik acl list --topic orders-1 --pattern-type match
  chronik acl delete --principal User:bob --yes`,
		Args: cobra.ArbitraryArgs,
		RunE: parentRun,
	}
	f.register(cmd)
	cmd.AddCommand(newACLListCmd(&f), newACLCreateCmd(&f), newACLDeleteCmd(&f))
	return cmd
}

// aclFlags are the flags that name ACLs, shared by list, create and
// delete; build turns them into opsctl's form, a string flag not given
// being nil.
type aclFlags struct {
	fs                                  *pflag.FlagSet
	topic, group, transactionalID, user string
	host                                string
	cluster, deny                       bool
	patternType, permission             string
	principals, operations              []string
}

// register adds the resource and entry flags; create says whether they
// name a binding to create or a filter.
func (a *aclFlags) register(fs *pflag.FlagSet, create bool) {
	a.fs = fs
	anyNote := " (default: any)"
	if create {
		anyNote = ""
	}
	fs.StringVar(&a.topic, "topic", "", "the ACL's topic `name` (\"*\": every topic; with --pattern-type prefixed, a prefix)")
	fs.StringVar(&a.group, "group", "", "the ACL's consumer group `name`")
	fs.StringVar(&a.transactionalID, "transactional-id", "", "the ACL's transactional `id`")
	fs.StringVar(&a.user, "user", "", "the ACL's user `principal`, User:bob: who tokens may be created for (create-tokens) or seen of (describe-tokens), as kafka-acls.sh --user-principal")
	fs.BoolVar(&a.cluster, "cluster", false, "the ACL is on the cluster (kafka-cluster)")
	fs.StringArrayVar(&a.principals, "principal", nil, "`principal` such as User:alice (User:* for everyone); repeat it or separate with commas"+anyNote)
	fs.StringSliceVar(&a.operations, "operation", nil, "`operations` such as read, write, describe, describe-configs, all; comma-separated"+anyNote)
	if create {
		fs.StringVar(&a.patternType, "pattern-type", "literal", "pattern `type`: literal, or prefixed (the name is a prefix of the names the ACL covers)")
		fs.StringVar(&a.host, "host", "*", "`host` (IP address) the principal connects from; * for any")
		fs.BoolVar(&a.deny, "deny", false, "create DENY ACLs (they win over ALLOW) instead of ALLOW")
		return
	}
	fs.StringVar(&a.patternType, "pattern-type", "any", "pattern `type` of the ACLs: literal, prefixed, any (either) or match (every ACL that applies to the named resource: literal, the wildcard * and prefixes of the name)")
	fs.StringVar(&a.host, "host", "", "`host` of the ACLs (default: any)")
	fs.StringVar(&a.permission, "permission", "any", "`permission` of the ACLs: allow, deny or any")
}

// build returns the flags as opsctl reads them.
func (a *aclFlags) build() opsctl.ACLFlags {
	given := func(name string, v *string) *string {
		if a.fs.Changed(name) {
			return v
		}
		return nil
	}
	f := opsctl.ACLFlags{
		Topic: given("topic", &a.topic), Group: given("group", &a.group),
		TransactionalID: given("transactional-id", &a.transactionalID), User: given("user", &a.user), Cluster: a.cluster,
		PatternType: a.patternType, Principals: a.principals, Operations: a.operations,
		Deny: a.deny, Permission: a.permission,
	}
	if a.fs.Lookup("permission") == nil { // create: --host has a default
		f.Host = &a.host
	} else {
		f.Host = given("host", &a.host)
	}
	return f
}

func newACLListCmd(f *clusterFlags) *cobra.Command {
	var a aclFlags
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List ACLs, all or those a filter selects",
		Long: `List the cluster's ACLs, or those the flags select: each flag given narrows the
list, and a flag not given matches anything. With a resource name,
--pattern-type match lists every ACL that applies to that resource — literal
ones with its name or the wildcard *, and prefixed ones with a prefix of it —
which answers "who may use topic orders-1?".`,
		Example: `  chronik acl list
  chronik acl list --principal User:alice
  chronik acl list --topic orders-1 --pattern-type match --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := a.build().Filter()
			if err != nil {
				return err
			}
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.ListACLs(ctx, filter)
			})
		},
	}
	a.register(cmd.Flags(), false)
	return cmd
}

func newACLCreateCmd(f *clusterFlags) *cobra.Command {
	var a aclFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Allow (or deny) principals operations on a resource",
		Long: `Create an ACL for every --principal and every --operation on one resource
(--topic, --group, --transactional-id or --cluster), in one request. The
name is literal unless --pattern-type prefixed makes it a prefix of the
names the ACL covers. ACLs allow unless --deny; a DENY wins over any ALLOW.
Creating an ACL that exists already changes nothing.`,
		Example: `  chronik acl create --topic orders --principal User:alice,User:bob --operation read,describe
  chronik acl create --group billing- --pattern-type prefixed --principal User:alice --operation read
  chronik acl create --cluster --principal User:ops --operation describe,describe-configs
  chronik acl create --topic '*' --principal User:mallory --operation all --deny`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bindings, err := a.build().Bindings()
			if err != nil {
				return err
			}
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.CreateACLs(ctx, bindings)
			})
		},
	}
	a.register(cmd.Flags(), true)
	return cmd
}

func newACLDeleteCmd(f *clusterFlags) *cobra.Command {
	var (
		a        aclFlags
		all, yes bool
	)
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete the ACLs a filter selects",
		Long: `Delete every ACL the flags select, as acl list would show them (a flag not
given matches anything). Without any filter flag this would delete every
ACL, which the command refuses unless --all is given.

On a terminal the command lists the ACLs it would delete and asks you to
type yes; elsewhere (scripts, pipes) it refuses unless --yes is given.`,
		Example: `  chronik acl delete --topic orders --principal User:bob
  chronik acl delete --topic orders- --pattern-type prefixed --yes
  chronik acl delete --all --yes`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := a.build().Filter()
			if err != nil {
				return err
			}
			everything := opsctl.MatchesEverything(filter)
			switch {
			case everything && !all:
				return fmt.Errorf("refusing to delete every ACL: give a filter (--topic, --group, --transactional-id, --cluster, --principal, --operation, …) or --all")
			case all && !everything:
				return fmt.Errorf("--all deletes every ACL and takes no filter; drop --all to delete the ACLs of %s", strings.TrimPrefix(opsctl.DescribeFilter(filter), "the ACLs of "))
			}
			interactive := stdinIsTerminal(cmd.InOrStdin())
			what := "delete " + opsctl.DescribeFilter(filter)
			if err := opsctl.RequireConfirmation(yes, interactive, what); err != nil {
				return err
			}
			format, err := f.outputFormat()
			if err != nil {
				return err
			}
			cl, err := f.dial(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			if !yes {
				matching, err := cl.ListACLs(cmd.Context(), filter)
				if err != nil {
					return err
				}
				if len(matching.ACLs) == 0 {
					return printReport(cmd, format, &opsctl.ACLChange{Action: "deleted", ACLs: []opsctl.ACL{}})
				}
				if err := matching.WriteTable(cmd.ErrOrStderr()); err != nil {
					return err
				}
				these := fmt.Sprintf("these %d ACLs", len(matching.ACLs))
				if len(matching.ACLs) == 1 {
					these = "this ACL"
				}
				prompt := fmt.Sprintf("Delete %s? Principals may lose access at once.\nType yes to confirm: ", these)
				if err := opsctl.Confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), prompt, "yes"); err != nil {
					return err
				}
			}
			r, err := cl.DeleteACLs(cmd.Context(), filter)
			if err != nil {
				return err
			}
			return printReport(cmd, format, r)
		},
	}
	a.register(cmd.Flags(), false)
	cmd.Flags().BoolVar(&all, "all", false, "delete every ACL of the cluster (no filter)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking")
	return cmd
}
