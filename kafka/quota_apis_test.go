package kafka

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/quota"
)

// quotaDump renders quotas as "entity{key=value …}" in the set's order,
// whether from the store or described through kadm.
func quotaDump(set *quota.Set) string {
	var out []string
	for _, e := range set.Entities() {
		q := set.Quotas(e)
		var kv []string
		for _, k := range quota.Keys {
			if v, ok := q[k]; ok {
				kv = append(kv, fmt.Sprintf("%s=%v", k, v))
			}
		}
		out = append(out, e.String()+"{"+strings.Join(kv, " ")+"}")
	}
	return strings.Join(out, " ")
}

func describedDump(described kadm.DescribedClientQuotas) string {
	var out []string
	for _, d := range described {
		var parts, kv []string
		for _, c := range d.Entity {
			name := "<default>"
			if c.Name != nil {
				name = *c.Name
			}
			parts = append(parts, c.Type+"="+name)
		}
		for _, v := range d.Values {
			kv = append(kv, fmt.Sprintf("%s=%v", v.Key, v.Value))
		}
		out = append(out, strings.Join(parts, ",")+"{"+strings.Join(kv, " ")+"}")
	}
	return strings.Join(out, " ")
}

func quotaPart(typ string, name *string) kadm.ClientQuotaEntityComponent {
	return kadm.ClientQuotaEntityComponent{Type: typ, Name: name}
}

