package kafka

// RenewDelegationToken, key 39: versions 0–2 (KIP-48, tokens.go).
//
//   - Names the token by its HMAC (DELEGATION_TOKEN_NOT_FOUND);
//     only its owner or a renewer may renew it
//     (DELEGATION_TOKEN_OWNER_MISMATCH), and not once it has expired
//     (DELEGATION_TOKEN_EXPIRED). Checks as CreateDelegationToken's first.
//   - The new expiry is now + RenewTimeMillis (kafka.delegation-token-
//     expiry-time when negative), never past the token's maximum lifetime.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const keyRenewDelegationToken int16 = 39

func handleRenewDelegationToken(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.RenewDelegationTokenRequest)
	resp := req.ResponseKind().(*kmsg.RenewDelegationTokenResponse)
	toks, tok, code := s.tokenToChange(r, req.HMAC)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	period := req.RenewTimeMillis
	if period < 0 {
		period = toks.Expiry.Milliseconds()
	}
	expires := min(nowMillis()+period, tok.MaxLifetime)
	if err := toks.Store.RenewToken(ctx, tok.ID, expires); err != nil {
		resp.ErrorCode = tokenErrCode(s, "RenewDelegationToken", err)
		return resp
	}
	resp.ExpiryTimestamp = expires
	return resp
}

// tokenErrCode maps a TokenStore error: a token removed meanwhile is
// DELEGATION_TOKEN_NOT_FOUND.
func tokenErrCode(s *Server, api string, err error) int16 {
	if errors.Is(err, ErrNoSuchToken) {
		return kerr.DelegationTokenNotFound.Code
	}
	return s.errCode(api, err)
}
