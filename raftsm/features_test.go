package raftsm

import (
	"maps"
	"testing"
)

// TestFeatureLevels: a set level is published with an epoch that counts
// the changes (setting the level a feature has changes nothing), survives a
// reopen and travels in snapshots; malformed commands change nothing.
func TestFeatureLevels(t *testing.T) {
	m, st := openMetaForACLs(t, "state")
	if f := m.View().Features; len(f.Levels) != 0 || f.Epoch != 0 {
		t.Fatalf("initial features %+v", f)
	}
	update := applier(t, &m)
	bad := EncodeSetFeature("transaction.version", 2)
	res := update(
		EncodeSetFeature("transaction.version", 2),
		EncodeSetFeature("transaction.version", 2),
		EncodeSetFeature("other", 1),
		EncodeSetFeature("transaction.version", 0),
		EncodeSetFeature("", 1),
		EncodeSetFeature("x", -1),
		bad[:len(bad)-1],
	)
	for i, want := range []Status{StatusOK, StatusOK, StatusOK, StatusOK, StatusMalformed, StatusMalformed, StatusMalformed} {
		if st := ResultStatus(res[i].Data); st != want {
			t.Fatalf("command %d: %s, want %s", i, st, want)
		}
	}
	if res[1].Value != 1 || res[3].Value != 3 {
		t.Fatalf("epochs %d %d, want 1 (unchanged) and 3", res[1].Value, res[3].Value)
	}
	want := FeatureLevels{Levels: map[string]int16{"transaction.version": 0, "other": 1}, Epoch: 3}
	same := func(name string, got FeatureLevels) {
		t.Helper()
		if !maps.Equal(got.Levels, want.Levels) || got.Epoch != want.Epoch {
			t.Fatalf("%s: %+v, want %+v", name, got, want)
		}
	}
	same("applied", m.View().Features)
	re := NewMeta(st, nil)
	if _, err := re.Open(nil); err != nil {
		t.Fatal(err)
	}
	same("reopened", re.View().Features)
	buf := snapshotOf(t, m)
	other, _ := openMetaForACLs(t, "other")
	applier(t, &other)(EncodeSetFeature("stale", 2))
	if err := other.RecoverFromSnapshot(buf, nil); err != nil {
		t.Fatal(err)
	}
	same("recovered", other.View().Features)
}