// The two quota APIs through franz-go's admin client.
func TestClientQuotasKadm(t *testing.T) {
	store := newMemQuotas()
	ts := startServer(t, Config{Quotas: store}, nil)
	adm, ctx := newACLAdmin(t, ts)
	alice, c := kmsg.StringPtr("alice"), kmsg.StringPtr("c")
	set := func(k string, v float64) kadm.AlterClientQuotaOp { return kadm.AlterClientQuotaOp{Key: k, Value: v} }
	remove := func(k string) kadm.AlterClientQuotaOp { return kadm.AlterClientQuotaOp{Key: k, Remove: true} }
	entries := []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{quotaPart("user", alice)}, Ops: []kadm.AlterClientQuotaOp{
			set(quota.ProducerByteRate, 1<<20), set(quota.ConsumerByteRate, 2<<20),
		}},
		{Entity: kadm.ClientQuotaEntity{quotaPart("user", nil)}, Ops: []kadm.AlterClientQuotaOp{set(quota.ProducerByteRate, 1000)}},
		// The client ID first: the order on the wire does not matter.
		{Entity: kadm.ClientQuotaEntity{quotaPart("client-id", nil), quotaPart("user", alice)}, Ops: []kadm.AlterClientQuotaOp{
			set(quota.ConsumerByteRate, 500),
		}},
		{Entity: kadm.ClientQuotaEntity{quotaPart("client-id", c)}, Ops: []kadm.AlterClientQuotaOp{set(quota.ConsumerByteRate, 10)}},
	}

	// ValidateOnly answers as the change would, and changes nothing.
	res, err := adm.ValidateAlterClientQuotas(ctx, entries)
	if err != nil || len(res) != len(entries) {
		t.Fatalf("ValidateAlterClientQuotas: %v %+v", err, res)
	}
	for i, r := range res {
		if r.Err != nil || r.Entity.String() != entries[i].Entity.String() {
			t.Fatalf("ValidateAlterClientQuotas %d: %+v", i, r)
		}
	}
	if store.Quotas().Len() != 0 {
		t.Fatalf("validating changed the store: %s", quotaDump(store.Quotas()))
	}

	res, err = adm.AlterClientQuotas(ctx, entries)
	if err != nil || len(res) != len(entries) {
		t.Fatalf("AlterClientQuotas: %v %+v", err, res)
	}
	for i, r := range res {
		if r.Err != nil || r.ErrMessage != "" || r.Entity.String() != entries[i].Entity.String() {
			t.Fatalf("AlterClientQuotas %d: %+v", i, r)
		}
	}
	all := "client-id=c{consumer_byte_rate=10} user=<default>{producer_byte_rate=1000} " +
		"user=alice{consumer_byte_rate=2.097152e+06 producer_byte_rate=1.048576e+06} user=alice,client-id=<default>{consumer_byte_rate=500}"
	if got := quotaDump(store.Quotas()); got != all {
		t.Fatalf("store:\n got %s\nwant %s", got, all)
	}

	describe := func(strict bool, comps ...kadm.DescribeClientQuotaComponent) string {
		t.Helper()
		d, err := adm.DescribeClientQuotas(ctx, strict, comps)
		if err != nil {
			t.Fatalf("DescribeClientQuotas: %v", err)
		}
		return describedDump(d)
	}
	user := func(m kmsg.QuotasMatchType, name *string) kadm.DescribeClientQuotaComponent {
		return kadm.DescribeClientQuotaComponent{Type: "user", MatchType: m, MatchName: name}
	}
	client := func(m kmsg.QuotasMatchType, name *string) kadm.DescribeClientQuotaComponent {
		return kadm.DescribeClientQuotaComponent{Type: "client-id", MatchType: m, MatchName: name}
	}
	exact, def, anyName := kmsg.QuotasMatchTypeExact, kmsg.QuotasMatchTypeDefault, kmsg.QuotasMatchTypeAny
	for _, tt := range []struct {
		name   string
		strict bool
		comps  []kadm.DescribeClientQuotaComponent
		want   string
	}{
		{"everything", false, nil, all},
		{"strict nothing", true, nil, ""},
		{
			"user alice", false,
			[]kadm.DescribeClientQuotaComponent{user(exact, alice)},
			"user=alice{consumer_byte_rate=2.097152e+06 producer_byte_rate=1.048576e+06} user=alice,client-id=<default>{consumer_byte_rate=500}",
		},
		{
			"user alice alone", true,
			[]kadm.DescribeClientQuotaComponent{user(exact, alice)},
			"user=alice{consumer_byte_rate=2.097152e+06 producer_byte_rate=1.048576e+06}",
		},
		{"the default user", false, []kadm.DescribeClientQuotaComponent{user(def, nil)}, "user=<default>{producer_byte_rate=1000}"},
		{
			"any user, strictly", true,
			[]kadm.DescribeClientQuotaComponent{user(anyName, nil)},
			"user=<default>{producer_byte_rate=1000} user=alice{consumer_byte_rate=2.097152e+06 producer_byte_rate=1.048576e+06}",
		},
		{
			"any client ID", false,
			[]kadm.DescribeClientQuotaComponent{client(anyName, nil)},
			"client-id=c{consumer_byte_rate=10} user=alice,client-id=<default>{consumer_byte_rate=500}",
		},
		{
			"alice's default client ID", true,
			[]kadm.DescribeClientQuotaComponent{client(def, nil), user(exact, alice)},
			"user=alice,client-id=<default>{consumer_byte_rate=500}",
		},
		{"nobody", false, []kadm.DescribeClientQuotaComponent{user(exact, kmsg.StringPtr("bob"))}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := describe(tt.strict, tt.comps...); got != tt.want {
				t.Fatalf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}

	// Remove one quota, then an entity's last: the entity goes.
	res, err = adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{quotaPart("user", alice)}, Ops: []kadm.AlterClientQuotaOp{remove(quota.ProducerByteRate)}},
		{Entity: kadm.ClientQuotaEntity{quotaPart("client-id", c)}, Ops: []kadm.AlterClientQuotaOp{remove(quota.ConsumerByteRate)}},
		// Removing what is not there is no error.
		{Entity: kadm.ClientQuotaEntity{quotaPart("client-id", nil)}, Ops: []kadm.AlterClientQuotaOp{remove(quota.ConsumerByteRate)}},
	})
	if err != nil || len(res) != 3 || res[0].Err != nil || res[1].Err != nil || res[2].Err != nil {
		t.Fatalf("AlterClientQuotas removing: %v %+v", err, res)
	}
	want := "user=<default>{producer_byte_rate=1000} user=alice{consumer_byte_rate=2.097152e+06} user=alice,client-id=<default>{consumer_byte_rate=500}"
	if got := describe(false); got != want {
		t.Fatalf("after removing:\n got %s\nwant %s", got, want)
	}
}

