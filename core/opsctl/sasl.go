package opsctl

import (
	"strings"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// EnvSASLPassword holds the SASL password of --sasl-user: a flag would show
// it in the process list.
const EnvSASLPassword = "CHRONIK_SASL_PASSWORD"

// SASLLogin says how a command authenticates to brokers with
// kafka.sasl-mechanisms.
type SASLLogin struct {
	Mechanism string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; "" for none
	User      string
	Password  string
}

// Client returns the client mechanism, nil when Mechanism is empty.
func (l SASLLogin) Client() (sasl.Mechanism, error) {
	if l.Mechanism == "" {
		if l.User != "" {
			return nil, invalidf("--sasl-user needs --sasl-mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
		return nil, nil
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
	return nil, invalidf("--sasl-mechanism %q: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", l.Mechanism)
}
