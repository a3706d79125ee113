package opsctl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
)

// Access control lists (`chronik acl …`, Kafka's kafka-acls.sh): the
// brokers' DescribeAcls, CreateAcls and DeleteAcls. Brokers answer them
// only with kafka.authorizer = "acl", and only to kafka.super-users or to
// principals an ACL allows DESCRIBE (list) or ALTER (create, delete) on the
// cluster.

const (
	keyDescribeACLs = 29
	keyCreateACLs   = 30
	keyDeleteACLs   = 31
)

// ACLFlags are the flags of `acl list | create | delete` as given. For
// create they name full bindings; for list and delete a filter, where a
// flag not given matches anything.
type ACLFlags struct {
	// The resource: at most one of Topic, Group, TransactionalID, User
	// (nil when not given) and Cluster. User is a principal, User:bob (the
	// USER resource of delegation tokens' CREATE_TOKENS and DESCRIBE_TOKENS).
	Topic, Group, TransactionalID, User *string
	Cluster                             bool
	// PatternType is literal, prefixed, match or any ("": literal for
	// create, any for filters).
	PatternType string
	// Principals ("User:alice"), each possibly a comma-separated list.
	Principals []string
	// Host is nil when not given: "*" for create, any for filters.
	Host *string
	// Operations are kmsg's operation names in any case, with '-', '_' or
	// nothing between words (describe-configs, DescribeConfigs).
	Operations []string
	// Deny makes create deny instead of allow.
	Deny bool
	// Permission filters by allow, deny or any ("": any).
	Permission string
}

// resource returns the resource type and name the flags select, or ANY
// and nil when none is given.
func (f ACLFlags) resource() (kmsg.ACLResourceType, *string, error) {
	type choice struct {
		flag string
		typ  kmsg.ACLResourceType
		name *string
	}
	var given []choice
	if f.Topic != nil {
		given = append(given, choice{"--topic", kmsg.ACLResourceTypeTopic, f.Topic})
	}
	if f.Group != nil {
		given = append(given, choice{"--group", kmsg.ACLResourceTypeGroup, f.Group})
	}
	if f.TransactionalID != nil {
		given = append(given, choice{"--transactional-id", kmsg.ACLResourceTypeTransactionalId, f.TransactionalID})
	}
	if f.User != nil {
		user := *f.User
		if user != "" && !strings.Contains(user, ":") {
			user = "User:" + user // a bare name is a user's
		}
		given = append(given, choice{"--user", kmsg.ACLResourceTypeUser, &user})
	}
	if f.Cluster {
		given = append(given, choice{"--cluster", kmsg.ACLResourceTypeCluster, ptr(acl.ClusterName)})
	}
	switch len(given) {
	case 0:
		return kmsg.ACLResourceTypeAny, nil, nil
	case 1:
		g := given[0]
		if *g.name == "" {
			return 0, nil, invalidf("%s: give a name (\"*\" names every one)", g.flag)
		}
		return g.typ, g.name, nil
	}
	return 0, nil, invalidf("%s and %s cannot be combined: an ACL is on one resource", given[0].flag, given[1].flag)
}

// parsePatternType checks --pattern-type against the values allowed.
func parsePatternType(s string, allowed ...kmsg.ACLResourcePatternType) (kmsg.ACLResourcePatternType, error) {
	p, err := kmsg.ParseACLResourcePatternType(s)
	if err == nil && slices.Contains(allowed, p) {
		return p, nil
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = strings.ToLower(a.String())
	}
	return 0, invalidf("--pattern-type %q: use %s", s, orList(names))
}

// parseOperation checks one --operation value; ANY only selects, it is not
// an operation an ACL can name.
func parseOperation(s string, filter bool) (kmsg.ACLOperation, error) {
	op, err := kmsg.ParseACLOperation(s)
	if err == nil && (filter || op != kmsg.ACLOperationAny) {
		return op, nil
	}
	var names []string
	for _, n := range kmsg.ACLOperationStrings() {
		if filter || n != "ANY" {
			names = append(names, strings.ReplaceAll(strings.ToLower(n), "_", "-"))
		}
	}
	return 0, invalidf("--operation %q: use %s", s, orList(names))
}