// Each bad filter is a top-level INVALID_REQUEST with the reason, at both
// versions.
func TestDescribeClientQuotasInvalidFilter(t *testing.T) {
	ts := startServer(t, Config{Quotas: newMemQuotas(map[quota.Entity]map[string]float64{
		{User: quota.Name("alice")}: {quota.ProducerByteRate: 1},
	})}, nil)
	c := ts.dial(t)
	comp := func(typ string, m kmsg.QuotasMatchType, name *string) kmsg.DescribeClientQuotasRequestComponent {
		rc := kmsg.NewDescribeClientQuotasRequestComponent()
		rc.EntityType, rc.MatchType, rc.Match = typ, m, name
		return rc
	}
	alice := kmsg.StringPtr("alice")
	for _, tt := range []struct {
		name   string
		comps  []kmsg.DescribeClientQuotasRequestComponent
		errHas string
	}{
		{"ip", []kmsg.DescribeClientQuotasRequestComponent{comp("ip", kmsg.QuotasMatchTypeAny, nil)}, "ip entities (connection_creation_rate) are not supported"},
		{"unknown type", []kmsg.DescribeClientQuotasRequestComponent{comp("group", kmsg.QuotasMatchTypeAny, nil)}, `entity type "group" is not supported: only user and client-id`},
		{"empty type", []kmsg.DescribeClientQuotasRequestComponent{comp("", kmsg.QuotasMatchTypeAny, nil)}, "not supported"},
		{"user twice", []kmsg.DescribeClientQuotasRequestComponent{
			comp("user", kmsg.QuotasMatchTypeExact, alice), comp("user", kmsg.QuotasMatchTypeDefault, nil),
		}, "user appears twice"},
		{"match type 3", []kmsg.DescribeClientQuotasRequestComponent{comp("user", 3, alice)}, "unknown match type 3"},
		{"match type -1", []kmsg.DescribeClientQuotasRequestComponent{comp("client-id", -1, nil)}, "unknown match type -1"},
		{"exact without a name", []kmsg.DescribeClientQuotasRequestComponent{comp("client-id", kmsg.QuotasMatchTypeExact, nil)}, "EXACT match of client-id needs a name"},
	} {
		for _, v := range []int16{0, 1} {
			t.Run(fmt.Sprintf("%s v%d", tt.name, v), func(t *testing.T) {
				req := kmsg.NewPtrDescribeClientQuotasRequest()
				req.Version, req.Components = v, tt.comps
				resp := c.do(req).(*kmsg.DescribeClientQuotasResponse)
				wantCode(t, tt.name, resp.ErrorCode, kerr.InvalidRequest)
				if resp.ErrorMessage == nil || !strings.Contains(*resp.ErrorMessage, tt.errHas) {
					t.Fatalf("message %v, want one containing %q", resp.ErrorMessage, tt.errHas)
				}
				if len(resp.Entries) != 0 {
					t.Fatalf("entries with an error: %+v", resp.Entries)
				}
			})
		}
	}

	// The valid request at both versions: no error, no message, names the
	// user and gives the value.
	for _, v := range []int16{0, 1} {
		req := kmsg.NewPtrDescribeClientQuotasRequest()
		req.Version = v
		resp := c.do(req).(*kmsg.DescribeClientQuotasResponse)
		if resp.ErrorCode != 0 || resp.ErrorMessage != nil || len(resp.Entries) != 1 {
			t.Fatalf("v%d: %+v", v, resp)
		}
		e := resp.Entries[0]
		if len(e.Entity) != 1 || e.Entity[0].Type != "user" || e.Entity[0].Name == nil || *e.Entity[0].Name != "alice" ||
			len(e.Values) != 1 || e.Values[0].Key != quota.ProducerByteRate || e.Values[0].Value != 1 {
			t.Fatalf("v%d: entry %+v", v, e)
		}
	}
}

