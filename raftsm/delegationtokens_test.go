package raftsm

import (
	"slices"
	"testing"
)

func TestDelegationTokens(t *testing.T) {
	m, st := openMetaForACLs(t, "state")
	update := applier(t, &m)
	tok := DelegationToken{
		ID: "tok1", Owner: "User:alice", Requester: "User:alice", Renewers: []string{"User:etl", "User:spark"},
		Issued: 1000, Expires: 5000, MaxLifetime: 9000,
	}
	bad := tok
	bad.ID, bad.Expires = "tok2", bad.MaxLifetime+1
	other := tok
	other.Owner = "User:mallory"
	res := update(EncodeCreateToken(tok), EncodeCreateToken(tok), EncodeCreateToken(other), EncodeCreateToken(bad),
		EncodeRenewToken("nope", 1), EncodeDeleteToken("nope"), []byte{commandVersion, cmdCreateToken, 9})
	// The same creation again (a retried proposal) is fine; another token
	// with the ID is not.
	for i, want := range []Status{StatusOK, StatusOK, StatusDuplicateToken, StatusMalformed, StatusUnknownToken, StatusUnknownToken, StatusMalformed} {
		if got := ResultStatus(res[i].Data); got != want {
			t.Errorf("command %d: %v, want %v", i, got, want)
		}
	}
	got, ok := m.View().Tokens["tok1"]
	if !ok || got.Owner != "User:alice" || !slices.Equal(got.Renewers, tok.Renewers) || got.Expires != 5000 {
		t.Fatalf("view after create: %+v", m.View().Tokens)
	}
	// A renewal never moves the expiry past the maximum lifetime.
	update(EncodeRenewToken("tok1", 20000))
	if got := m.View().Tokens["tok1"]; got.Expires != 9000 {
		t.Fatalf("renewed past the maximum: expires %d, want 9000", got.Expires)
	}
	update(EncodeRenewToken("tok1", 7000))
	reopened := NewMeta(st, nil)
	if _, err := reopened.Open(nil); err != nil {
		t.Fatal(err)
	}
	if got := reopened.View().Tokens["tok1"]; got.Expires != 7000 || got.Issued != 1000 || len(got.Renewers) != 2 {
		t.Fatalf("reopened: %+v", got)
	}
	// Tokens travel in the meta shard's snapshots.
	buf := snapshotOf(t, m)
	restored, _ := openMetaForACLs(t, "other")
	stale := tok
	stale.ID = "stale"
	applier(t, &restored)(EncodeCreateToken(stale))
	if err := restored.RecoverFromSnapshot(buf, nil); err != nil {
		t.Fatal(err)
	}
	if got := restored.View().Tokens; len(got) != 1 || got["tok1"].Expires != 7000 || got["tok1"].Owner != "User:alice" {
		t.Fatalf("recovered from a snapshot: %+v", got)
	}
	if s := ResultStatus(update(EncodeDeleteToken("tok1"))[0].Data); s != StatusOK {
		t.Fatalf("delete: %v", s)
	}
	if len(m.View().Tokens) != 0 {
		t.Fatalf("after delete: %+v", m.View().Tokens)
	}
}