// SplitPrincipals splits comma-separated principals: at a comma followed by
// "Type:", so that a certificate's principal (User:CN=alice,OU=eng) stays
// whole.
func SplitPrincipals(values []string) []string {
	var out []string
	for _, v := range values {
		start := 0
		for i := 0; i < len(v); i++ {
			if v[i] == ',' && startsPrincipal(v[i+1:]) {
				out = append(out, strings.TrimSpace(v[start:i]))
				start = i + 1
			}
		}
		out = append(out, strings.TrimSpace(v[start:]))
	}
	return out
}

// startsPrincipal reports whether s begins with a principal type and ':'.
func startsPrincipal(s string) bool {
	s = strings.TrimLeft(s, " ")
	typ, _, ok := strings.Cut(s, ":")
	if !ok || typ == "" {
		return false
	}
	for _, r := range typ {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

// Bindings turns the flags of `acl create` into the bindings to create:
// every principal × every operation on the one resource.
func (f ACLFlags) Bindings() ([]acl.Binding, error) {
	typ, name, err := f.resource()
	if err != nil {
		return nil, err
	}
	if name == nil {
		return nil, invalidf("say which resource the ACL is on: --topic NAME, --group NAME, --transactional-id NAME or --cluster")
	}
	pattern := kmsg.ACLResourcePatternTypeLiteral
	if f.PatternType != "" {
		if pattern, err = parsePatternType(f.PatternType, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed); err != nil {
			return nil, err
		}
	}
	if f.Permission != "" {
		return nil, invalidf("--permission is a filter of list and delete: give --deny to create a DENY ACL")
	}
	principals := SplitPrincipals(f.Principals)
	if len(principals) == 0 {
		return nil, invalidf("--principal is required: whom the ACL is for, e.g. --principal User:alice (User:* for everyone)")
	}
	if len(f.Operations) == 0 {
		return nil, invalidf("--operation is required: what the ACL allows or denies, e.g. --operation read,describe")
	}
	host := acl.Wildcard
	if f.Host != nil {
		host = *f.Host
	}
	perm := kmsg.ACLPermissionTypeAllow
	if f.Deny {
		perm = kmsg.ACLPermissionTypeDeny
	}
	var out []acl.Binding
	for _, p := range principals {
		if err := acl.ValidatePrincipal(p); err != nil {
			return nil, invalidf("--principal: %v", err)
		}
		for _, o := range f.Operations {
			op, err := parseOperation(o, false)
			if err != nil {
				return nil, err
			}
			b := acl.Binding{
				ResourceType: typ, ResourceName: *name, PatternType: pattern,
				Principal: p, Host: host, Operation: op, Permission: perm,
			}
			if err := b.Validate(); err != nil {
				return nil, invalidf("cannot create %s: %v", newACL(b).describe(), err)
			}
			if !slices.Contains(out, b) {
				out = append(out, b)
			}
		}
	}
	return out, nil
}

// Filter turns the flags of `acl list | delete` into a filter. A filter
// has at most one principal and one operation (DescribeAcls takes one
// filter).
func (f ACLFlags) Filter() (acl.Filter, error) {
	typ, name, err := f.resource()
	if err != nil {
		return acl.Filter{}, err
	}
	flt := acl.Filter{
		ResourceType: typ, ResourceName: name, PatternType: kmsg.ACLResourcePatternTypeAny,
		Host: f.Host, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny,
	}
	if f.PatternType != "" {
		flt.PatternType, err = parsePatternType(f.PatternType, kmsg.ACLResourcePatternTypeLiteral,
			kmsg.ACLResourcePatternTypePrefixed, kmsg.ACLResourcePatternTypeMatch, kmsg.ACLResourcePatternTypeAny)
		if err != nil {
			return acl.Filter{}, err
		}
	}
	if f.Deny {
		return acl.Filter{}, invalidf("--deny is for create: filter with --permission deny")
	}
	if f.Permission != "" {
		p, err := kmsg.ParseACLPermissionType(f.Permission)
		if err != nil {
			return acl.Filter{}, invalidf("--permission %q: use allow, deny or any", f.Permission)
		}
		flt.Permission = p
	}
	switch principals := SplitPrincipals(f.Principals); len(principals) {
	case 0:
	case 1:
		if err := acl.ValidatePrincipal(principals[0]); err != nil {
			return acl.Filter{}, invalidf("--principal: %v", err)
		}
		flt.Principal = &principals[0]
	default:
		return acl.Filter{}, invalidf("--principal: give one principal to filter by, not %d", len(principals))
	}
	switch len(f.Operations) {
	case 0:
	case 1:
		if flt.Operation, err = parseOperation(f.Operations[0], true); err != nil {
			return acl.Filter{}, err
		}
	default:
		return acl.Filter{}, invalidf("--operation: give one operation to filter by, not %d", len(f.Operations))
	}
	return flt, nil
}

// MatchesEverything reports whether the filter selects every ACL: no flag
// narrows it. `acl delete` then wants --all.
func MatchesEverything(f acl.Filter) bool {
	return f.ResourceType == kmsg.ACLResourceTypeAny && f.ResourceName == nil &&
		(f.PatternType == kmsg.ACLResourcePatternTypeAny || f.PatternType == kmsg.ACLResourcePatternTypeMatch) &&
		f.Principal == nil && f.Host == nil &&
		f.Operation == kmsg.ACLOperationAny && f.Permission == kmsg.ACLPermissionTypeAny
}

// DescribeFilter says in words what a filter selects, for prompts.
func DescribeFilter(f acl.Filter) string {
	if MatchesEverything(f) {
		return "every ACL"
	}
	var parts []string
	var resource []string
	if f.ResourceType != kmsg.ACLResourceTypeAny {
		resource = append(resource, strings.ToLower(f.ResourceType.String()))
	}
	if f.ResourceName != nil {
		resource = append(resource, fmt.Sprintf("%q", *f.ResourceName))
	}
	if len(resource) > 0 {
		parts = append(parts, strings.Join(resource, " "))
	}
	if f.PatternType != kmsg.ACLResourcePatternTypeAny {
		parts = append(parts, "pattern "+strings.ToLower(f.PatternType.String()))
	}
	if f.Principal != nil {
		parts = append(parts, "principal "+*f.Principal)
	}
	if f.Host != nil {
		parts = append(parts, "host "+*f.Host)
	}
	if f.Operation != kmsg.ACLOperationAny {
		parts = append(parts, "operation "+f.Operation.String())
	}
	if f.Permission != kmsg.ACLPermissionTypeAny {
		parts = append(parts, f.Permission.String())
	}
	return "the ACLs of " + strings.Join(parts, ", ")
}

// ACL is one binding as reports show it: kmsg's names of the enumerations.
type ACL struct {
	ResourceType string `json:"resource_type"`
	PatternType  string `json:"pattern_type"`
	ResourceName string `json:"resource_name"`
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    string `json:"operation"`
	Permission   string `json:"permission"`
}

func newACL(b acl.Binding) ACL {
	return ACL{
		ResourceType: b.ResourceType.String(), PatternType: b.PatternType.String(), ResourceName: b.ResourceName,
		Principal: b.Principal, Host: b.Host, Operation: b.Operation.String(), Permission: b.Permission.String(),
	}
}

// describe names the ACL in an error message.
func (a ACL) describe() string {
	return fmt.Sprintf("%s %s for %s from %s on %s %s %q", a.Permission, a.Operation, a.Principal, a.Host,
		strings.ToLower(a.PatternType), strings.ToLower(a.ResourceType), a.ResourceName)
}

// sortACLs orders by resource (type, name, pattern), then principal, host,
// operation and permission.
func sortACLs(acls []ACL) {
	slices.SortFunc(acls, func(a, b ACL) int {
		return cmp.Or(cmp.Compare(a.ResourceType, b.ResourceType), cmp.Compare(a.ResourceName, b.ResourceName),
			cmp.Compare(a.PatternType, b.PatternType), cmp.Compare(a.Principal, b.Principal), cmp.Compare(a.Host, b.Host),
			cmp.Compare(a.Operation, b.Operation), cmp.Compare(a.Permission, b.Permission))
	})
}

// aclTable writes ACLs as rows, with a STATUS column when status is set.
func aclTable(w io.Writer, acls []ACL, status string) error {
	header := []string{"RESOURCE-TYPE", "PATTERN", "NAME", "PRINCIPAL", "HOST", "OPERATION", "PERMISSION"}
	if status != "" {
		header = append(header, "STATUS")
	}
	t := newTable(w, header...)
	for _, a := range acls {
		row := []string{a.ResourceType, a.PatternType, a.ResourceName, a.Principal, a.Host, a.Operation, a.Permission}
		if status != "" {
			row = append(row, status)
		}
		t.row(row...)
	}
	return t.flush()
}

// ACLList is the result of `acl list`, sorted.
type ACLList struct {
	ACLs []ACL `json:"acls"`
}

// WriteTable implements Report.
func (r *ACLList) WriteTable(w io.Writer) error { return aclTable(w, r.ACLs, "") }

// ACLChange is the result of `acl create` and `acl delete`.
type ACLChange struct {
	Action string `json:"action"` // "created" or "deleted"
	ACLs   []ACL  `json:"acls"`
}

// WriteTable implements Report.
func (r *ACLChange) WriteTable(w io.Writer) error {
	if len(r.ACLs) == 0 {
		_, err := fmt.Fprintf(w, "no ACL matched: nothing was %s\n", r.Action)
		return err
	}
	return aclTable(w, r.ACLs, r.Action)
}

// ListACLs lists the ACLs that f selects.
func (c *Client) ListACLs(ctx context.Context, f acl.Filter) (*ACLList, error) {
	if err := c.require("list ACLs", keyDescribeACLs); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourceName, req.ResourcePatternType = f.ResourceType, f.ResourceName, f.PatternType
	req.Principal, req.Host, req.Operation, req.PermissionType = f.Principal, f.Host, f.Operation, f.Permission
	resp, err := req.RequestWith(ctx, c.kgo)
	if err != nil {
		return nil, c.aclErr(err, "")
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, c.aclErr(err, deref(resp.ErrorMessage))
	}
	out := &ACLList{ACLs: []ACL{}}
	for _, res := range resp.Resources {
		for _, a := range res.ACLs {
			out.ACLs = append(out.ACLs, newACL(acl.Binding{
				ResourceType: res.ResourceType, ResourceName: res.ResourceName, PatternType: res.ResourcePatternType,
				Principal: a.Principal, Host: a.Host, Operation: a.Operation, Permission: a.PermissionType,
			}))
		}
	}
	sortACLs(out.ACLs)
	return out, nil
}

// CreateACLs creates the bindings in one request. The broker creates each
// on its own: when some fail, the error names them and says how many were
// created.
func (c *Client) CreateACLs(ctx context.Context, bindings []acl.Binding) (*ACLChange, error) {
	if len(bindings) == 0 {
		return nil, invalidf("no ACL to create")
	}
	if err := c.require("create ACLs", keyCreateACLs); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	req := kmsg.NewPtrCreateACLsRequest()
	for _, b := range bindings {
		cr := kmsg.NewCreateACLsRequestCreation()
		cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = b.ResourceType, b.ResourceName, b.PatternType
		cr.Principal, cr.Host, cr.Operation, cr.PermissionType = b.Principal, b.Host, b.Operation, b.Permission
		req.Creations = append(req.Creations, cr)
	}
	resp, err := req.RequestWith(ctx, c.kgo)
	if err != nil {
		return nil, c.aclErr(err, "")
	}
	if len(resp.Results) != len(bindings) {
		return nil, fmt.Errorf("the broker answered %d results for %d ACLs to create", len(resp.Results), len(bindings))
	}
	out := &ACLChange{Action: "created", ACLs: []ACL{}}
	var failed []string
	var firstErr error
	var firstMsg string
	for i, r := range resp.Results {
		a := newACL(bindings[i])
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			if firstErr == nil {
				firstErr, firstMsg = err, deref(r.ErrorMessage)
			}
			failed = append(failed, fmt.Sprintf("%s: %v%s", a.describe(), err, suffix(": ", deref(r.ErrorMessage))))
			continue
		}
		out.ACLs = append(out.ACLs, a)
	}
	switch {
	case len(failed) == 0:
	case len(out.ACLs) == 0 && allSame(resp.Results):
		return nil, c.aclErr(firstErr, firstMsg)
	default:
		return nil, failf(ErrRejected, firstErr, "created %d of %d ACLs (`chronik acl list` shows them); the broker refused:\n  %s",
			len(out.ACLs), len(bindings), strings.Join(failed, "\n  "))
	}
	sortACLs(out.ACLs)
	return out, nil
}

// allSame reports whether every result has the same error code.
func allSame(rs []kmsg.CreateACLsResponseResult) bool {
	for _, r := range rs {
		if r.ErrorCode != rs[0].ErrorCode {
			return false
		}
	}
	return true
}

// DeleteACLs deletes every ACL f selects and returns them.
func (c *Client) DeleteACLs(ctx context.Context, f acl.Filter) (*ACLChange, error) {
	if err := c.require("delete ACLs", keyDeleteACLs); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	req := kmsg.NewPtrDeleteACLsRequest()
	df := kmsg.NewDeleteACLsRequestFilter()
	df.ResourceType, df.ResourceName, df.ResourcePatternType = f.ResourceType, f.ResourceName, f.PatternType
	df.Principal, df.Host, df.Operation, df.PermissionType = f.Principal, f.Host, f.Operation, f.Permission
	req.Filters = append(req.Filters, df)
	resp, err := req.RequestWith(ctx, c.kgo)
	if err != nil {
		return nil, c.aclErr(err, "")
	}
	if len(resp.Results) != 1 {
		return nil, fmt.Errorf("the broker answered %d results for 1 filter", len(resp.Results))
	}
	res := resp.Results[0]
	if err := kerr.ErrorForCode(res.ErrorCode); err != nil {
		return nil, c.aclErr(err, deref(res.ErrorMessage))
	}
	out := &ACLChange{Action: "deleted", ACLs: []ACL{}}
	var failed []string
	var firstErr error
	for _, m := range res.MatchingACLs {
		a := newACL(acl.Binding{
			ResourceType: m.ResourceType, ResourceName: m.ResourceName, PatternType: m.ResourcePatternType,
			Principal: m.Principal, Host: m.Host, Operation: m.Operation, Permission: m.PermissionType,
		})
		if err := kerr.ErrorForCode(m.ErrorCode); err != nil {
			firstErr = cmp.Or(firstErr, err)
			failed = append(failed, fmt.Sprintf("%s: %v%s", a.describe(), err, suffix(": ", deref(m.ErrorMessage))))
			continue
		}
		out.ACLs = append(out.ACLs, a)
	}
	if len(failed) > 0 {
		return nil, failf(ErrRejected, firstErr, "deleted %d of %d matching ACLs; the broker could not delete:\n  %s",
			len(out.ACLs), len(res.MatchingACLs), strings.Join(failed, "\n  "))
	}
	sortACLs(out.ACLs)
	return out, nil
}

// aclErr explains an ACL API error; brokerMsg is the response's message.
func (c *Client) aclErr(err error, brokerMsg string) error {
	switch {
	case errors.Is(err, kerr.SecurityDisabled):
		return failf(ErrRejected, err, "the brokers do not authorize with ACLs: they run without kafka.authorizer = \"acl\" — set it in their config and restart them to manage ACLs")
	case errors.Is(err, kerr.ClusterAuthorizationFailed):
		why := ""
		if brokerMsg != "" {
			why = " (" + brokerMsg + ")"
		}
		return failf(ErrRejected, err, "the broker refused%s: only the principals of its kafka.super-users, or principals an ACL allows DESCRIBE (acl list) or ALTER (acl create, delete) on the cluster, may manage ACLs — connect as one (--sasl-user, %s)", why, EnvSASLPassword)
	}
	return c.adminErr(err, brokerMsg, "ACLs")
}

// adminErr explains what the ACL and quota APIs answer alike: an invalid
// request with the broker's reason, another Kafka error with its message
// (what names the subject), anything else as the client's errors are.
func (c *Client) adminErr(err error, brokerMsg, what string) error {
	if errors.Is(err, kerr.InvalidRequest) {
		return failf(ErrRejected, err, "the broker rejected the request: %s", cmp.Or(brokerMsg, err.Error()))
	}
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return c.explain(err)
	}
	return failf(ErrRejected, err, "%s: %s%s", what, ke.Message, suffix(": ", brokerMsg))
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// suffix returns sep+s, or "" when s is empty.
func suffix(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
