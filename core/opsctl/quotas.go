package opsctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/quota"
	"github.com/chronik-go/chronik/tiering"
)

// Client quotas (`chronik quota …`, Kafka's kafka-configs.sh --alter
// --entity-type users|clients with producer_byte_rate, consumer_byte_rate
// and controller_mutation_rate): the brokers' DescribeClientQuotas and
// AlterClientQuotas. With kafka.authorizer = "acl" they need
// DESCRIBE_CONFIGS (list) or ALTER_CONFIGS (set, delete) on the cluster,
// which kafka.super-users have.

const (
	keyDescribeClientQuotas = 48
	keyAlterClientQuotas    = 49
)

// QuotaFlags are the entity flags of `quota list | set | delete` as given.
type QuotaFlags struct {
	// User and ClientID are nil when not given.
	User, ClientID *string
	// UserDefault and ClientIDDefault name the default user (client ID):
	// the quota of every one without a quota of its own.
	UserDefault, ClientIDDefault bool
	// Strict (list) leaves out entities with a part no flag names.
	Strict bool
}

// quotaPart returns the user or client-ID part the flags name, absent when
// neither --NAME nor --NAME-default is given.
func quotaPart(flag string, name *string, def bool) (quota.Part, error) {
	switch {
	case name != nil && def:
		return quota.Part{}, invalidf("--%s and --%s-default cannot be combined: a quota is of one %s or of the default", flag, flag, flag)
	case def:
		return quota.DefaultPart, nil
	case name == nil:
		return quota.Part{}, nil
	case *name == "":
		return quota.Part{}, invalidf("--%s: give a name (--%s-default names the default)", flag, flag)
	}
	return quota.Name(*name), nil
}

func (f QuotaFlags) parts() (quota.Entity, error) {
	user, err := quotaPart("user", f.User, f.UserDefault)
	if err != nil {
		return quota.Entity{}, err
	}
	client, err := quotaPart("client-id", f.ClientID, f.ClientIDDefault)
	if err != nil {
		return quota.Entity{}, err
	}
	return quota.Entity{User: user, ClientID: client}, nil
}

// Entity is the entity of `quota set | delete`: a user, a client ID or a
// user's client ID, each possibly the default.
func (f QuotaFlags) Entity() (quota.Entity, error) {
	if f.Strict {
		return quota.Entity{}, invalidf("--strict is a filter of quota list")
	}
	e, err := f.parts()
	if err != nil {
		return quota.Entity{}, err
	}
	if e.User.Kind == quota.Absent && e.ClientID.Kind == quota.Absent {
		return quota.Entity{}, invalidf("say whose quota: --user NAME or --user-default, and/or --client-id ID or --client-id-default")
	}
	if err := e.Validate(); err != nil {
		return quota.Entity{}, invalidf("%v", err)
	}
	return e, nil
}

// Filter is the filter of `quota list`: each part given selects entities
// with that user (client ID), whatever their other part unless Strict;
// without any, every entity.
func (f QuotaFlags) Filter() (quota.Filter, error) {
	e, err := f.parts()
	if err != nil {
		return quota.Filter{}, err
	}
	flt := e.Filter(f.Strict)
	if f.Strict && len(flt.Components) == 0 {
		return quota.Filter{}, invalidf("--strict narrows --user, --user-default, --client-id or --client-id-default to entities with no other part: give one")
	}
	return flt, nil
}

// ParseRate parses the value of a rate flag: bytes per second, optionally
// with KiB, MiB or GiB (10MiB).
func ParseRate(flag, s string) (float64, error) {
	n, err := tiering.ParseBytes(s)
	switch {
	case err != nil:
		return 0, invalidf("--%s %q: give bytes per second, optionally with KiB, MiB or GiB (10MiB)", flag, s)
	case n == 0:
		return 0, invalidf("--%s 0: a rate is positive; `chronik quota delete` removes a quota", flag)
	}
	return float64(n), nil
}

// ParseMutationRate parses the value of --controller-mutation-rate:
// partitions created or deleted per second, fractions allowed (0.5, 10).
func ParseMutationRate(flag, s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0:
		return 0, invalidf("--%s %q: give partitions created or deleted per second (0.5, 10)", flag, s)
	case v == 0:
		return 0, invalidf("--%s 0: a rate is positive; `chronik quota delete` removes a quota", flag)
	}
	return v, nil
}

// NoRatesToSet is the error of `quota set` without a rate.
const NoRatesToSet = "give the rates to set: --producer-byte-rate, --consumer-byte-rate and/or --controller-mutation-rate"

// QuotaPart is one part of a quota's entity: a name, or the default.
type QuotaPart struct {
	Name    *string `json:"name,omitempty"`
	Default bool    `json:"default,omitempty"`
}

// Quota is one entity's quotas by key: producer_byte_rate and
// consumer_byte_rate in bytes per second, controller_mutation_rate in
// partitions per second; an absent part is nil.
type Quota struct {
	User     *QuotaPart         `json:"user,omitempty"`
	ClientID *QuotaPart         `json:"client_id,omitempty"`
	Quotas   map[string]float64 `json:"quotas"`
}

