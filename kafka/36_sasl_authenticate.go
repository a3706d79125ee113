package kafka

// SaslAuthenticate, key 36: versions 0–2 (sasl.go).
//
//   - Carries one token of the mechanism chosen by SaslHandshake: PLAIN's
//     or OAUTHBEARER's single token, SCRAM's client-first and client-final
//     messages, or GSSAPI's Kerberos tokens (AP-REQ, an empty token after
//     the AP-REP when the client wants mutual authentication, its choice of
//     security layer; core/kerberos).
//   - SASL_AUTHENTICATION_FAILED, with the same message whether the user
//     or the password was wrong; the connection is then closed after the
//     response, as in Kafka. ILLEGAL_SASL_STATE without a handshake.
//   - SessionLifetimeMillis (v1+) is 0 (the session lasts as long as the
//     connection) unless SASL.MaxReauth is set (KIP-368): then it is that,
//     or less for an OAUTHBEARER token that expires sooner. The client
//     authenticates again before then (SaslHandshake and SaslAuthenticate
//     on the same connection, other requests going on meanwhile); doing so
//     as another user fails and closes the connection.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func beginSASLAuthenticate(s *Server, r *request) func(context.Context) kmsg.Response {
	req := r.msg.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	c := r.conn
	if c == nil { // a handler test without a connection
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return func(context.Context) kmsg.Response { return resp }
	}
	st := &c.sasl
	if s.cfg.SASL == nil || st.authenticated && !st.reauth || st.mechanism == "" {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		resp.ErrorMessage = errMessage(errors.New("send SaslHandshake first (and authenticate once per connection, or once per session with re-authentication)"))
		st.closeAfter = true
		return func(context.Context) kmsg.Response { return resp }
	}
	out, user, expires, err := st.authenticate(s.cfg.SASL, req.SASLAuthBytes)
	if err == nil && user != "" && st.reauth && "User:"+user != c.principal {
		err = fmt.Errorf("re-authentication as User:%s on a connection of %s", user, c.principal)
	}
	switch {
	case err != nil:
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := "Authentication failed during authentication due to invalid credentials with SASL mechanism " + st.mechanism // Kafka's words
		resp.ErrorMessage = &msg
		s.warn("kafka: SASL authentication failed, closing connection", "remote", c.nc.RemoteAddr().String(), "mechanism", st.mechanism, "err", err)
		st.closeAfter = true
	case user != "":
		st.authenticated, st.reauth, st.exchange, st.expires = true, false, nil, 0
		c.principal = "User:" + user // reader-only, like c.sasl (c.log is shared with the writer)
		if life := s.cfg.SASL.sessionLifetime(expires); life > 0 {
			st.expires = time.Now().Add(life).UnixNano()
			resp.SessionLifetimeMillis = life.Milliseconds()
		}
		c.log.Debug("kafka: SASL authenticated", "principal", c.principal, "mechanism", st.mechanism)
	}
	resp.SASLAuthBytes = out
	return func(context.Context) kmsg.Response { return resp }
}
