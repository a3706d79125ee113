package opsctl

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Delegation tokens (`chronik token …`, as kafka-delegation-tokens.sh):
// the brokers' CreateDelegationToken, RenewDelegationToken,
// ExpireDelegationToken and DescribeDelegationToken. A token's HMAC, which
// a worker presents as its SCRAM password, is shown base64-encoded.

const (
	keyCreateDelegationToken   = 38
	keyRenewDelegationToken    = 39
	keyExpireDelegationToken   = 40
	keyDescribeDelegationToken = 41
)

// Token is one delegation token. Times are RFC 3339 in UTC.
type Token struct {
	ID        string   `json:"token_id"`
	HMAC      string   `json:"hmac"` // base64: the SCRAM password of a token login
	Owner     string   `json:"owner"`
	Requester string   `json:"requester"`
	Renewers  []string `json:"renewers"`
	Issued    string   `json:"issued"`
	Expires   string   `json:"expires"`
	MaxTime   string   `json:"max_time"`
}

// TokenList is the result of `token list` and `token create`, by ID.
type TokenList struct {
	Tokens []Token `json:"tokens"`
}

// WriteTable implements Report.
func (r *TokenList) WriteTable(w io.Writer) error {
	t := newTable(w, "TOKEN ID", "OWNER", "RENEWERS", "EXPIRES", "MAX", "HMAC")
	for _, tok := range r.Tokens {
		t.row(tok.ID, tok.Owner, strings.Join(tok.Renewers, ","), tok.Expires, tok.MaxTime, tok.HMAC)
	}
	return t.flush()
}

// TokenExpiry is the result of `token renew` and `token expire`.
type TokenExpiry struct {
	Expires string `json:"expires"`
}

// WriteTable implements Report.
func (r *TokenExpiry) WriteTable(w io.Writer) error {
	t := newTable(w, "EXPIRES")
	t.row(r.Expires)
	return t.flush()
}

func tokenTime(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

// tokenOf is a token as the brokers describe it; the requester is "" from
// brokers that do not say (before v3).
func tokenOf(d kmsg.DescribeDelegationTokenResponseTokenDetail) Token {
	tok := Token{
		ID: d.TokenID, HMAC: base64.StdEncoding.EncodeToString(d.HMAC), Owner: d.PrincipalType + ":" + d.PrincipalName,
		Renewers: []string{}, Issued: tokenTime(d.IssueTimestamp), Expires: tokenTime(d.ExpiryTimestamp), MaxTime: tokenTime(d.MaxTimestamp),
	}
	if d.TokenRequesterPrincipalName != "" {
		tok.Requester = d.TokenRequesterPrincipalType + ":" + d.TokenRequesterPrincipalName
	}
	for _, rn := range d.Renewers {
		tok.Renewers = append(tok.Renewers, rn.PrincipalType+":"+rn.PrincipalName)
	}
	return tok
}

// principalOf checks a --owner or --renewer value: User:name, or a bare
// name for User:name.
func principalOf(flag, p string) (typ, name string, err error) {
	if p == "" {
		return "", "", invalidf("%s is empty: give a user name or User:name", flag)
	}
	typ, name, ok := strings.Cut(p, ":")
	if !ok {
		return "User", p, nil
	}
	if typ != "User" || name == "" {
		return "", "", invalidf("%s %q: tokens are for users; give User:name or a bare name", flag, p)
	}
	return typ, name, nil
}

// CreateToken creates a token owned by owner ("" for the connecting
// principal) that renewers may renew, living at most maxLifetime (0 for
// the brokers' kafka.delegation-token-max-lifetime).
func (c *Client) CreateToken(ctx context.Context, owner string, renewers []string, maxLifetime time.Duration) (*TokenList, error) {
	req := kmsg.NewPtrCreateDelegationTokenRequest()
	if owner != "" {
		typ, name, err := principalOf("--owner", owner)
		if err != nil {
			return nil, err
		}
		req.OwnerPrincipalType, req.OwnerPrincipalName = &typ, &name
	}
	for _, r := range renewers {
		typ, name, err := principalOf("--renewer", r)
		if err != nil {
			return nil, err
		}
		rn := kmsg.NewCreateDelegationTokenRequestRenewer()
		rn.PrincipalType, rn.PrincipalName = typ, name
		req.Renewers = append(req.Renewers, rn)
	}
	if maxLifetime < 0 {
		return nil, invalidf("--max-lifetime %s: give a positive duration, or 0 for the brokers' maximum", maxLifetime)
	}
	req.MaxLifetimeMillis = -1
	if maxLifetime > 0 {
		req.MaxLifetimeMillis = maxLifetime.Milliseconds()
	}
	if err := c.require("create delegation tokens", keyCreateDelegationToken); err != nil {
		return nil, err
	}
	if owner != "" && c.served[keyCreateDelegationToken] < 3 {
		return nil, invalidf("--owner needs CreateDelegationToken v3, which the broker does not serve")
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	resp, err := req.RequestWith(ctx, c.kgo)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return nil, c.tokenErr(err)
	}
	d := kmsg.NewDescribeDelegationTokenResponseTokenDetail()
	d.PrincipalType, d.PrincipalName = resp.PrincipalType, resp.PrincipalName
	d.TokenRequesterPrincipalType, d.TokenRequesterPrincipalName = resp.TokenRequesterPrincipalType, resp.TokenRequesterPrincipalName
	d.IssueTimestamp, d.ExpiryTimestamp, d.MaxTimestamp = resp.IssueTimestamp, resp.ExpiryTimestamp, resp.MaxTimestamp
	d.TokenID, d.HMAC = resp.TokenID, resp.HMAC
	for _, rn := range req.Renewers {
		d.Renewers = append(d.Renewers, kmsg.DescribeDelegationTokenResponseTokenDetailRenewer{PrincipalType: rn.PrincipalType, PrincipalName: rn.PrincipalName})
	}
	return &TokenList{Tokens: []Token{tokenOf(d)}}, nil
}

// ListTokens lists the tokens the connecting principal may see, of the
// owners given (all when none).
func (c *Client) ListTokens(ctx context.Context, owners []string) (*TokenList, error) {
	req := kmsg.NewPtrDescribeDelegationTokenRequest()
	for _, o := range owners {
		typ, name, err := principalOf("--owner", o)
		if err != nil {
			return nil, err
		}
		ro := kmsg.NewDescribeDelegationTokenRequestOwner()
		ro.PrincipalType, ro.PrincipalName = typ, name
		req.Owners = append(req.Owners, ro)
	}
	if err := c.require("list delegation tokens", keyDescribeDelegationToken); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	resp, err := req.RequestWith(ctx, c.kgo)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return nil, c.tokenErr(err)
	}
	out := &TokenList{Tokens: []Token{}}
	for _, d := range resp.TokenDetails {
		out.Tokens = append(out.Tokens, tokenOf(d))
	}
	sort.Slice(out.Tokens, func(i, j int) bool { return out.Tokens[i].ID < out.Tokens[j].ID })
	return out, nil
}