func newQuota(e quota.Entity, quotas map[string]float64) Quota {
	part := func(p quota.Part) *QuotaPart {
		switch p.Kind {
		case quota.Named:
			return &QuotaPart{Name: ptr(p.Name)}
		case quota.Default:
			return &QuotaPart{Default: true}
		}
		return nil
	}
	return Quota{User: part(e.User), ClientID: part(e.ClientID), Quotas: quotas}
}

func (p *QuotaPart) String() string {
	switch {
	case p == nil:
		return ""
	case p.Default:
		return "<default>"
	}
	return deref(p.Name)
}

// formatRate shows bytes per second exactly, in the largest binary unit
// that divides them: 10 MiB/s, 1500 B/s.
func formatRate(v float64) string {
	if v == math.Trunc(v) && v < 1<<62 {
		n := int64(v)
		for _, u := range []struct {
			name string
			size int64
		}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
			if n >= u.size && n%u.size == 0 {
				return fmt.Sprintf("%d %s/s", n/u.size, u.name)
			}
		}
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + " B/s"
}

// formatMutationRate shows partitions per second exactly: 10/s, 0.5/s.
func formatMutationRate(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64) + "/s"
}

// quotaColumns are the quota columns of quotaTable, in order.
var quotaColumns = []struct {
	key, header string
	format      func(float64) string
}{
	{quota.ProducerByteRate, "PRODUCER-BYTE-RATE", formatRate},
	{quota.ConsumerByteRate, "CONSUMER-BYTE-RATE", formatRate},
	{quota.ControllerMutationRate, "CONTROLLER-MUTATION-RATE", formatMutationRate},
}

// quotaTable writes quotas as rows, with a STATUS column when status is
// set.
func quotaTable(w io.Writer, quotas []Quota, status string) error {
	header := []string{"USER", "CLIENT-ID"}
	for _, c := range quotaColumns {
		header = append(header, c.header)
	}
	if status != "" {
		header = append(header, "STATUS")
	}
	t := newTable(w, header...)
	for _, q := range quotas {
		row := []string{q.User.String(), q.ClientID.String()}
		for _, c := range quotaColumns {
			rate := "" // shown as -
			if v, ok := q.Quotas[c.key]; ok {
				rate = c.format(v)
			}
			row = append(row, rate)
		}
		if status != "" {
			row = append(row, status)
		}
		t.row(row...)
	}
	return t.flush()
}

// QuotaList is the result of `quota list`, sorted by entity: users first,
// the default before names.
type QuotaList struct {
	Quotas []Quota `json:"quotas"`
}

// WriteTable implements Report.
func (r *QuotaList) WriteTable(w io.Writer) error { return quotaTable(w, r.Quotas, "") }

// QuotaChange is the result of `quota set` and `quota delete`: the quotas
// set, or those deleted with the values they had.
type QuotaChange struct {
	Action string  `json:"action"` // "set" or "deleted"
	Quotas []Quota `json:"quotas"`
}

// WriteTable implements Report.
func (r *QuotaChange) WriteTable(w io.Writer) error {
	if len(r.Quotas) == 0 {
		_, err := fmt.Fprintf(w, "no quota matched: nothing was %s\n", r.Action)
		return err
	}
	return quotaTable(w, r.Quotas, r.Action)
}

