package kafka

// AlterUserScramCredentials, key 51: version 0 (KIP-554).
//
//   - With ACLs (authz.go), ALTER on the cluster is needed, as in Kafka;
//     without, only a principal of Config.SuperUsers (kafka.super-users)
//     may alter. Anyone else gets CLUSTER_AUTHORIZATION_FAILED for every
//     user.
//   - An upsertion carries the salted password (Hi(password, salt, i));
//     the broker keeps its stored and server keys (RFC 5802), committed to
//     the cluster's credential store, so every broker authenticates the
//     user at once. SCRAM-SHA-256 is 1, SCRAM-SHA-512 is 2; anything else
//     is UNSUPPORTED_SASL_MECHANISM. Iterations outside 4096–16384, an
//     empty name, salt or salted password are UNACCEPTABLE_CREDENTIAL.
//   - Everything is checked before anything changes, and a user with an
//     error in any of its alterations has none of them applied: the same
//     user and mechanism twice in the request (deletions and upsertions
//     together) is DUPLICATE_RESOURCE, deleting a credential that does not
//     exist RESOURCE_NOT_FOUND. One result per user, in request order.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const keyAlterUserScramCredentials int16 = 51

func handleAlterUserScramCredentials(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	type op struct {
		user, mech string
		upsert     *kmsg.AlterUserSCRAMCredentialsRequestUpsertion // nil: a deletion
	}
	var ops []op
	for _, d := range req.Deletions {
		ops = append(ops, op{user: d.Name, mech: scramMechanismName(d.Mechanism)})
	}
	for i := range req.Upsertions {
		u := &req.Upsertions[i]
		ops = append(ops, op{user: u.Name, mech: scramMechanismName(u.Mechanism), upsert: u})
	}
	var order []string
	errs := map[string]error{}
	fail := func(user string, err error) {
		if errs[user] == nil {
			errs[user] = err
		}
	}
	seen := map[[2]string]int{}
	for _, o := range ops {
		if !slices.Contains(order, o.user) {
			order = append(order, o.user)
		}
		seen[[2]string{o.user, o.mech}]++
	}
	for _, o := range ops {
		switch {
		case s.cfg.Credentials == nil:
			fail(o.user, fmt.Errorf("%w: this broker keeps no SCRAM credentials", kerr.UnknownServerError))
		case !s.mayManageCredentials(r, kmsg.ACLOperationAlter):
			fail(o.user, fmt.Errorf("%w: %s", kerr.ClusterAuthorizationFailed, s.credentialsDenied(r, kmsg.ACLOperationAlter)))
		case o.user == "":
			fail(o.user, fmt.Errorf("%w: the user name is empty", kerr.UnacceptableCredential))
		case o.mech == "":
			fail(o.user, fmt.Errorf("%w: unknown mechanism (1 is SCRAM-SHA-256, 2 SCRAM-SHA-512)", kerr.UnsupportedSaslMechanism))
		case seen[[2]string{o.user, o.mech}] > 1:
			fail(o.user, fmt.Errorf("%w: user %s's %s credential is altered twice in one request", kerr.DuplicateResource, o.user, o.mech))
		case o.upsert == nil:
			if _, ok := s.cfg.Credentials.ScramCredential(o.user, o.mech); !ok {
				fail(o.user, fmt.Errorf("%w: user %s has no %s credential", kerr.ResourceNotFound, o.user, o.mech))
			}
		case o.upsert.Iterations < minScramIterations || o.upsert.Iterations > maxScramIterations:
			fail(o.user, fmt.Errorf("%w: %d iterations; give %d to %d", kerr.UnacceptableCredential, o.upsert.Iterations, minScramIterations, maxScramIterations))
		case len(o.upsert.Salt) == 0 || len(o.upsert.SaltedPassword) == 0:
			fail(o.user, fmt.Errorf("%w: empty salt or salted password", kerr.UnacceptableCredential))
		}
	}
	for _, o := range ops {
		if errs[o.user] != nil {
			continue
		}
		var err error
		if o.upsert == nil {
			err = s.cfg.Credentials.DeleteScram(ctx, o.user, o.mech)
			if errors.Is(err, ErrNoSuchCredential) { // deleted meanwhile
				err = fmt.Errorf("%w: user %s has no %s credential", kerr.ResourceNotFound, o.user, o.mech)
			}
		} else {
			u := o.upsert
			c := credentialFromSalted(scramHash(o.mech), u.SaltedPassword, bytes.Clone(u.Salt), int(u.Iterations))
			err = s.cfg.Credentials.SetScram(ctx, o.user, o.mech, c)
		}
		if err != nil {
			fail(o.user, err)
		}
	}
	for _, user := range order {
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User = user
		if err := errs[user]; err != nil {
			res.ErrorCode, res.ErrorMessage = s.credentialErrCode(err), kmsg.StringPtr(err.Error())
		}
		resp.Results = append(resp.Results, res)
	}
	return resp
}

// credentialErrCode is the code of a Kafka error the handler wrapped, else
// the backend error's.
func (s *Server) credentialErrCode(err error) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return s.errCode("AlterUserScramCredentials", err)
}