// Invalid entries are INVALID_REQUEST with the reason, the valid ones in
// the same request apply; every result echoes its entity.
func TestAlterClientQuotasInvalid(t *testing.T) {
	store := newMemQuotas()
	ts := startServer(t, Config{Quotas: store}, nil)
	c := ts.dial(t)
	type part struct {
		typ  string
		name *string
	}
	type op struct {
		key    string
		value  float64
		remove bool
	}
	render := func(parts []part) string {
		var out []string
		for _, p := range parts {
			name := "<default>"
			if p.name != nil {
				name = *p.name
			}
			out = append(out, p.typ+"="+name)
		}
		return strings.Join(out, ",")
	}
	alice, bob := kmsg.StringPtr("alice"), kmsg.StringPtr("bob")
	produce := op{quota.ProducerByteRate, 100, false}
	entries := []struct {
		entity []part
		ops    []op
		errHas string // "" means applied
	}{
		{[]part{{"user", alice}}, []op{produce, {quota.ControllerMutationRate, 0.5, false}}, ""},
		{[]part{{"ip", nil}}, []op{{"connection_creation_rate", 10, false}}, "ip entities (connection_creation_rate) are not supported"},
		{[]part{{"user", bob}, {"ip", kmsg.StringPtr("10.0.0.1")}}, []op{produce}, "ip entities"},
		{[]part{{"group", bob}}, []op{produce}, `entity type "group" is not supported: only user and client-id entities are`},
		{[]part{{"user", alice}, {"user", bob}}, []op{produce}, "user appears twice"},
		{[]part{{"client-id", nil}, {"client-id", nil}}, []op{produce}, "client-id appears twice"},
		{nil, []op{produce}, "an entity names a user, a client ID or both"},
		{[]part{{"user", bob}}, []op{{"request_percentage", 50, false}}, `quota "request_percentage" is not supported`},
		{[]part{{"user", bob}}, []op{{quota.ControllerMutationRate, 0, false}}, "positive number of partition mutations"},
		{[]part{{"user", bob}}, []op{{"request_percentage", 0, true}}, `quota "request_percentage" is not supported`},
		{[]part{{"user", bob}}, []op{{quota.ConsumerByteRate, -1, false}}, "positive"},
		{[]part{{"user", bob}}, []op{{quota.ConsumerByteRate, 0, false}}, "positive"},
		{[]part{{"user", bob}}, []op{{quota.ConsumerByteRate, math.NaN(), false}}, "positive"},
		{[]part{{"user", bob}}, []op{{quota.ConsumerByteRate, math.Inf(1), false}}, "positive"},
		{[]part{{"user", bob}}, []op{produce, {quota.ProducerByteRate, 0, true}}, "altered twice"},
		{[]part{{"client-id", nil}, {"user", nil}}, []op{{quota.ConsumerByteRate, 7, false}}, ""},
		{[]part{{"client-id", kmsg.StringPtr("c")}}, nil, ""}, // no ops: nothing to do
	}
	build := func(version int16, validateOnly bool) *kmsg.AlterClientQuotasRequest {
		req := kmsg.NewPtrAlterClientQuotasRequest()
		req.Version, req.ValidateOnly = version, validateOnly
		for _, e := range entries {
			re := kmsg.NewAlterClientQuotasRequestEntry()
			for _, p := range e.entity {
				we := kmsg.NewAlterClientQuotasRequestEntryEntity()
				we.Type, we.Name = p.typ, p.name
				re.Entity = append(re.Entity, we)
			}
			for _, o := range e.ops {
				wo := kmsg.NewAlterClientQuotasRequestEntryOp()
				wo.Key, wo.Value, wo.Remove = o.key, o.value, o.remove
				re.Ops = append(re.Ops, wo)
			}
			req.Entries = append(req.Entries, re)
		}
		return req
	}
	check := func(what string, resp *kmsg.AlterClientQuotasResponse) {
		t.Helper()
		if len(resp.Entries) != len(entries) {
			t.Fatalf("%s: %d results to %d entries", what, len(resp.Entries), len(entries))
		}
		for i, e := range entries {
			r := resp.Entries[i]
			what := fmt.Sprintf("%s, entry %d (%s %v)", what, i, render(e.entity), e.ops)
			var echoed []part
			for _, p := range r.Entity {
				echoed = append(echoed, part{p.Type, p.Name})
			}
			if render(echoed) != render(e.entity) {
				t.Fatalf("%s: entity echoed as %s", what, render(echoed))
			}
			if e.errHas == "" {
				wantCode(t, what, r.ErrorCode, nil)
				if r.ErrorMessage != nil {
					t.Fatalf("%s: message %q", what, *r.ErrorMessage)
				}
				continue
			}
			wantCode(t, what, r.ErrorCode, kerr.InvalidRequest)
			if r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, e.errHas) {
				t.Fatalf("%s: message %v, want one containing %q", what, r.ErrorMessage, e.errHas)
			}
		}
	}

	check("v0 validate only", c.do(build(0, true)).(*kmsg.AlterClientQuotasResponse))
	if store.Quotas().Len() != 0 {
		t.Fatalf("validating changed the store: %s", quotaDump(store.Quotas()))
	}
	check("v1", c.do(build(1, false)).(*kmsg.AlterClientQuotasResponse))
	if got, want := quotaDump(store.Quotas()), "user=<default>,client-id=<default>{consumer_byte_rate=7} user=alice{controller_mutation_rate=0.5 producer_byte_rate=100}"; got != want {
		t.Fatalf("store:\n got %s\nwant %s", got, want)
	}
	check("v0 again", c.do(build(0, false)).(*kmsg.AlterClientQuotasResponse))

	// No entries, no results.
	if r := c.do(kmsg.NewPtrAlterClientQuotasRequest()).(*kmsg.AlterClientQuotasResponse); len(r.Entries) != 0 {
		t.Fatalf("empty alter: %+v", r.Entries)
	}
}

