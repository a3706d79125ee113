package quota

import "fmt"

// WirePart is one component of an entity as Kafka's quota APIs carry it:
// an entity type and a name, nil for the default.
type WirePart struct {
	Type string
	Name *string
}

// CheckType reports why entities of type typ cannot hold quotas here.
func CheckType(typ string) error {
	switch typ {
	case TypeUser, TypeClientID:
		return nil
	case "ip":
		return fmt.Errorf("ip entities (connection_creation_rate) are not supported: only %s and %s entities are",
			TypeUser, TypeClientID)
	}
	return fmt.Errorf("entity type %q is not supported: only %s and %s entities are", typ, TypeUser, TypeClientID)
}

// ParseEntity turns an entity from the wire into a valid Entity.
func ParseEntity(parts []WirePart) (Entity, error) {
	var e Entity
	for _, p := range parts {
		if err := CheckType(p.Type); err != nil {
			return Entity{}, err
		}
		at := &e.User
		if p.Type == TypeClientID {
			at = &e.ClientID
		}
		if at.Kind != Absent {
			return Entity{}, fmt.Errorf("entity type %s appears twice in the entity", p.Type)
		}
		*at = DefaultPart
		if p.Name != nil {
			*at = Name(*p.Name)
		}
	}
	return e, e.Validate()
}

// Wire returns e's components on the wire: the user, then the client ID.
func (e Entity) Wire() []WirePart {
	var out []WirePart
	for _, p := range []struct {
		typ  string
		part Part
	}{{TypeUser, e.User}, {TypeClientID, e.ClientID}} {
		switch p.part.Kind {
		case Named:
			name := p.part.Name
			out = append(out, WirePart{p.typ, &name})
		case Default:
			out = append(out, WirePart{p.typ, nil})
		}
	}
	return out
}

// Filter returns the filter that selects the entities with e's parts (a
// named part exactly, a default part as the default); with strict, e
// alone.
func (e Entity) Filter(strict bool) Filter {
	f := Filter{Strict: strict}
	for _, p := range e.Wire() {
		c := Component{Type: p.Type, Match: MatchDefault}
		if p.Name != nil {
			c.Match, c.Name = MatchExact, *p.Name
		}
		f.Components = append(f.Components, c)
	}
	return f
}
