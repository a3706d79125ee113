package acl

import (
	"cmp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Set is an immutable set of bindings, indexed by resource for Authorize.
// The zero Set and a nil *Set are empty.
type Set struct {
	all    []Binding // sorted (Compare), no duplicates
	byType map[kmsg.ACLResourceType]*typeIndex
}

// typeIndex holds one resource type's bindings.
type typeIndex struct {
	literal  map[string][]Binding // by name; Wildcard included
	prefixed map[string][]Binding // by prefix: a name's prefixes are looked up, not every binding scanned
}

// NewSet returns the set of bindings; duplicates count once.
func NewSet(bindings []Binding) *Set {
	all := slices.Clone(bindings)
	slices.SortFunc(all, Compare)
	all = slices.Compact(all)
	s := &Set{all: all, byType: map[kmsg.ACLResourceType]*typeIndex{}}
	for _, b := range all {
		ix := s.byType[b.ResourceType]
		if ix == nil {
			ix = &typeIndex{literal: map[string][]Binding{}, prefixed: map[string][]Binding{}}
			s.byType[b.ResourceType] = ix
		}
		if b.PatternType == kmsg.ACLResourcePatternTypePrefixed {
			ix.prefixed[b.ResourceName] = append(ix.prefixed[b.ResourceName], b)
		} else {
			ix.literal[b.ResourceName] = append(ix.literal[b.ResourceName], b)
		}
	}
	return s
}

// Compare orders bindings by resource, then principal, host, operation and
// permission.
func Compare(a, b Binding) int {
	return cmp.Or(
		cmp.Compare(a.ResourceType, b.ResourceType),
		cmp.Compare(a.PatternType, b.PatternType),
		strings.Compare(a.ResourceName, b.ResourceName),
		strings.Compare(a.Principal, b.Principal),
		strings.Compare(a.Host, b.Host),
		cmp.Compare(a.Operation, b.Operation),
		cmp.Compare(a.Permission, b.Permission),
	)
}

// Len is the number of bindings.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.all)
}

// Bindings returns every binding, sorted; the caller must not modify it.
func (s *Set) Bindings() []Binding {
	if s == nil {
		return nil
	}
	return s.all
}

// Contains reports whether b is in the set.
func (s *Set) Contains(b Binding) bool {
	_, found := slices.BinarySearchFunc(s.Bindings(), b, Compare)
	return found
}

// Match returns the bindings f selects, sorted.
func (s *Set) Match(f Filter) []Binding {
	var out []Binding
	for _, b := range s.Bindings() {
		if f.Matches(b) {
			out = append(out, b)
		}
	}
	return out
}

// Request is one access to decide: Principal, connected from Host, wants
// to do Operation on the resource of ResourceType named Name.
type Request struct {
	Principal    string
	Host         string
	Operation    kmsg.ACLOperation
	ResourceType kmsg.ACLResourceType
	Name         string
}

// Authorize decides r by Kafka's rules: a DENY binding for the operation
// (or ALL) that applies to the principal and host refuses it; else an ALLOW
// binding for the operation, ALL, or an operation that implies it (READ,
// WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS implies
// DESCRIBE_CONFIGS) grants it. A binding applies to the resource when it
// names it literally, is the literal wildcard "*", or is a prefix of its
// name; to the principal when it names it or is "User:*"; to the host when
// it names it or is "*". When no binding at all applies to the resource,
// allowIfNone decides (Kafka's allow.everyone.if.no.acl.found). Super users
// are the caller's to let through.
func (s *Set) Authorize(r Request, allowIfNone bool) bool {
	var ix *typeIndex
	if s != nil {
		ix = s.byType[r.ResourceType]
	}
	if ix == nil {
		return allowIfNone
	}
	found, allowed := false, false
	check := func(bs []Binding) bool { // false: denied
		for i := range bs {
			b := &bs[i]
			found = true
			if !appliesTo(b, r.Principal, r.Host) {
				continue
			}
			if b.Permission == kmsg.ACLPermissionTypeDeny {
				if b.Operation == r.Operation || b.Operation == kmsg.ACLOperationAll {
					return false
				}
				continue
			}
			allowed = allowed || grants(b.Operation, r.Operation)
		}
		return true
	}
	if !check(ix.literal[r.Name]) {
		return false
	}
	if r.Name != Wildcard && !check(ix.literal[Wildcard]) {
		return false
	}
	for i := 1; i <= len(r.Name); i++ {
		if !check(ix.prefixed[r.Name[:i]]) {
			return false
		}
	}
	if !found {
		return allowIfNone
	}
	return allowed
}

