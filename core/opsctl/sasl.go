package opsctl

import (
	"strings"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// EnvSASLPassword holds the SASL password of --sasl-user: a flag would show
// it in the process list.
const EnvSASLPassword = "CHRONIK_SASL_PASSWORD"

// EnvSASLToken holds the bearer token of --sasl-mechanism OAUTHBEARER.
const EnvSASLToken = "CHRONIK_SASL_TOKEN"

// SASLLogin says how a command authenticates to brokers with
// kafka.sasl-mechanisms.
type SASLLogin struct {
	Mechanism string // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER; "" for none
	User      string
	Password  string
	Token     string // OAUTHBEARER's
}

// Client returns the client mechanism, nil when Mechanism is empty.
func (l SASLLogin) Client() (sasl.Mechanism, error) {
	if l.Mechanism == "" {
		if l.User != "" {
			return nil, invalidf("--sasl-user needs --sasl-mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
		return nil, nil
	}
	if strings.EqualFold(l.Mechanism, "OAUTHBEARER") {
		if l.Token == "" {
			return nil, invalidf("--sasl-mechanism OAUTHBEARER needs the token (a JWT from the identity provider) in %s", EnvSASLToken)
		}
		return oauth.Auth{Token: l.Token}.AsMechanism(), nil
	}
	if l.User == "" {
		return nil, invalidf("--sasl-mechanism %s needs --sasl-user (and the password in %s)", l.Mechanism, EnvSASLPassword)
	}
	switch strings.ToUpper(l.Mechanism) {
	case "PLAIN":
		return plain.Auth{User: l.User, Pass: l.Password}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: l.User, Pass: l.Password}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: l.User, Pass: l.Password}.AsSha512Mechanism(), nil
	}
	return nil, invalidf("--sasl-mechanism %q: use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER", l.Mechanism)
}
