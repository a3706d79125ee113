//go:build e2e

package compat

// The "denied" step: the broker runs with ACLs on (brokerConfig), and each
// client produces one record to a topic an ACL denies it WRITE on. The client
// must return an error that says so, promptly: one that reports success,
// fails for another reason or retries until the step's deadline fails the
// step. The other steps run on topics no ACL names, which
// allow-everyone-if-no-acl-found leaves open, so they show that turning ACLs
// on breaks no client.

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
)

const (
	deniedPrefix  = "denied-" // the topics the ACLs deny writes on: deniedPrefix + row ID
	deniedTimeout = 30 * time.Second
	deniedErrLen  = 120 // runes of the client's error kept for docs/clients.md
)

// denyWrites creates, as the harness (User:ANONYMOUS, like every client),
// the ACLs of the denied step: DENY every principal WRITE on the topics
// named deniedPrefix…, and ALLOW them DESCRIBE there. Without the ALLOW,
// DESCRIBE on those topics would be refused too (an ACL now applies to
// them, so allow-everyone-if-no-acl-found no longer does) and clients would
// fail at Metadata instead of at Produce. CreateAcls needs ALTER on the
// cluster, which no ACL names: allowed to everyone.
func (a *admin) denyWrites(ctx context.Context) error {
	deny := kadm.NewACLs().Deny("User:*").DenyHosts("*").
		Topics(deniedPrefix).ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpWrite)
	allow := kadm.NewACLs().Allow("User:*").AllowHosts("*").
		Topics(deniedPrefix).ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpDescribe)
	for _, b := range []*kadm.ACLBuilder{deny, allow} {
		res, err := a.adm.CreateACLs(ctx, b)
		if err != nil {
			return err
		}
		for _, r := range res {
			if r.Err != nil {
				return fmt.Errorf("%s %s %s on %s %q: %w (%s)", r.Permission, r.Principal, r.Operation, r.Pattern, r.Name, r.Err, r.ErrMessage)
			}
		}
	}
	return nil
}

// deniedStep runs the denied step of row r with driver d; the ACLs are in
// place (denyWrites). It returns the cell, and stores the client's error,
// shortened, in res.deniedErr.
func deniedStep(t *testing.T, adm *admin, d driver, r row, res *result) string {
	topic := deniedPrefix + r.id
	ctx, cancel := context.WithTimeout(context.Background(), deniedTimeout)
	defer cancel()
	// CREATE falls to the cluster resource, which no ACL names.
	if err := adm.createTopic(ctx, topic, partitions); err != nil {
		t.Fatalf("create topic %s with kadm: %v", topic, err)
	}
	adm.waitPartitions(t, topic, partitions)

	start := time.Now()
	err := d.produce(ctx, topic, 0, 1, r.codecs[0])
	took := time.Since(start)
	// The Node scripts give up nodeGrace before ctx ends, with an error
	// of their own: that is a timeout as much as ctx ending.
	hung := ctx.Err() != nil || took >= deniedTimeout-nodeGrace
	switch {
	case err == nil:
		t.Errorf("produce to %s reported success after %s, want an authorization error", topic, took)
	case hung:
		t.Errorf("produce to %s did not fail within %s: %v", topic, deniedTimeout-nodeGrace, err)
	}
	// Whatever the client said, nothing may have been written.
	adm.endOffsets(t, topic, 0)
	if t.Failed() {
		t.FailNow()
	}
	msg, ok := authzError(err)
	if !ok {
		t.Fatalf("produce to %s failed after %s, but not with an authorization error: %v", topic, took, err)
	}
	t.Logf("refused after %s: %s", took.Round(time.Millisecond), msg)
	res.deniedErr = msg
	return "yes"
}

// logPrefix is what librdkafka (kcat) puts before a log line: "%3|<unix
// time>|TAG|client| ".
var logPrefix = regexp.MustCompile(`^%\d+\|[\d.]+\|`)

func mentionsAuthz(s string) bool { return strings.Contains(strings.ToLower(s), "authoriz") }

// authzError returns the first line that mentions authorization of the
// client's error (clientError).
func authzError(err error) (string, bool) { return clientError(err, mentionsAuthz) }

// clientError returns the first line that match accepts of the innermost
// error in err's tree that match still accepts (the client's own error,
// without the driver's context), shortened to deniedErrLen runes and without
// the parts that change from run to run, and whether there is one.
func clientError(err error, match func(string) bool) (string, bool) {
	for err != nil {
		var next error
		switch u := err.(type) { //nolint:errorlint // walks the tree one level at a time: errors.As would skip levels
		case interface{ Unwrap() error }:
			if e := u.Unwrap(); e != nil && match(e.Error()) {
				next = e
			}
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if e != nil && match(e.Error()) {
					next = e
					break
				}
			}
		}
		if next == nil {
			break
		}
		err = next
	}
	if err == nil {
		return "", false
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if !match(line) {
			continue
		}
		line = logPrefix.ReplaceAllString(line, "%|")
		if utf8.RuneCountInString(line) > deniedErrLen {
			line = string([]rune(line)[:deniedErrLen-1]) + "…"
		}
		return line, true
	}
	return "", false
}
