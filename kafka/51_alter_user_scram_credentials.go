package kafka

// AlterUserScramCredentials, key 51: version 0 (KIP-554).
//
//   - Only a principal of Config.SuperUsers (kafka.super-users) may alter:
//     anyone else gets CLUSTER_AUTHORIZATION_FAILED for every user (Kafka
//     checks ALTER on the cluster; there are no ACLs yet).
//   - An upsertion carries the salted password (Hi(password, salt, i));
//     the broker keeps its stored and server keys (RFC 5802), committed to
//     the cluster's credential store, so every broker authenticates the
//     user at once. SCRAM-SHA-256 is 1, SCRAM-SHA-512 is 2; anything else
//     is UNSUPPORTED_SASL_MECHANISM. Iterations outside 4096–16384, an
//     empty name, salt or salted password are UNACCEPTABLE_CREDENTIAL.
//   - A user named more than once in the request (deletions and
//     upsertions together) is DUPLICATE_RESOURCE and nothing of it
//     changes; deleting a credential that does not exist is
//     RESOURCE_NOT_FOUND. One result per user, in request order.

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const keyAlterUserScramCredentials int16 = 51

func handleAlterUserScramCredentials(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	var order []string
	count := map[string]int{}
	for _, d := range req.Deletions {
		if count[d.Name] == 0 {
			order = append(order, d.Name)
		}
		count[d.Name]++
	}
	for _, u := range req.Upsertions {
		if count[u.Name] == 0 {
			order = append(order, u.Name)
		}
		count[u.Name]++
	}
	errs := map[string]error{}
	fail := func(user string, err error) {
		if errs[user] == nil {
			errs[user] = err
		}
	}
	switch {
	case s.cfg.Credentials == nil:
		for _, user := range order {
			fail(user, fmt.Errorf("%w: this broker keeps no SCRAM credentials", kerr.UnknownServerError))
		}
	case !s.superUser(r.principal):
		for _, user := range order {
			fail(user, fmt.Errorf("%w: %s is not in kafka.super-users, which alone may alter SCRAM credentials", kerr.ClusterAuthorizationFailed, r.principal))
		}
	}
	for user, n := range count {
		if n > 1 {
			fail(user, fmt.Errorf("%w: a user's credentials can be altered once per request", kerr.DuplicateResource))
		}
	}
	for _, d := range req.Deletions {
		mech := scramMechanismName(d.Mechanism)
		switch {
		case errs[d.Name] != nil:
		case d.Name == "":
			fail(d.Name, fmt.Errorf("%w: the user name is empty", kerr.UnacceptableCredential))
		case mech == "":
			fail(d.Name, fmt.Errorf("%w: mechanism %d (1 is SCRAM-SHA-256, 2 SCRAM-SHA-512)", kerr.UnsupportedSaslMechanism, d.Mechanism))
		default:
			if err := s.cfg.Credentials.DeleteScram(ctx, d.Name, mech); errors.Is(err, ErrNoSuchCredential) {
				fail(d.Name, fmt.Errorf("%w: user %s has no %s credential", kerr.ResourceNotFound, d.Name, mech))
			} else if err != nil {
				fail(d.Name, err)
			}
		}
	}
	for _, u := range req.Upsertions {
		mech := scramMechanismName(u.Mechanism)
		switch {
		case errs[u.Name] != nil:
		case u.Name == "":
			fail(u.Name, fmt.Errorf("%w: the user name is empty", kerr.UnacceptableCredential))
		case mech == "":
			fail(u.Name, fmt.Errorf("%w: mechanism %d (1 is SCRAM-SHA-256, 2 SCRAM-SHA-512)", kerr.UnsupportedSaslMechanism, u.Mechanism))
		case u.Iterations < minScramIterations || u.Iterations > maxScramIterations:
			fail(u.Name, fmt.Errorf("%w: %d iterations; give %d to %d", kerr.UnacceptableCredential, u.Iterations, minScramIterations, maxScramIterations))
		case len(u.Salt) == 0 || len(u.SaltedPassword) == 0:
			fail(u.Name, fmt.Errorf("%w: empty salt or salted password", kerr.UnacceptableCredential))
		default:
			c := credentialFromSalted(scramHash(mech), u.SaltedPassword, bytes.Clone(u.Salt), int(u.Iterations))
			if err := s.cfg.Credentials.SetScram(ctx, u.Name, mech, c); err != nil {
				fail(u.Name, err)
			}
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
