package kerberos

import (
	"strings"
	"testing"
)

// Kafka's and Hadoop's rule semantics, on the principals operators map.
func TestRules(t *testing.T) {
	rules, err := ParseRules([]string{
		`RULE:[1:$1@$0](.*@CORP\.EXAMPLE\.COM)s/@.*//L`, // users of a second realm, in lower case
		`RULE:[2:$1@$0](etl@.*)s/.*/svc-etl/`,           // any etl/<host> becomes one user
		`RULE:[2:$2-$1](.*)s/\./-/g/U`,                  // every dot, then upper case
		"DEFAULT",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		principal, realm, want, wantErr string
	}{
		{"ALICE", "CORP.EXAMPLE.COM", "alice", ""},
		{"etl/host1.example.com", "EXAMPLE.COM", "svc-etl", ""},
		{"kafka/b1.example.com", "OTHER.COM", "B1-EXAMPLE-COM-KAFKA", ""},
		{"bob", "EXAMPLE.COM", "bob", ""},                                  // DEFAULT, the broker's realm
		{"bob", "ELSEWHERE.COM", "", "no principal-to-local rule maps it"}, // DEFAULT is for the broker's realm only
	} {
		got, err := rules.ShortName(strings.Split(tc.principal, "/"), tc.realm, "EXAMPLE.COM")
		if got != tc.want || (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s@%s: %q, %v; want %q, %q", tc.principal, tc.realm, got, err, tc.want, tc.wantErr)
		}
	}
	// Only the first match is replaced without g.
	first, _ := ParseRules([]string{`RULE:[1:$1](a.*)s/a/A/`})
	if got, err := first.ShortName([]string{"banana"}, "R", "R"); err == nil {
		t.Errorf("banana matched a rule for names starting with a: %q", got)
	}
	if got, _ := first.ShortName([]string{"abba"}, "R", "R"); got != "Abba" {
		t.Errorf("abba: %q, want Abba", got)
	}
	// A result that is not a simple name is refused.
	keep, _ := ParseRules([]string{`RULE:[1:$1@$0]`})
	if _, err := keep.ShortName([]string{"alice"}, "R", "R"); err == nil || !strings.Contains(err.Error(), "not a simple name") {
		t.Errorf("alice@R kept whole: %v", err)
	}
	// No rules is DEFAULT.
	if got, err := Rules(nil).ShortName([]string{"alice", "admin"}, "R", "R"); got != "alice" || err != nil {
		t.Errorf("no rules: %q, %v", got, err)
	}
}

func TestParseRulesRefusesWhatDoesNotParse(t *testing.T) {
	for rule, want := range map[string]string{
		"RULE:[1:$1](":         "not DEFAULT nor RULE",
		"RULE:[0:$1]":          "give 1 or more",
		"RULE:[1:$2]":          "$2, but the rule is for 1 components",
		"RULE:[1:$x]":          "'$' without a number",
		"RULE:[1:$1]([a-)":     "error parsing regexp",
		"RULE:[1:$1](.*)s/(//": "missing closing )",
		"DEFAULT_REALM_ONLY":   "not DEFAULT nor RULE",
		`RULE:[1:$1]s/x/y/g/Q`: "not DEFAULT nor RULE",
	} {
		if _, err := ParseRules([]string{rule}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", rule, err, want)
		}
	}
}
