package kafka

// ExpireDelegationToken, key 40: versions 0–2 (KIP-48, tokens.go).
//
//   - Checks as RenewDelegationToken's. A negative ExpiryPeriodMillis ends
//     the token now (it is removed); otherwise it expires at now + the
//     period, never past its maximum lifetime. Expired tokens are removed
//     by the broker leading the meta shard.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const keyExpireDelegationToken int16 = 40

func handleExpireDelegationToken(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.ExpireDelegationTokenRequest)
	resp := req.ResponseKind().(*kmsg.ExpireDelegationTokenResponse)
	toks, tok, code := s.tokenToChange(r, req.HMAC)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	now := nowMillis()
	if req.ExpiryPeriodMillis < 0 {
		// Gone already (a retried proposal, or removed meanwhile) is ended.
		if err := toks.Store.DeleteToken(ctx, tok.ID); err != nil && !errors.Is(err, ErrNoSuchToken) {
			resp.ErrorCode = tokenErrCode(s, "ExpireDelegationToken", err)
			return resp
		}
		resp.ExpiryTimestamp = now
		return resp
	}
	expires := min(now+req.ExpiryPeriodMillis, tok.MaxLifetime)
	if err := toks.Store.RenewToken(ctx, tok.ID, expires); err != nil {
		resp.ErrorCode = tokenErrCode(s, "ExpireDelegationToken", err)
		return resp
	}
	resp.ExpiryTimestamp = expires
	return resp
}