// Without a quota store both APIs answer UNKNOWN_SERVER_ERROR and say
// why, at every version.
func TestClientQuotasNoStore(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	c := ts.dial(t)
	for _, v := range []int16{0, 1} {
		d := kmsg.NewPtrDescribeClientQuotasRequest()
		d.Version = v
		dr := c.do(d).(*kmsg.DescribeClientQuotasResponse)
		wantCode(t, fmt.Sprintf("DescribeClientQuotas v%d", v), dr.ErrorCode, kerr.UnknownServerError)
		if dr.ErrorMessage == nil || *dr.ErrorMessage != noQuotaStore {
			t.Fatalf("DescribeClientQuotas v%d: message %v", v, dr.ErrorMessage)
		}

		a := kmsg.NewPtrAlterClientQuotasRequest()
		a.Version = v
		a.Entries = make([]kmsg.AlterClientQuotasRequestEntry, 2)
		for i := range a.Entries {
			a.Entries[i].Default()
		}
		ar := c.do(a).(*kmsg.AlterClientQuotasResponse)
		if len(ar.Entries) != 2 {
			t.Fatalf("AlterClientQuotas v%d: %d results", v, len(ar.Entries))
		}
		for _, r := range ar.Entries {
			wantCode(t, fmt.Sprintf("AlterClientQuotas v%d", v), r.ErrorCode, kerr.UnknownServerError)
			if r.ErrorMessage == nil || *r.ErrorMessage != noQuotaStore {
				t.Fatalf("AlterClientQuotas v%d: message %v", v, r.ErrorMessage)
			}
		}
	}
}

// Describing needs DESCRIBE_CONFIGS on the cluster, altering ALTER_CONFIGS
// (which implies DESCRIBE_CONFIGS), as in Kafka.
func TestClientQuotasClusterAuthorization(t *testing.T) {
	other := aclBinding(kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeLiteral, "t", anonymous, "*",
		kmsg.ACLOperationAll, kmsg.ACLPermissionTypeAllow)
	describeConfigs := aclBinding(kmsg.ACLResourceTypeCluster, kmsg.ACLResourcePatternTypeLiteral, acl.ClusterName, anonymous, "*",
		kmsg.ACLOperationDescribeConfigs, kmsg.ACLPermissionTypeAllow)
	alterConfigs := describeConfigs
	alterConfigs.Operation = kmsg.ACLOperationAlterConfigs
	alter := describeConfigs // ALTER on the cluster is not ALTER_CONFIGS
	alter.Operation = kmsg.ACLOperationAlter
	existing := map[quota.Entity]map[string]float64{{User: quota.Name("alice")}: {quota.ProducerByteRate: 1}}

	for _, tt := range []struct {
		name                  string
		cfg                   Config
		mayDescribe, mayAlter bool
	}{
		{"no ACLs on the cluster", Config{ACLs: newMemACLs(other)}, false, false},
		{"ALTER on the cluster", Config{ACLs: newMemACLs(other, alter)}, false, false}, // implies DESCRIBE, not DESCRIBE_CONFIGS
		{"DESCRIBE_CONFIGS on the cluster", Config{ACLs: newMemACLs(other, describeConfigs)}, true, false},
		{"ALTER_CONFIGS on the cluster", Config{ACLs: newMemACLs(other, alterConfigs)}, true, true},
		{"a super user", Config{ACLs: newMemACLs(other), SuperUsers: anonymousSuperUser}, true, true},
		{"no authorizer", Config{}, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := newMemQuotas(existing)
			tt.cfg.Quotas = store
			ts := startServer(t, tt.cfg, nil)
			adm, ctx := newACLAdmin(t, ts)

			d, err := adm.DescribeClientQuotas(ctx, false, nil)
			switch {
			case tt.mayDescribe && (err != nil || describedDump(d) != "user=alice{producer_byte_rate=1}"):
				t.Fatalf("DescribeClientQuotas: %v %+v", err, d)
			case !tt.mayDescribe && !errors.Is(err, kerr.ClusterAuthorizationFailed):
				t.Fatalf("DescribeClientQuotas: %v %+v, want CLUSTER_AUTHORIZATION_FAILED", err, d)
			}
			if !tt.mayDescribe {
				req := kmsg.NewPtrDescribeClientQuotasRequest()
				resp := ts.dial(t).do(req).(*kmsg.DescribeClientQuotasResponse)
				if m := resp.ErrorMessage; m == nil || !strings.Contains(*m, anonymous+" may not DESCRIBE_CONFIGS the cluster") ||
					len(resp.Entries) != 0 {
					t.Fatalf("DescribeClientQuotas: %v %+v", m, resp.Entries)
				}
			}

			res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{
				{Entity: kadm.ClientQuotaEntity{quotaPart("user", nil)}, Ops: []kadm.AlterClientQuotaOp{{Key: quota.ConsumerByteRate, Value: 5}}},
				{Entity: kadm.ClientQuotaEntity{quotaPart("ip", nil)}, Ops: []kadm.AlterClientQuotaOp{{Key: quota.ConsumerByteRate, Value: 5}}},
			})
			if err != nil || len(res) != 2 {
				t.Fatalf("AlterClientQuotas: %v %+v", err, res)
			}
			if tt.mayAlter {
				if res[0].Err != nil || !errors.Is(res[1].Err, kerr.InvalidRequest) {
					t.Fatalf("AlterClientQuotas: %+v", res)
				}
				if got, want := quotaDump(store.Quotas()), "user=<default>{consumer_byte_rate=5} user=alice{producer_byte_rate=1}"; got != want {
					t.Fatalf("store:\n got %s\nwant %s", got, want)
				}
				return
			}
			for _, r := range res { // refused before anything is validated
				if !errors.Is(r.Err, kerr.ClusterAuthorizationFailed) || !strings.Contains(r.ErrMessage, "may not ALTER_CONFIGS the cluster") {
					t.Fatalf("AlterClientQuotas: %+v, want CLUSTER_AUTHORIZATION_FAILED", r)
				}
			}
			if got, want := quotaDump(store.Quotas()), "user=alice{producer_byte_rate=1}"; got != want {
				t.Fatalf("store changed: %s", got)
			}
		})
	}
}

