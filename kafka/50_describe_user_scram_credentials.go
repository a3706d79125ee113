package kafka

// DescribeUserScramCredentials, key 50: version 0 (KIP-554).
//
//   - With ACLs (authz.go), DESCRIBE on the cluster is needed, as in Kafka;
//     without, only a principal of Config.SuperUsers (kafka.super-users)
//     may describe. Anyone else gets CLUSTER_AUTHORIZATION_FAILED.
//   - Users null lists every user with a stored credential; a named user
//     without one is RESOURCE_NOT_FOUND, a name given twice
//     DUPLICATE_RESOURCE. Each result lists the mechanisms and their
//     iterations, never the salt or keys.

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const keyDescribeUserScramCredentials int16 = 50

func handleDescribeUserScramCredentials(_ context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	switch {
	case s.cfg.Credentials == nil:
		resp.ErrorCode, resp.ErrorMessage = kerr.UnknownServerError.Code, kmsg.StringPtr("this broker keeps no SCRAM credentials")
		return resp
	case !s.mayManageCredentials(r, kmsg.ACLOperationDescribe):
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr(s.credentialsDenied(r, kmsg.ACLOperationDescribe))
		return resp
	}
	users := s.cfg.Credentials.ScramUsers()
	result := func(name string) kmsg.DescribeUserSCRAMCredentialsResponseResult {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = name
		mechs, ok := users[name]
		if !ok {
			res.ErrorCode = kerr.ResourceNotFound.Code
			res.ErrorMessage = kmsg.StringPtr("user " + name + " has no SCRAM credential")
			return res
		}
		for mech, iterations := range mechs {
			info := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
			info.Mechanism, info.Iterations = scramMechanismNumber(mech), int32(iterations)
			res.CredentialInfos = append(res.CredentialInfos, info)
		}
		sort.Slice(res.CredentialInfos, func(i, j int) bool {
			return res.CredentialInfos[i].Mechanism < res.CredentialInfos[j].Mechanism
		})
		return res
	}
	if req.Users == nil {
		names := make([]string, 0, len(users))
		for name := range users {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			resp.Results = append(resp.Results, result(name))
		}
		return resp
	}
	count := map[string]int{}
	for _, u := range req.Users {
		count[u.Name]++
	}
	for _, u := range req.Users {
		switch n := count[u.Name]; {
		case n > 1:
			res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
			res.User, res.ErrorCode = u.Name, kerr.DuplicateResource.Code
			res.ErrorMessage = kmsg.StringPtr("user " + u.Name + " named more than once")
			resp.Results = append(resp.Results, res)
			count[u.Name] = -1 // one result per name
		case n == 1:
			resp.Results = append(resp.Results, result(u.Name))
		}
	}
	return resp
}
