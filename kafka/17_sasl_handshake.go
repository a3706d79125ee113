package kafka

// SaslHandshake, key 17: versions 0–1 (sasl.go).
//
//   - Chooses the connection's SASL mechanism; the tokens then travel in
//     SaslAuthenticate. Version 0 is advertised because librdkafka enables
//     SASL only on brokers that list it (its SASL feature depends on
//     SaslHandshake 0), but a v0 handshake (raw tokens after it, clients
//     before Kafka 1.0) gets ILLEGAL_SASL_STATE and the connection closes.
//   - UNSUPPORTED_SASL_MECHANISM with the enabled mechanisms when the
//     requested one is not enabled; ILLEGAL_SASL_STATE when SASL is off or
//     the connection has already authenticated, unless SASL.MaxReauth
//     allows re-authentication (KIP-368), which must use the mechanism the
//     connection authenticated with (else ILLEGAL_SASL_STATE, and the
//     connection closes).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func beginSASLHandshake(s *Server, r *request) func(context.Context) kmsg.Response {
	req := r.msg.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	a := s.cfg.SASL
	if r.conn == nil { // a handler test without a connection
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return func(context.Context) kmsg.Response { return resp }
	}
	st := &r.conn.sasl
	switch {
	case req.Version == 0:
		resp.ErrorCode = kerr.IllegalSaslState.Code
		st.closeAfter = true
		s.warn("kafka: SaslHandshake v0 (raw SASL tokens, clients before Kafka 1.0) is not supported, closing connection",
			"remote", r.conn.nc.RemoteAddr().String())
	case a != nil && st.authenticated && a.MaxReauth > 0:
		resp.SupportedMechanisms = a.Mechanisms
		if req.Mechanism != st.mechanism {
			resp.ErrorCode = kerr.IllegalSaslState.Code
			st.closeAfter = true
			s.warn("kafka: re-authentication with another SASL mechanism, closing connection",
				"remote", r.conn.nc.RemoteAddr().String(), "was", st.mechanism, "now", req.Mechanism)
			break
		}
		st.reauth, st.exchange = true, nil
	case a == nil || st.authenticated:
		resp.ErrorCode = kerr.IllegalSaslState.Code
	case !a.enabled(req.Mechanism):
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		resp.SupportedMechanisms = a.Mechanisms
	default:
		st.mechanism, st.exchange = req.Mechanism, nil
		resp.SupportedMechanisms = a.Mechanisms
	}
	return func(context.Context) kmsg.Response { return resp }
}
