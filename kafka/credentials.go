package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// CredentialStore keeps the SCRAM credentials of users, the same on every
// broker (core/cluster: the meta shard). Mechanisms are named as in
// SaslHandshake (MechanismScramSHA256, MechanismScramSHA512).
type CredentialStore interface {
	// ScramCredential returns user's credential for mechanism.
	ScramCredential(user, mechanism string) (ScramCredential, bool)
	// ScramUsers returns every user with a credential: user → mechanism
	// → iterations.
	ScramUsers() map[string]map[string]int
	// SetScram adds or replaces user's credential for mechanism.
	SetScram(ctx context.Context, user, mechanism string, c ScramCredential) error
	// DeleteScram removes it; ErrNoSuchCredential if there is none.
	DeleteScram(ctx context.Context, user, mechanism string) error
}

// ErrNoSuchCredential is a deletion of a credential that does not exist.
var ErrNoSuchCredential = errors.New("no such SCRAM credential")

// Kafka's numbering of the SCRAM mechanisms in the credential APIs.
const (
	scramMechanismSHA256 int8 = 1
	scramMechanismSHA512 int8 = 2
)

// scramMechanismName names a mechanism of the credential APIs, "" for an
// unknown one.
func scramMechanismName(m int8) string {
	switch m {
	case scramMechanismSHA256:
		return MechanismScramSHA256
	case scramMechanismSHA512:
		return MechanismScramSHA512
	}
	return ""
}

// scramMechanismNumber is the inverse of scramMechanismName.
func scramMechanismNumber(name string) int8 {
	if name == MechanismScramSHA512 {
		return scramMechanismSHA512
	}
	return scramMechanismSHA256
}

// Iteration bounds of stored credentials, as Kafka's.
const (
	minScramIterations = 4096
	maxScramIterations = 16384
)

// mayManageCredentials reports whether r's principal may describe or alter
// (op) SCRAM credentials: with ACLs, op on the cluster, as in Kafka;
// without, only super users, since anyone authenticated could otherwise
// change anyone's password.
func (s *Server) mayManageCredentials(r *request, op kmsg.ACLOperation) bool {
	if s.aclsEnabled() {
		return s.authorizedCluster(r, op)
	}
	return s.superUser(r.principal)
}

// credentialsDenied says why mayManageCredentials refused r op.
func (s *Server) credentialsDenied(r *request, op kmsg.ACLOperation) string {
	verb := strings.ToLower(op.String())
	if s.aclsEnabled() {
		return fmt.Sprintf("%s may not %s SCRAM credentials: that needs %s on the cluster", r.principal, verb, op)
	}
	return fmt.Sprintf("%s is not in kafka.super-users, which alone may %s SCRAM credentials", r.principal, verb)
}
