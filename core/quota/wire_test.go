package quota

import (
	"strings"
	"testing"
)

// Entities go to the wire and back unchanged; what the wire may carry and
// an entity may not is refused with the reason.
func TestWireEntities(t *testing.T) {
	for _, e := range []Entity{
		{User: Name("alice")},
		{User: DefaultPart},
		{ClientID: Name("")},
		{User: Name("<default>"), ClientID: DefaultPart},
		{User: DefaultPart, ClientID: Name("etl")},
	} {
		got, err := ParseEntity(e.Wire())
		if err != nil || got != e {
			t.Errorf("%v: back from the wire as %v (%v)", e, got, err)
		}
		f := e.Filter(true)
		if !f.Matches(e) || len(f.Components) != len(e.Wire()) {
			t.Errorf("%v: its filter %+v does not select it", e, f)
		}
		if f.Matches(Entity{User: Name("someone-else"), ClientID: Name("x")}) {
			t.Errorf("%v: its strict filter selects another entity", e)
		}
	}
	name := "x"
	for _, tt := range []struct {
		parts []WirePart
		err   string
	}{
		{nil, "names a user, a client ID or both"},
		{[]WirePart{{Type: "ip", Name: &name}}, "ip entities (connection_creation_rate) are not supported"},
		{[]WirePart{{Type: "group"}}, `entity type "group" is not supported`},
		{[]WirePart{{Type: TypeUser}, {Type: TypeUser, Name: &name}}, "appears twice"},
	} {
		if _, err := ParseEntity(tt.parts); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%+v: %v, want %q", tt.parts, err, tt.err)
		}
	}
}
