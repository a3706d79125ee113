package quota

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

var (
	alice   = Name("alice")
	bob     = Name("bob")
	clientC = Name("c")
	absent  = Part{}
)

func TestEntityValidate(t *testing.T) {
	for _, tt := range []struct {
		e      Entity
		errHas string // "" means valid
	}{
		{Entity{User: alice}, ""},
		{Entity{ClientID: clientC}, ""},
		{Entity{User: alice, ClientID: clientC}, ""},
		{Entity{User: DefaultPart}, ""},
		{Entity{User: DefaultPart, ClientID: DefaultPart}, ""},
		{Entity{User: alice, ClientID: DefaultPart}, ""},
		{Entity{ClientID: DefaultPart}, ""},
		{Entity{User: Name("")}, ""}, // a user named "" is a name like any other
		{Entity{}, "user, a client ID or both"},
		{Entity{User: Part{Kind: Default, Name: "x"}}, "malformed"},
		{Entity{ClientID: Part{Kind: Absent, Name: "x"}, User: alice}, "malformed"},
		{Entity{User: Part{Kind: 3}}, "malformed"},
		{Entity{User: alice, ClientID: Part{Kind: 9, Name: "c"}}, "malformed"},
	} {
		t.Run(fmt.Sprintf("%+v", tt.e), func(t *testing.T) {
			wantErr(t, tt.e.Validate(), tt.errHas)
		})
	}
}

func TestEntityString(t *testing.T) {
	for _, tt := range []struct {
		e    Entity
		want string
	}{
		{Entity{User: alice}, "user=alice"},
		{Entity{ClientID: DefaultPart}, "client-id=<default>"},
		{Entity{User: DefaultPart, ClientID: clientC}, "user=<default>,client-id=c"},
		{Entity{}, ""},
	} {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.e, got, tt.want)
		}
	}
}