// RenewToken moves the expiry of the token whose base64 HMAC is hmac to
// now + period (0 for the brokers' kafka.delegation-token-expiry-time).
func (c *Client) RenewToken(ctx context.Context, hmac string, period time.Duration) (*TokenExpiry, error) {
	return c.tokenExpiry(ctx, "renew delegation tokens", keyRenewDelegationToken, hmac, period,
		func(ctx context.Context, mac []byte, ms int64) (int64, int16, error) {
			req := kmsg.NewPtrRenewDelegationTokenRequest()
			req.HMAC, req.RenewTimeMillis = mac, ms
			resp, err := req.RequestWith(ctx, c.kgo)
			if err != nil {
				return 0, 0, err
			}
			return resp.ExpiryTimestamp, resp.ErrorCode, nil
		})
}

// ExpireToken ends the token whose base64 HMAC is hmac after period, or
// now (it is removed) when period is 0.
func (c *Client) ExpireToken(ctx context.Context, hmac string, period time.Duration) (*TokenExpiry, error) {
	return c.tokenExpiry(ctx, "expire delegation tokens", keyExpireDelegationToken, hmac, period,
		func(ctx context.Context, mac []byte, ms int64) (int64, int16, error) {
			req := kmsg.NewPtrExpireDelegationTokenRequest()
			req.HMAC, req.ExpiryPeriodMillis = mac, ms
			resp, err := req.RequestWith(ctx, c.kgo)
			if err != nil {
				return 0, 0, err
			}
			return resp.ExpiryTimestamp, resp.ErrorCode, nil
		})
}

// tokenExpiry sends a Renew or Expire request (send) about the token whose
// base64 HMAC is hmac, with period in milliseconds (-1 for 0: the brokers'
// default), and reports the token's new expiry.
func (c *Client) tokenExpiry(ctx context.Context, op string, key int16, hmac string, period time.Duration,
	send func(ctx context.Context, mac []byte, ms int64) (expiry int64, code int16, err error),
) (*TokenExpiry, error) {
	mac, err := tokenHMAC(hmac)
	if err != nil {
		return nil, err
	}
	ms := int64(-1)
	if period > 0 {
		ms = period.Milliseconds()
	}
	if err := c.require(op, key); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	expiry, code, err := send(ctx, mac, ms)
	if err == nil {
		err = kerr.ErrorForCode(code)
	}
	if err != nil {
		return nil, c.tokenErr(err)
	}
	return &TokenExpiry{Expires: tokenTime(expiry)}, nil
}

func tokenHMAC(s string) ([]byte, error) {
	mac, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(mac) == 0 {
		return nil, invalidf("--hmac %q: give the token's HMAC as `chronik token create` or `token list` print it (base64)", s)
	}
	return mac, nil
}

// tokenErr explains a delegation token API error.
func (c *Client) tokenErr(err error) error {
	switch {
	case errors.Is(err, kerr.DelegationTokenAuthDisabled):
		return failf(ErrRejected, err, "delegation tokens are off: set kafka.delegation-token-secret-key (the same on every broker)")
	case errors.Is(err, kerr.DelegationTokenRequestNotAllowed):
		return failf(ErrRejected, err, "the broker takes token requests only from clients that authenticated otherwise than with a token: connect with --sasl-mechanism (GSSAPI, SCRAM with a user, OAUTHBEARER) or a client certificate")
	case errors.Is(err, kerr.DelegationTokenNotFound):
		return failf(ErrRejected, err, "no such token: `chronik token list` shows the tokens you may see")
	case errors.Is(err, kerr.DelegationTokenOwnerMismatch):
		return failf(ErrRejected, err, "only the token's owner and its renewers may renew or expire it")
	case errors.Is(err, kerr.DelegationTokenExpired):
		return failf(ErrRejected, err, "the token has expired: create a new one")
	case errors.Is(err, kerr.DelegationTokenAuthorizationFailed):
		return failf(ErrRejected, err, "creating a token for another user needs CREATE_TOKENS on that user: `chronik acl create --user User:NAME --operation create-tokens --principal User:YOU`")
	}
	return c.fail(err, "", subject{"delegation tokens of", c.brokers[0]})
}
