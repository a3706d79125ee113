package kafka

// DescribeDelegationToken, key 41: versions 0–3 (KIP-48, tokens.go).
//
//   - Checks as CreateDelegationToken's first. Owners null lists every
//     token the principal may see, else those of the owners named: its
//     own, those it requested or may renew, and with ACLs those of users
//     it has DESCRIBE_TOKENS on (the USER resource named by the owner's
//     principal; without ACLs, every token, as in Kafka).
//     Each comes with its HMAC.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const keyDescribeDelegationToken int16 = 41

func handleDescribeDelegationToken(_ context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.DescribeDelegationTokenRequest)
	resp := req.ResponseKind().(*kmsg.DescribeDelegationTokenResponse)
	toks, code := s.tokensFor(r)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	var owners []string
	for _, o := range req.Owners {
		owners = append(owners, o.PrincipalType+":"+o.PrincipalName)
	}
	for _, tok := range toks.Store.Tokens() {
		if req.Owners != nil && !slices.Contains(owners, tok.Owner) {
			continue
		}
		if !tok.ownerOrRenewer(r.principal) && tok.Requester != r.principal &&
			!s.authorized(r, kmsg.ACLOperationDescribeTokens, kmsg.ACLResourceTypeUser, tok.Owner) {
			continue
		}
		d := kmsg.NewDescribeDelegationTokenResponseTokenDetail()
		d.PrincipalType, d.PrincipalName = splitPrincipal(tok.Owner)
		d.TokenRequesterPrincipalType, d.TokenRequesterPrincipalName = splitPrincipal(tok.Requester)
		d.IssueTimestamp, d.ExpiryTimestamp, d.MaxTimestamp = tok.Issued, tok.Expires, tok.MaxLifetime
		d.TokenID, d.HMAC = tok.ID, toks.HMAC(tok.ID)
		for _, p := range tok.Renewers {
			rn := kmsg.NewDescribeDelegationTokenResponseTokenDetailRenewer()
			rn.PrincipalType, rn.PrincipalName = splitPrincipal(p)
			d.Renewers = append(d.Renewers, rn)
		}
		resp.TokenDetails = append(resp.TokenDetails, d)
	}
	return resp
}