// AuthorizeAny decides whether r's principal may do r's operation on some
// resource of r's type, whatever r.Name (Kafka's authorizeByResourceType,
// which InitProducerId uses for idempotent producers: WRITE on any topic).
// An ALLOW binding counts unless a DENY binding for the same principal and
// host covers everything it allows: the wildcard, the same literal name, or
// a prefix of its name. Before that, like Kafka, it decides a resource
// named "hardcode" the ordinary way (Authorize): with allowIfNone, a
// principal may act on some resource when that one has no bindings.
func (s *Set) AuthorizeAny(r Request, allowIfNone bool) bool {
	probe := r
	probe.Name = "hardcode"
	if s.Authorize(probe, allowIfNone) {
		return true
	}
	var ix *typeIndex
	if s != nil {
		ix = s.byType[r.ResourceType]
	}
	if ix == nil {
		return allowIfNone
	}
	var denies []Binding
	var allows []Binding
	for _, bs := range ix.literal {
		denies, allows = sortOut(bs, r, denies, allows)
	}
	for _, bs := range ix.prefixed {
		denies, allows = sortOut(bs, r, denies, allows)
	}
	for _, d := range denies {
		if d.PatternType == kmsg.ACLResourcePatternTypeLiteral && d.ResourceName == Wildcard {
			return false
		}
	}
	for _, a := range allows {
		if !coveredBy(a, denies) {
			return true
		}
	}
	return false
}

// sortOut adds the bindings of bs that apply to r's principal and host and
// concern r's operation to denies or allows.
func sortOut(bs []Binding, r Request, denies, allows []Binding) ([]Binding, []Binding) {
	for i := range bs {
		b := &bs[i]
		if !appliesTo(b, r.Principal, r.Host) {
			continue
		}
		switch {
		case b.Permission == kmsg.ACLPermissionTypeDeny && (b.Operation == r.Operation || b.Operation == kmsg.ACLOperationAll):
			denies = append(denies, *b)
		case b.Permission == kmsg.ACLPermissionTypeAllow && grants(b.Operation, r.Operation):
			allows = append(allows, *b)
		}
	}
	return denies, allows
}

// coveredBy reports whether a DENY of denies refuses everything a allows.
func coveredBy(a Binding, denies []Binding) bool {
	for _, d := range denies {
		switch {
		case d.PatternType == kmsg.ACLResourcePatternTypePrefixed && strings.HasPrefix(a.ResourceName, d.ResourceName):
			return true
		case d.PatternType == kmsg.ACLResourcePatternTypeLiteral && a.PatternType == kmsg.ACLResourcePatternTypeLiteral &&
			d.ResourceName == a.ResourceName:
			return true
		}
	}
	return false
}

func appliesTo(b *Binding, principal, host string) bool {
	return (b.Principal == principal || b.Principal == WildcardPrincipal && strings.HasPrefix(principal, "User:")) &&
		(b.Host == host || b.Host == Wildcard)
}

// grants reports whether an ALLOW of have allows want.
func grants(have, want kmsg.ACLOperation) bool {
	switch {
	case have == want || have == kmsg.ACLOperationAll:
		return true
	case want == kmsg.ACLOperationDescribe:
		return have == kmsg.ACLOperationRead || have == kmsg.ACLOperationWrite ||
			have == kmsg.ACLOperationDelete || have == kmsg.ACLOperationAlter
	case want == kmsg.ACLOperationDescribeConfigs:
		return have == kmsg.ACLOperationAlterConfigs
	}
	return false
}
