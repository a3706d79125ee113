// Package quota holds Kafka's client quotas: limits per user, per client
// ID or per both, each of which may be the default for those without a
// quota of their own (KIP-55, KIP-546). It is pure and shared: the meta
// shard stores them (raftsm/quotas.go), DescribeClientQuotas and
// AlterClientQuotas read and change them, and the Kafka listener resolves
// the quota of each request's user and client ID with a Set and throttles
// (kafka/quotas.go).
package quota

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// Quota keys enforced, per broker, as in Kafka.
const (
	// ProducerByteRate bounds the bytes of Produce requests, per second.
	ProducerByteRate = "producer_byte_rate"
	// ConsumerByteRate bounds the bytes of Fetch responses, per second.
	ConsumerByteRate = "consumer_byte_rate"
	// ControllerMutationRate bounds the partitions created or deleted per
	// second by CreateTopics, CreatePartitions and DeleteTopics (KIP-599).
	ControllerMutationRate = "controller_mutation_rate"
)

// Keys lists the quota keys a Set may hold, sorted.
var Keys = []string{ConsumerByteRate, ControllerMutationRate, ProducerByteRate}

// Entity types, as Kafka names them on the wire.
const (
	TypeUser     = "user"
	TypeClientID = "client-id"
)

// PartKind says what a Part of an entity is.
type PartKind uint8

// The kinds of parts.
const (
	// Absent: the entity has no such part (a quota of users applies to
	// every client ID of the user).
	Absent PartKind = iota
	// Named: one user or client ID.
	Named
	// Default: every user (client ID) without a quota of its own.
	Default
)

// Part is the user or the client ID of an entity.
type Part struct {
	Kind PartKind
	Name string // Named only
}

// Name returns a named part.
func Name(n string) Part { return Part{Kind: Named, Name: n} }

// DefaultPart is the default part.
var DefaultPart = Part{Kind: Default}

func (p Part) String() string {
	switch p.Kind {
	case Named:
		return p.Name
	case Default:
		return "<default>"
	}
	return ""
}

// Entity is whom a quota applies to: a user, a client ID, or a user's
// client ID; at least one part is present.
type Entity struct {
	User, ClientID Part
}

func (e Entity) String() string {
	var parts []string
	if e.User.Kind != Absent {
		parts = append(parts, TypeUser+"="+e.User.String())
	}
	if e.ClientID.Kind != Absent {
		parts = append(parts, TypeClientID+"="+e.ClientID.String())
	}
	return strings.Join(parts, ",")
}

// Validate reports why e cannot hold a quota.
func (e Entity) Validate() error {
	if e.User.Kind == Absent && e.ClientID.Kind == Absent {
		return errors.New("an entity names a user, a client ID or both")
	}
	for _, p := range []Part{e.User, e.ClientID} {
		if p.Kind > Default || p.Kind != Named && p.Name != "" {
			return fmt.Errorf("entity %s: malformed part", e)
		}
	}
	return nil
}

// CompareEntities orders entities: users first, then client IDs; absent
// before default before named.
func CompareEntities(a, b Entity) int {
	return cmp.Or(
		cmp.Compare(a.User.rank(), b.User.rank()), strings.Compare(a.User.Name, b.User.Name),
		cmp.Compare(a.ClientID.rank(), b.ClientID.rank()), strings.Compare(a.ClientID.Name, b.ClientID.Name),
	)
}

// rank orders parts by kind: absent, default, named (the kinds' numbers
// put named before default).
func (p Part) rank() int {
	switch p.Kind {
	case Absent:
		return 0
	case Default:
		return 1
	}
	return 2
}

// ValidateValue reports why value cannot be key's quota: a byte rate is a
// whole, positive number of bytes per second; controller_mutation_rate a
// positive number of partition mutations per second, fractions allowed.
func ValidateValue(key string, value float64) error {
	switch key {
	case ControllerMutationRate:
		if math.IsNaN(value) || value <= 0 || math.IsInf(value, 0) {
			return fmt.Errorf("quota %s must be a positive number of partition mutations per second (0.5, 10), not %v", key, value)
		}
	case ConsumerByteRate, ProducerByteRate:
		if math.IsNaN(value) || value < 1 || value > math.MaxInt64 || value != math.Trunc(value) {
			return fmt.Errorf("quota %s must be a whole, positive number of bytes per second, not %v", key, value)
		}
	default:
		return unsupportedKey(key)
	}
	return nil
}

// unsupportedKey is the error of a key not in Keys.
func unsupportedKey(key string) error {
	return fmt.Errorf("quota %q is not supported: use %s or %s", key, strings.Join(Keys[:len(Keys)-1], ", "), Keys[len(Keys)-1])
}

// Op is one change of an entity's quotas: set Key to Value, or remove it.
type Op struct {
	Key    string
	Value  float64
	Remove bool
}

// Alteration is the changes of one entity's quotas.
type Alteration struct {
	Entity Entity
	Ops    []Op
}

// Validate reports why a cannot be applied.
func (a Alteration) Validate() error {
	if err := a.Entity.Validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, op := range a.Ops {
		switch {
		case seen[op.Key]:
			return fmt.Errorf("quota %s is altered twice for %s", op.Key, a.Entity)
		case op.Remove:
			if !slices.Contains(Keys, op.Key) {
				return unsupportedKey(op.Key)
			}
		default:
			if err := ValidateValue(op.Key, op.Value); err != nil {
				return err
			}
		}
		seen[op.Key] = true
	}
	return nil
}

