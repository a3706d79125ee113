package kafka

// CreateDelegationToken, key 38: versions 0–3 (KIP-48, tokens.go).
//
//   - DELEGATION_TOKEN_AUTH_DISABLED without kafka.delegation-token-secret-key;
//     DELEGATION_TOKEN_REQUEST_NOT_ALLOWED on an unauthenticated
//     connection or one that authenticated with a token.
//   - The owner is the requester, or (v3, KIP-373) the principal named,
//     which needs CREATE_TOKENS on that user, the USER resource named by
//     its principal as kafka-acls.sh --user-principal User:bob makes it (else
//     DELEGATION_TOKEN_AUTHORIZATION_FAILED). Owners and renewers are
//     users (else INVALID_PRINCIPAL_TYPE).
//   - The token lasts Tokens.Expiry (kafka.delegation-token-expiry-time)
//     and at most MaxLifetimeMillis or Tokens.MaxLifetime, whichever is
//     less; the answer carries its ID and HMAC (the SCRAM user and
//     password, base64).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const keyCreateDelegationToken int16 = 38

func handleCreateDelegationToken(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.CreateDelegationTokenRequest)
	resp := req.ResponseKind().(*kmsg.CreateDelegationTokenResponse)
	toks, code := s.tokensFor(r)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	owner := r.principal
	if req.OwnerPrincipalName != nil && *req.OwnerPrincipalName != "" {
		typ := "User"
		if req.OwnerPrincipalType != nil {
			typ = *req.OwnerPrincipalType
		}
		p, ok := userPrincipal(typ, *req.OwnerPrincipalName)
		if !ok {
			resp.ErrorCode = kerr.InvalidPrincipalType.Code
			return resp
		}
		// USER resources are named by principal (Kafka's owner.toString).
		if p != r.principal && !s.authorized(r, kmsg.ACLOperationCreateTokens, kmsg.ACLResourceTypeUser, p) {
			resp.ErrorCode = kerr.DelegationTokenAuthorizationFailed.Code
			return resp
		}
		owner = p
	}
	var renewers []string
	for _, rn := range req.Renewers {
		p, ok := userPrincipal(rn.PrincipalType, rn.PrincipalName)
		if !ok {
			resp.ErrorCode = kerr.InvalidPrincipalType.Code
			return resp
		}
		renewers = append(renewers, p)
	}
	id, err := newTokenID()
	if err != nil {
		resp.ErrorCode = s.errCode("CreateDelegationToken", err)
		return resp
	}
	now := nowMillis()
	life := toks.MaxLifetime.Milliseconds()
	if req.MaxLifetimeMillis > 0 {
		life = min(life, req.MaxLifetimeMillis)
	}
	tok := DelegationToken{
		ID: id, Owner: owner, Requester: r.principal, Renewers: renewers,
		Issued: now, MaxLifetime: now + life, Expires: min(now+toks.Expiry.Milliseconds(), now+life),
	}
	if err := toks.Store.CreateToken(ctx, tok); err != nil {
		resp.ErrorCode = s.errCode("CreateDelegationToken", err)
		return resp
	}
	resp.PrincipalType, resp.PrincipalName = splitPrincipal(tok.Owner)
	resp.TokenRequesterPrincipalType, resp.TokenRequesterPrincipalName = splitPrincipal(tok.Requester)
	resp.IssueTimestamp, resp.ExpiryTimestamp, resp.MaxTimestamp = tok.Issued, tok.Expires, tok.MaxLifetime
	resp.TokenID, resp.HMAC = tok.ID, toks.HMAC(tok.ID)
	return resp
}