// Absent before default before named, users first.
func TestCompareEntities(t *testing.T) {
	sorted := []Entity{
		{ClientID: DefaultPart},
		{ClientID: Name("a")},
		{ClientID: Name("b")},
		{User: DefaultPart},
		{User: DefaultPart, ClientID: DefaultPart},
		{User: DefaultPart, ClientID: clientC},
		{User: alice},
		{User: alice, ClientID: DefaultPart},
		{User: alice, ClientID: clientC},
		{User: bob},
	}
	for i, a := range sorted {
		for j, b := range sorted {
			if got, want := CompareEntities(a, b), sign(i-j); got != want {
				t.Errorf("CompareEntities(%v, %v) = %d, want %d", a, b, got, want)
			}
		}
	}
	shuffled := slices.Clone(sorted)
	slices.Reverse(shuffled)
	q := map[Entity]map[string]float64{}
	for _, e := range shuffled {
		q[e] = map[string]float64{ProducerByteRate: 1}
	}
	if got := NewSet(q).Entities(); !slices.Equal(got, sorted) {
		t.Fatalf("Entities:\n got %v\nwant %v", got, sorted)
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func TestValidateValue(t *testing.T) {
	for _, tt := range []struct {
		key    string
		value  float64
		errHas string
	}{
		{ProducerByteRate, 1024, ""},
		{ConsumerByteRate, 1, ""},
		{ConsumerByteRate, 0.5, "whole"},
		{ConsumerByteRate, 10.5, "whole"},
		{ProducerByteRate, 1 << 62, ""},
		{ProducerByteRate, math.MaxFloat64, "positive"},
		{ProducerByteRate, 0, "positive"},
		{ProducerByteRate, -1, "positive"},
		{ConsumerByteRate, math.Copysign(0, -1), "positive"},
		{ProducerByteRate, math.NaN(), "positive"},
		{ProducerByteRate, math.Inf(1), "positive"},
		{ConsumerByteRate, math.Inf(-1), "positive"},
		{"request_percentage", 50, `quota "request_percentage" is not supported`},
		{"request_percentage", 1, "not supported: use consumer_byte_rate, controller_mutation_rate or producer_byte_rate"},
		{ControllerMutationRate, 10, ""},
		{ControllerMutationRate, 0.5, ""},
		{ControllerMutationRate, 1e-3, ""},
		{ControllerMutationRate, 1e12, ""},
		{ControllerMutationRate, 0, "positive number of partition mutations"},
		{ControllerMutationRate, -2, "positive number of partition mutations"},
		{ControllerMutationRate, math.NaN(), "positive number of partition mutations"},
		{ControllerMutationRate, math.Inf(1), "positive number of partition mutations"},
		{"", 1, "not supported"},
		{"Producer_Byte_Rate", 1, "not supported"},
	} {
		t.Run(fmt.Sprintf("%s=%v", tt.key, tt.value), func(t *testing.T) {
			wantErr(t, ValidateValue(tt.key, tt.value), tt.errHas)
		})
	}
}

func TestAlterationValidate(t *testing.T) {
	set := func(k string, v float64) Op { return Op{Key: k, Value: v} }
	remove := func(k string) Op { return Op{Key: k, Remove: true} }
	user := Entity{User: alice}
	for _, tt := range []struct {
		name   string
		a      Alteration
		errHas string
	}{
		{"set both", Alteration{user, []Op{set(ProducerByteRate, 1), set(ConsumerByteRate, 2)}}, ""},
		{"set and remove", Alteration{user, []Op{set(ProducerByteRate, 1), remove(ConsumerByteRate)}}, ""},
		{"remove ignores the value", Alteration{user, []Op{{Key: ProducerByteRate, Value: math.NaN(), Remove: true}}}, ""},
		{"no ops", Alteration{user, nil}, ""},
		{"invalid entity", Alteration{Entity{}, []Op{set(ProducerByteRate, 1)}}, "user, a client ID or both"},
		{"set twice", Alteration{user, []Op{set(ProducerByteRate, 1), set(ProducerByteRate, 2)}}, "altered twice for user=alice"},
		{"set and remove the same", Alteration{user, []Op{set(ConsumerByteRate, 1), remove(ConsumerByteRate)}}, "altered twice"},
		{"remove twice", Alteration{user, []Op{remove(ConsumerByteRate), remove(ConsumerByteRate)}}, "altered twice"},
		{"unknown key", Alteration{user, []Op{set("request_percentage", 1)}}, "not supported"},
		{"remove an unknown key", Alteration{user, []Op{remove("connection_creation_rate")}}, "not supported"},
		{"bad value", Alteration{user, []Op{set(ConsumerByteRate, 1), set(ProducerByteRate, -5)}}, "positive"},
		{"mutation rate", Alteration{user, []Op{set(ControllerMutationRate, 2.5), remove(ProducerByteRate)}}, ""},
		{"remove the mutation rate", Alteration{user, []Op{remove(ControllerMutationRate)}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.a.Validate(), tt.errHas)
		})
	}
}

func TestSetApply(t *testing.T) {
	userA, userB := Entity{User: alice}, Entity{User: bob}
	defClient := Entity{ClientID: DefaultPart}
	orig := NewSet(map[Entity]map[string]float64{
		userA: {ProducerByteRate: 100, ConsumerByteRate: 200},
		userB: {ProducerByteRate: 10},
	})
	before := dump(orig)
	for _, tt := range []struct {
		name string
		alts []Alteration
		want string
	}{
		{"nothing", nil, before},
		{
			"set a new entity",
			[]Alteration{{defClient, []Op{{Key: ConsumerByteRate, Value: 5}}}},
			"client-id=<default>{consumer_byte_rate=5} user=alice{consumer_byte_rate=200 producer_byte_rate=100} user=bob{producer_byte_rate=10}",
		},
		{
			"replace a value",
			[]Alteration{{userA, []Op{{Key: ProducerByteRate, Value: 101}}}},
			"user=alice{consumer_byte_rate=200 producer_byte_rate=101} user=bob{producer_byte_rate=10}",
		},
		{
			"add a key",
			[]Alteration{{userB, []Op{{Key: ConsumerByteRate, Value: 20}}}},
			"user=alice{consumer_byte_rate=200 producer_byte_rate=100} user=bob{consumer_byte_rate=20 producer_byte_rate=10}",
		},
		{
			"remove one key",
			[]Alteration{{userA, []Op{{Key: ProducerByteRate, Remove: true}}}},
			"user=alice{consumer_byte_rate=200} user=bob{producer_byte_rate=10}",
		},
		{
			"removing the last removes the entity",
			[]Alteration{{userB, []Op{{Key: ProducerByteRate, Remove: true}}}},
			"user=alice{consumer_byte_rate=200 producer_byte_rate=100}",
		},
		{"removing what is not there", []Alteration{{defClient, []Op{{Key: ProducerByteRate, Remove: true}}}}, before},
		{"in order: set then remove", []Alteration{
			{defClient, []Op{{Key: ConsumerByteRate, Value: 5}}},
			{defClient, []Op{{Key: ConsumerByteRate, Remove: true}}},
		}, before},
		{"in order: the last value wins", []Alteration{
			{userB, []Op{{Key: ProducerByteRate, Value: 1}}},
			{userB, []Op{{Key: ProducerByteRate, Value: 2}}},
		}, "user=alice{consumer_byte_rate=200 producer_byte_rate=100} user=bob{producer_byte_rate=2}"},
		{"everything removed", []Alteration{
			{userA, []Op{{Key: ProducerByteRate, Remove: true}, {Key: ConsumerByteRate, Remove: true}}},
			{userB, []Op{{Key: ProducerByteRate, Remove: true}}},
		}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			next := orig.Apply(tt.alts)
			if got := dump(next); got != tt.want {
				t.Fatalf("after:\n got %s\nwant %s", got, tt.want)
			}
			if got := dump(orig); got != before {
				t.Fatalf("the original changed:\n got %s\nwant %s", got, before)
			}
		})
	}

	var empty *Set
	next := empty.Apply([]Alteration{{userA, []Op{{Key: ProducerByteRate, Value: 7}}}})
	if got, want := dump(next), "user=alice{producer_byte_rate=7}"; got != want {
		t.Fatalf("nil set applied: %s, want %s", got, want)
	}
	if empty.Len() != 0 || empty.Entities() != nil || empty.Quotas(userA) != nil || empty.Match(Filter{}) != nil {
		t.Fatal("a nil set is not empty")
	}
}