// Set is an immutable set of quotas by entity. The zero Set and a nil *Set
// are empty.
type Set struct {
	quotas map[Entity]map[string]float64
}

// NewSet returns the set of quotas; the maps are copied.
func NewSet(quotas map[Entity]map[string]float64) *Set {
	s := &Set{quotas: make(map[Entity]map[string]float64, len(quotas))}
	for e, q := range quotas {
		if len(q) > 0 {
			s.quotas[e] = maps.Clone(q)
		}
	}
	return s
}

// Len is the number of entities with quotas.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.quotas)
}

// Entities returns the entities with quotas, sorted (CompareEntities).
func (s *Set) Entities() []Entity {
	if s == nil {
		return nil
	}
	out := slices.Collect(maps.Keys(s.quotas))
	slices.SortFunc(out, CompareEntities)
	return out
}

// Quotas returns e's quotas, key → value; the caller must not modify it.
func (s *Set) Quotas(e Entity) map[string]float64 {
	if s == nil {
		return nil
	}
	return s.quotas[e]
}

// Apply returns the set with alts applied (a removed last quota removes
// the entity); s is unchanged. alts must be valid.
func (s *Set) Apply(alts []Alteration) *Set {
	next := make(map[Entity]map[string]float64, s.Len()+len(alts))
	if s != nil {
		for e, q := range s.quotas {
			next[e] = q
		}
	}
	for _, a := range alts {
		q := maps.Clone(next[a.Entity])
		if q == nil {
			q = map[string]float64{}
		}
		for _, op := range a.Ops {
			if op.Remove {
				delete(q, op.Key)
			} else {
				q[op.Key] = op.Value
			}
		}
		if len(q) == 0 {
			delete(next, a.Entity)
		} else {
			next[a.Entity] = q
		}
	}
	return &Set{quotas: next}
}

// Resolve returns the quota key applies to a request of user with
// clientID, by Kafka's precedence (most specific first): the user's client
// ID, the user's default client ID, the user, the default user's client
// ID, the default user's default client ID, the default user, the client
// ID, the default client ID. Sensor names what shares the quota: every
// user (client ID) under a default has its own, so the default's parts
// are replaced by the request's user and client ID. ok is false when no
// quota applies.
func (s *Set) Resolve(key, user, clientID string) (limit float64, sensor Entity, ok bool) {
	if s.Len() == 0 {
		return 0, Entity{}, false
	}
	u, c := Name(user), Name(clientID)
	for _, e := range [...]Entity{
		{u, c},
		{u, DefaultPart},
		{u, Part{}},
		{DefaultPart, c},
		{DefaultPart, DefaultPart},
		{DefaultPart, Part{}},
		{Part{}, c},
		{Part{}, DefaultPart},
	} {
		if v, found := s.quotas[e][key]; found {
			sensor = e
			if sensor.User.Kind == Default {
				sensor.User = u
			}
			if sensor.ClientID.Kind == Default {
				sensor.ClientID = c
			}
			return v, sensor, true
		}
	}
	return 0, Entity{}, false
}

// MatchKind is how a Filter component selects an entity's part
// (DescribeClientQuotas' MatchType).
type MatchKind int8

// The match kinds, numbered as on the wire.
const (
	MatchExact   MatchKind = 0 // the named user or client ID
	MatchDefault MatchKind = 1 // the default
	MatchAny     MatchKind = 2 // any part of that type, the default included
)

// Component selects entities by one part.
type Component struct {
	Type  string // TypeUser or TypeClientID
	Match MatchKind
	Name  string // MatchExact only
}

// Filter selects entities: each component must match its part; with
// Strict, the entity must have no other part.
type Filter struct {
	Components []Component
	Strict     bool
}

// Validate reports why f cannot be used.
func (f Filter) Validate() error {
	seen := map[string]bool{}
	for _, c := range f.Components {
		switch {
		case c.Type != TypeUser && c.Type != TypeClientID:
			return fmt.Errorf("entity type %q is not supported: use %s or %s", c.Type, TypeUser, TypeClientID)
		case seen[c.Type]:
			return fmt.Errorf("entity type %s appears twice in the filter", c.Type)
		case c.Match < MatchExact || c.Match > MatchAny:
			return fmt.Errorf("unknown match type %d", c.Match)
		}
		seen[c.Type] = true
	}
	return nil
}

// Matches reports whether f selects e.
func (f Filter) Matches(e Entity) bool {
	var user, client bool
	for _, c := range f.Components {
		p := e.User
		if c.Type == TypeClientID {
			p, client = e.ClientID, true
		} else {
			user = true
		}
		switch c.Match {
		case MatchExact:
			if p.Kind != Named || p.Name != c.Name {
				return false
			}
		case MatchDefault:
			if p.Kind != Default {
				return false
			}
		default:
			if p.Kind == Absent {
				return false
			}
		}
	}
	if f.Strict {
		return (user || e.User.Kind == Absent) && (client || e.ClientID.Kind == Absent)
	}
	return true
}

// Match returns the entities f selects, sorted.
func (s *Set) Match(f Filter) []Entity {
	var out []Entity
	for _, e := range s.Entities() {
		if f.Matches(e) {
			out = append(out, e)
		}
	}
	return out
}