// ListQuotas lists the quotas of the entities f selects.
func (c *Client) ListQuotas(ctx context.Context, f quota.Filter) (*QuotaList, error) {
	if err := c.require("list quotas", keyDescribeClientQuotas); err != nil {
		return nil, err
	}
	set, err := c.describeQuotas(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &QuotaList{Quotas: []Quota{}}
	for _, e := range set.Entities() {
		out.Quotas = append(out.Quotas, newQuota(e, set.Quotas(e)))
	}
	return out, nil
}

// describeQuotas asks for the quotas f selects. Entities of other types
// than user and client-id (Kafka's ip) are left out: these commands cannot
// name them.
func (c *Client) describeQuotas(ctx context.Context, f quota.Filter) (*quota.Set, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	req := kmsg.NewPtrDescribeClientQuotasRequest()
	req.Strict = f.Strict
	for _, comp := range f.Components {
		rc := kmsg.NewDescribeClientQuotasRequestComponent()
		rc.EntityType, rc.MatchType = comp.Type, kmsg.QuotasMatchType(comp.Match)
		if comp.Match == quota.MatchExact {
			rc.Match = ptr(comp.Name)
		}
		req.Components = append(req.Components, rc)
	}
	resp, err := req.RequestWith(ctx, c.kgo)
	if err != nil {
		return nil, c.quotaErr(err, "")
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, c.quotaErr(err, deref(resp.ErrorMessage))
	}
	quotas := map[quota.Entity]map[string]float64{}
	for _, entry := range resp.Entries {
		parts := make([]quota.WirePart, len(entry.Entity))
		for i, p := range entry.Entity {
			parts[i] = quota.WirePart{Type: p.Type, Name: p.Name}
		}
		e, err := quota.ParseEntity(parts)
		if err != nil {
			continue // a kind of entity this client does not show (ip)
		}
		q := map[string]float64{}
		for _, v := range entry.Values {
			q[v.Key] = v.Value
		}
		quotas[e] = q
	}
	return quota.NewSet(quotas), nil
}

// SetQuotas sets e's quotas, key → rate (Quota); its other quotas stay.
func (c *Client) SetQuotas(ctx context.Context, e quota.Entity, rates map[string]float64) (*QuotaChange, error) {
	if len(rates) == 0 {
		return nil, invalidf("%s", NoRatesToSet)
	}
	alt := quota.Alteration{Entity: e}
	for _, k := range quota.Keys {
		if v, ok := rates[k]; ok {
			alt.Ops = append(alt.Ops, quota.Op{Key: k, Value: v})
		}
	}
	if len(alt.Ops) != len(rates) {
		return nil, invalidf("only %s can be set", orList(quota.Keys))
	}
	if err := alt.Validate(); err != nil {
		return nil, invalidf("%v", err)
	}
	if err := c.require("set quotas", keyAlterClientQuotas); err != nil {
		return nil, err
	}
	if err := c.alterQuotas(ctx, alt); err != nil {
		return nil, err
	}
	return &QuotaChange{Action: "set", Quotas: []Quota{newQuota(e, rates)}}, nil
}

// DeleteQuotas deletes e's quotas of keys, or every quota e has when keys
// is empty, and returns those it had. An entity without them is no error:
// the result lists nothing.
func (c *Client) DeleteQuotas(ctx context.Context, e quota.Entity, keys []string) (*QuotaChange, error) {
	for _, k := range keys {
		if !slices.Contains(quota.Keys, k) {
			return nil, invalidf("quota %q: use %s", k, orList(quota.Keys))
		}
	}
	if len(keys) == 0 {
		keys = quota.Keys
	}
	if err := c.require("delete quotas", keyDescribeClientQuotas, keyAlterClientQuotas); err != nil {
		return nil, err
	}
	exact := e.Filter(true)
	set, err := c.describeQuotas(ctx, exact)
	if err != nil {
		return nil, err
	}
	had := set.Quotas(e)
	alt := quota.Alteration{Entity: e}
	removed := map[string]float64{}
	for _, k := range keys {
		if v, ok := had[k]; ok {
			alt.Ops = append(alt.Ops, quota.Op{Key: k, Remove: true})
			removed[k] = v
		}
	}
	out := &QuotaChange{Action: "deleted", Quotas: []Quota{}}
	if len(alt.Ops) == 0 {
		return out, nil
	}
	if err := c.alterQuotas(ctx, alt); err != nil {
		return nil, err
	}
	out.Quotas = append(out.Quotas, newQuota(e, removed))
	return out, nil
}

// alterQuotas sends one AlterClientQuotas with alt.
func (c *Client) alterQuotas(ctx context.Context, alt quota.Alteration) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	req := kmsg.NewPtrAlterClientQuotasRequest()
	entry := kmsg.NewAlterClientQuotasRequestEntry()
	for _, p := range alt.Entity.Wire() {
		we := kmsg.NewAlterClientQuotasRequestEntryEntity()
		we.Type, we.Name = p.Type, p.Name
		entry.Entity = append(entry.Entity, we)
	}
	for _, op := range alt.Ops {
		wo := kmsg.NewAlterClientQuotasRequestEntryOp()
		wo.Key, wo.Value, wo.Remove = op.Key, op.Value, op.Remove
		entry.Ops = append(entry.Ops, wo)
	}
	req.Entries = append(req.Entries, entry)
	resp, err := req.RequestWith(ctx, c.kgo)
	if err != nil {
		return c.quotaErr(err, "")
	}
	if len(resp.Entries) != 1 {
		return fmt.Errorf("the broker answered %d results for 1 entity", len(resp.Entries))
	}
	if err := kerr.ErrorForCode(resp.Entries[0].ErrorCode); err != nil {
		return c.quotaErr(err, deref(resp.Entries[0].ErrorMessage))
	}
	return nil
}

// quotaErr explains a quota API error; brokerMsg is the response's
// message.
func (c *Client) quotaErr(err error, brokerMsg string) error {
	if errors.Is(err, kerr.ClusterAuthorizationFailed) {
		why := ""
		if brokerMsg != "" {
			why = " (" + brokerMsg + ")"
		}
		return failf(ErrRejected, err, "the broker refused%s: only the principals of its kafka.super-users, or principals an ACL allows DESCRIBE_CONFIGS (quota list) or ALTER_CONFIGS (quota set, delete) on the cluster, may manage quotas — connect as one (--sasl-user, %s)", why, EnvSASLPassword)
	}
	return c.adminErr(err, brokerMsg, "quotas")
}