// NewSet copies its maps and drops entities without quotas.
func TestNewSetCopies(t *testing.T) {
	q := map[string]float64{ProducerByteRate: 1}
	s := NewSet(map[Entity]map[string]float64{{User: alice}: q, {User: bob}: {}})
	q[ProducerByteRate] = 2
	if got, want := dump(s), "user=alice{producer_byte_rate=1}"; got != want {
		t.Fatalf("%s, want %s", got, want)
	}
	if s.Len() != 1 {
		t.Fatalf("Len %d", s.Len())
	}
}

// Each of Kafka's eight levels shadows the ones after it; the sensor names
// the request's user and client ID in place of a default.
func TestResolve(t *testing.T) {
	levels := []struct {
		e      Entity
		sensor Entity
	}{
		{Entity{alice, clientC}, Entity{alice, clientC}},
		{Entity{alice, DefaultPart}, Entity{alice, clientC}},
		{Entity{alice, absent}, Entity{alice, absent}},
		{Entity{DefaultPart, clientC}, Entity{alice, clientC}},
		{Entity{DefaultPart, DefaultPart}, Entity{alice, clientC}},
		{Entity{DefaultPart, absent}, Entity{alice, absent}},
		{Entity{absent, clientC}, Entity{absent, clientC}},
		{Entity{absent, DefaultPart}, Entity{absent, clientC}},
	}
	all := map[Entity]map[string]float64{}
	for i, l := range levels {
		all[l.e] = map[string]float64{ProducerByteRate: float64(i + 1)}
	}
	// Quotas of others, and of another key, never apply.
	all[Entity{bob, clientC}] = map[string]float64{ProducerByteRate: 100}
	all[Entity{alice, Name("d")}] = map[string]float64{ProducerByteRate: 101}
	all[Entity{absent, Name("d")}] = map[string]float64{ProducerByteRate: 102}
	s := NewSet(all)
	for i, l := range levels {
		t.Run(l.e.String(), func(t *testing.T) {
			limit, sensor, ok := s.Resolve(ProducerByteRate, "alice", "c")
			if !ok || limit != float64(i+1) || sensor != l.sensor {
				t.Fatalf("Resolve = %v, %v, %v; want %v, %v, true", limit, sensor, ok, i+1, l.sensor)
			}
			if _, _, ok := s.Resolve(ConsumerByteRate, "alice", "c"); ok {
				t.Fatal("a consumer quota resolved from producer quotas")
			}
			// Take this level away: the next one applies.
			s = s.Apply([]Alteration{{l.e, []Op{{Key: ProducerByteRate, Remove: true}}}})
		})
	}
	if limit, sensor, ok := s.Resolve(ProducerByteRate, "alice", "c"); ok {
		t.Fatalf("no level left, resolved %v %v", limit, sensor)
	}

	// Keys resolve independently: a user's producer quota does not hide
	// the default consumer quota.
	s = NewSet(map[Entity]map[string]float64{
		{User: alice}:       {ProducerByteRate: 1},
		{User: DefaultPart}: {ConsumerByteRate: 2},
	})
	if limit, sensor, ok := s.Resolve(ConsumerByteRate, "alice", "c"); !ok || limit != 2 || sensor != (Entity{User: alice}) {
		t.Fatalf("consumer: %v %v %v", limit, sensor, ok)
	}
	if limit, sensor, ok := s.Resolve(ProducerByteRate, "bob", "c"); ok {
		t.Fatalf("bob's producer quota: %v %v", limit, sensor)
	}
	// A default user's quota is per user: each has a sensor of its own.
	_, s1, _ := s.Resolve(ConsumerByteRate, "alice", "c")
	_, s2, _ := s.Resolve(ConsumerByteRate, "bob", "c")
	if s1 == s2 {
		t.Fatalf("alice and bob share the sensor %v", s1)
	}

	for _, empty := range []*Set{nil, NewSet(nil)} {
		if limit, sensor, ok := empty.Resolve(ProducerByteRate, "alice", "c"); ok {
			t.Fatalf("empty set resolved %v %v", limit, sensor)
		}
	}
}

