package broker

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"

	"github.com/pelletier/go-toml/v2"

	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/kerberos"
	"github.com/chronik-go/chronik/kafka"
)

// kafkaSASL returns the Kafka listener's SASL settings, nil when
// kafka.sasl-mechanisms is empty. kafka.sasl-users-file holds the users SASL
// clients authenticate as, with their passwords, in a TOML table:
//
//	[users]
//	alice = "alice-secret"
//
// Like Kafka's JAAS user_<name> entries, every broker reads its own copy,
// so keep it the same on all of them and readable by the broker alone. It
// is read at start-up (a file that does not load fails it) and again
// within a second of changing (reloaded): users are added, removed or given
// a new password without a restart; a file that does not load leaves the
// last good one in use, with a warning.
func kafkaSASL(k config.KafkaConfig, log *slog.Logger) (*kafka.SASL, error) {
	if len(k.SASLMechanisms) == 0 {
		return nil, nil
	}
	a := &kafka.SASL{Mechanisms: k.SASLMechanisms, MaxReauth: k.ConnectionsMaxReauth}
	if path := k.SASLUsersFile; path != "" {
		users, err := newReloaded("kafka.sasl-users-file", log, func() (map[string]string, error) { return loadSASLUsers(path) }, path)
		if err != nil {
			return nil, fmt.Errorf("kafka.sasl-users-file: %w", err)
		}
		a.Password = func(user string) (string, bool) {
			p, ok := users.get()[user]
			return p, ok
		}
	}
	if k.OAuthBearerJWKSURL != "" {
		o, err := newOAuthBearer(k, log)
		if err != nil {
			return nil, err
		}
		a.OAuthBearer = o.validate
	}
	if path := k.SASLKerberosKeytab; path != "" {
		service := k.SASLKerberosServiceName
		rules, err := kerberos.ParseRules(k.SASLKerberosPrincipalToLocalRules)
		if err != nil {
			return nil, fmt.Errorf("kafka.sasl-kerberos-principal-to-local-rules: %w", err)
		}
		acceptor, err := newReloaded("kafka.sasl-kerberos-keytab", log, func() (*kerberos.Acceptor, error) { return kerberos.Load(path, service, rules) }, path)
		if err != nil {
			return nil, fmt.Errorf("kafka.sasl-kerberos-keytab: %w", err)
		}
		log.Info("kafka: GSSAPI logins accepted for", "principals", acceptor.get().Principals())
		a.GSSAPI = func() kafka.SASLExchange { return acceptor.get().Start() }
	}
	return a, nil
}

// loadSASLUsers reads a users file.
func loadSASLUsers(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Users map[string]string `toml:"users"`
	}
	if err := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for name, password := range doc.Users {
		if name == "" || password == "" {
			return nil, fmt.Errorf("%s: user %q has an empty name or password", path, name)
		}
	}
	if len(doc.Users) == 0 {
		return nil, fmt.Errorf("%s: no [users] entries: nobody could connect", path)
	}
	return doc.Users, nil
}