// failingQuotas is a quota store whose changes fail with err.
type failingQuotas struct {
	*memQuotas
	err error
}

func (f *failingQuotas) AlterQuotas(context.Context, []quota.Alteration) error { return f.err }

// A store's error is each valid entry's, mapped like every backend error;
// the invalid ones keep INVALID_REQUEST; ValidateOnly never reaches the
// store.
func TestClientQuotasStoreErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		code *kerr.Error
		msg  string
	}{
		{"not controller", fmt.Errorf("meta: %w", cluster.ErrNotController), kerr.NotController, "meta: "},
		{"unexpected", errors.New("disk on fire"), kerr.UnknownServerError, "disk on fire"},
		{"timeout", context.DeadlineExceeded, kerr.RequestTimedOut, "deadline"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, Config{Quotas: &failingQuotas{memQuotas: newMemQuotas(), err: tt.err}}, nil)
			c := ts.dial(t)
			req := kmsg.NewPtrAlterClientQuotasRequest()
			req.Version = 1
			for _, key := range []string{quota.ProducerByteRate, "request_percentage", quota.ConsumerByteRate} {
				re := kmsg.NewAlterClientQuotasRequestEntry()
				we := kmsg.NewAlterClientQuotasRequestEntryEntity()
				we.Type, we.Name = quota.TypeUser, kmsg.StringPtr("alice")
				re.Entity = append(re.Entity, we)
				wo := kmsg.NewAlterClientQuotasRequestEntryOp()
				wo.Key, wo.Value = key, 10
				re.Ops = append(re.Ops, wo)
				req.Entries = append(req.Entries, re)
			}
			resp := c.do(req).(*kmsg.AlterClientQuotasResponse)
			if len(resp.Entries) != 3 {
				t.Fatalf("%d results", len(resp.Entries))
			}
			for _, i := range []int{0, 2} {
				r := resp.Entries[i]
				wantCode(t, fmt.Sprintf("entry %d", i), r.ErrorCode, tt.code)
				if r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, tt.msg) {
					t.Fatalf("entry %d: message %v, want one containing %q", i, r.ErrorMessage, tt.msg)
				}
			}
			wantCode(t, "entry 1", resp.Entries[1].ErrorCode, kerr.InvalidRequest)

			req.ValidateOnly = true
			for i, r := range c.do(req).(*kmsg.AlterClientQuotasResponse).Entries {
				if (i == 1) != (r.ErrorCode == kerr.InvalidRequest.Code) || i != 1 && r.ErrorCode != 0 {
					t.Fatalf("validate only, entry %d: %v", i, kerr.ErrorForCode(r.ErrorCode))
				}
			}
		})
	}
}