func TestFilterValidate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		f      Filter
		errHas string
	}{
		{"nothing", Filter{}, ""},
		{"strict nothing", Filter{Strict: true}, ""},
		{"user and client", Filter{Components: []Component{{Type: TypeUser, Match: MatchExact, Name: "a"}, {Type: TypeClientID, Match: MatchAny}}}, ""},
		{"default", Filter{Components: []Component{{Type: TypeClientID, Match: MatchDefault}}}, ""},
		{"ip", Filter{Components: []Component{{Type: "ip", Match: MatchAny}}}, `entity type "ip" is not supported`},
		{"empty type", Filter{Components: []Component{{Match: MatchAny}}}, "not supported"},
		{"twice", Filter{Components: []Component{{Type: TypeUser, Match: MatchAny}, {Type: TypeUser, Match: MatchDefault}}}, "appears twice"},
		{"match 3", Filter{Components: []Component{{Type: TypeUser, Match: 3}}}, "unknown match type 3"},
		{"match -1", Filter{Components: []Component{{Type: TypeUser, Match: -1}}}, "unknown match type -1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.f.Validate(), tt.errHas)
		})
	}
}

func TestFilterMatches(t *testing.T) {
	entities := []Entity{
		{User: alice},
		{User: bob},
		{User: DefaultPart},
		{User: alice, ClientID: clientC},
		{User: alice, ClientID: DefaultPart},
		{User: DefaultPart, ClientID: DefaultPart},
		{ClientID: clientC},
		{ClientID: DefaultPart},
	}
	q := map[Entity]map[string]float64{}
	for _, e := range entities {
		q[e] = map[string]float64{ConsumerByteRate: 1}
	}
	s := NewSet(q)
	user := func(m MatchKind, name string) Component { return Component{Type: TypeUser, Match: m, Name: name} }
	client := func(m MatchKind, name string) Component { return Component{Type: TypeClientID, Match: m, Name: name} }
	for _, tt := range []struct {
		name   string
		f      Filter
		want   string
		strict string // with Strict set
	}{
		{
			"nothing",
			Filter{},
			"client-id=<default> client-id=c user=<default> user=<default>,client-id=<default> user=alice user=alice,client-id=<default> user=alice,client-id=c user=bob",
			"",
		},
		{
			"exact user",
			Filter{Components: []Component{user(MatchExact, "alice")}},
			"user=alice user=alice,client-id=<default> user=alice,client-id=c", "user=alice",
		},
		{"exact user no one has", Filter{Components: []Component{user(MatchExact, "carol")}}, "", ""},
		{"exact user <default> is a name", Filter{Components: []Component{user(MatchExact, "<default>")}}, "", ""},
		{
			"default user",
			Filter{Components: []Component{user(MatchDefault, "")}},
			"user=<default> user=<default>,client-id=<default>", "user=<default>",
		},
		{
			"any user",
			Filter{Components: []Component{user(MatchAny, "")}},
			"user=<default> user=<default>,client-id=<default> user=alice user=alice,client-id=<default> user=alice,client-id=c user=bob",
			"user=<default> user=alice user=bob",
		},
		{
			"exact client",
			Filter{Components: []Component{client(MatchExact, "c")}},
			"client-id=c user=alice,client-id=c", "client-id=c",
		},
		{
			"default client",
			Filter{Components: []Component{client(MatchDefault, "")}},
			"client-id=<default> user=<default>,client-id=<default> user=alice,client-id=<default>", "client-id=<default>",
		},
		{
			"any client",
			Filter{Components: []Component{client(MatchAny, "")}},
			"client-id=<default> client-id=c user=<default>,client-id=<default> user=alice,client-id=<default> user=alice,client-id=c",
			"client-id=<default> client-id=c",
		},
		{
			"user and any client",
			Filter{Components: []Component{user(MatchExact, "alice"), client(MatchAny, "")}},
			"user=alice,client-id=<default> user=alice,client-id=c", "user=alice,client-id=<default> user=alice,client-id=c",
		},
		{
			"any client and default user",
			Filter{Components: []Component{client(MatchAny, ""), user(MatchDefault, "")}},
			"user=<default>,client-id=<default>", "user=<default>,client-id=<default>",
		},
		{
			"exact both",
			Filter{Components: []Component{user(MatchExact, "alice"), client(MatchExact, "c")}},
			"user=alice,client-id=c", "user=alice,client-id=c",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := entityList(s.Match(tt.f)); got != tt.want {
				t.Errorf("not strict:\n got %s\nwant %s", got, tt.want)
			}
			strict := tt.f
			strict.Strict = true
			if got := entityList(s.Match(strict)); got != tt.strict {
				t.Errorf("strict:\n got %s\nwant %s", got, tt.strict)
			}
		})
	}
}

func wantErr(t *testing.T, err error, errHas string) {
	t.Helper()
	switch {
	case errHas == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case errHas != "" && (err == nil || !strings.Contains(err.Error(), errHas)):
		t.Fatalf("error %v, want one containing %q", err, errHas)
	}
}

// dump renders a set: entities in order, each with its quotas by key.
func dump(s *Set) string {
	var parts []string
	for _, e := range s.Entities() {
		q := s.Quotas(e)
		var kv []string
		for _, k := range Keys {
			if v, ok := q[k]; ok {
				kv = append(kv, fmt.Sprintf("%s=%v", k, v))
			}
		}
		parts = append(parts, e.String()+"{"+strings.Join(kv, " ")+"}")
	}
	return strings.Join(parts, " ")
}

func entityList(es []Entity) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, e.String())
	}
	return strings.Join(parts, " ")
}
