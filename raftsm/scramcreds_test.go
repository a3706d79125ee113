package raftsm

import (
	"bytes"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestScramCredentials(t *testing.T) {
	fs := vfs.NewMem()
	st, err := openStore("state", fs)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMeta(st, nil)
	if _, err := m.Open(nil); err != nil {
		t.Fatal(err)
	}
	update := applier(t, &m)
	alice := ScramCredential{User: "alice", Mechanism: ScramSHA512, Iterations: 4096, Salt: []byte("salt"), StoredKey: []byte("stored"), ServerKey: []byte("server")}
	bad := alice
	bad.Iterations = 0
	res := update(EncodeSetScram(alice), EncodeSetScram(bad), EncodeDeleteScram("bob", ScramSHA256), []byte{commandVersion, cmdSetScram, 9})
	for i, want := range []Status{StatusOK, StatusMalformed, StatusUnknownScram, StatusMalformed} {
		if got := ResultStatus(res[i].Data); got != want {
			t.Errorf("command %d: %v, want %v", i, got, want)
		}
	}
	got, ok := m.View().Scram["alice"][ScramSHA512]
	if !ok || got.Iterations != 4096 || !bytes.Equal(got.StoredKey, alice.StoredKey) || !bytes.Equal(got.Salt, alice.Salt) {
		t.Fatalf("view after set: %+v", m.View().Scram)
	}
	// A second mechanism and a replacement; then reopen from the store.
	alice256 := alice
	alice256.Mechanism, alice256.ServerKey = ScramSHA256, []byte("server256")
	alice.Iterations = 8192
	update(EncodeSetScram(alice256), EncodeSetScram(alice))
	reopened := NewMeta(st, nil)
	if _, err := reopened.Open(nil); err != nil {
		t.Fatal(err)
	}
	v := reopened.View().Scram["alice"]
	if len(v) != 2 || v[ScramSHA512].Iterations != 8192 || !bytes.Equal(v[ScramSHA256].ServerKey, []byte("server256")) {
		t.Fatalf("reopened: %+v", v)
	}
	if s := ResultStatus(update(EncodeDeleteScram("alice", ScramSHA512))[0].Data); s != StatusOK {
		t.Fatalf("delete: %v", s)
	}
	if v := m.View().Scram["alice"]; len(v) != 1 || v[ScramSHA256].Iterations != 4096 {
		t.Fatalf("after delete: %+v", v)
	}
	// The credentials travel in the meta shard's snapshots.
	buf := snapshotOf(t, m)
	other, err := openStore("other", vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	restored := NewMeta(other, nil)
	if _, err := restored.Open(nil); err != nil {
		t.Fatal(err)
	}
	if err := restored.RecoverFromSnapshot(buf, nil); err != nil {
		t.Fatal(err)
	}
	if v := restored.View().Scram["alice"]; len(v) != 1 || !bytes.Equal(v[ScramSHA256].StoredKey, []byte("stored")) {
		t.Fatalf("recovered from a snapshot: %+v", restored.View().Scram)
	}
}
