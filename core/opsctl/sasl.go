package opsctl

import (
	"fmt"
	"os"
	"strings"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/kerberos"
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
	Mechanism string // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or GSSAPI; "" for none
	User      string // GSSAPI: the principal of Keytab
	Password  string
	Token     string // OAUTHBEARER's
	// GSSAPI: the keytab to log in with as User; "" for the tickets of
	// the credentials cache (KRB5CCNAME, else /tmp/krb5cc_<uid>, as kinit
	// leaves them). Service is the brokers' service name ("kafka").
	Keytab, Service string
}

// Client returns the client mechanism, nil when Mechanism is empty.
func (l SASLLogin) Client() (sasl.Mechanism, error) {
	if l.Mechanism == "" {
		if l.User != "" {
			return nil, invalidf("--sasl-user needs --sasl-mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
		return nil, nil
	}
	if strings.EqualFold(l.Mechanism, "GSSAPI") {
		return l.kerberos()
	}
	if l.Keytab != "" {
		return nil, invalidf("--sasl-kerberos-keytab goes with --sasl-mechanism GSSAPI")
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
	return nil, invalidf("--sasl-mechanism %q: use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or GSSAPI", l.Mechanism)
}

// kerberos is the GSSAPI mechanism: a Kerberos client configured by
// krb5.conf (KRB5_CONFIG, else /etc/krb5.conf) that logs in with the keytab
// or takes the credentials cache's tickets.
func (l SASLLogin) kerberos() (sasl.Mechanism, error) {
	confPath := os.Getenv("KRB5_CONFIG")
	if confPath == "" {
		confPath = "/etc/krb5.conf"
	}
	conf, err := krbconfig.Load(confPath)
	if err != nil {
		return nil, invalidf("--sasl-mechanism GSSAPI needs the Kerberos configuration (KRB5_CONFIG, else /etc/krb5.conf): %v", err)
	}
	service := l.Service
	if service == "" {
		service = "kafka"
	}
	var cl *krbclient.Client
	if l.Keytab != "" {
		if l.User == "" {
			return nil, invalidf("--sasl-kerberos-keytab needs --sasl-user, the principal whose key it holds (name or name@REALM)")
		}
		kt, err := keytab.Load(l.Keytab)
		if err != nil {
			return nil, invalidf("--sasl-kerberos-keytab %s: %v", l.Keytab, err)
		}
		name, realm, ok := strings.Cut(l.User, "@")
		if !ok {
			realm = conf.LibDefaults.DefaultRealm
		}
		cl = krbclient.NewWithKeytab(name, realm, kt, conf, krbclient.DisablePAFXFAST(true))
	} else {
		if l.User != "" {
			return nil, invalidf("--sasl-user with GSSAPI names the principal of --sasl-kerberos-keytab; without a keytab the credentials cache says who you are (kinit)")
		}
		path := strings.TrimPrefix(os.Getenv("KRB5CCNAME"), "FILE:")
		if path == "" {
			path = fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid())
		}
		cc, err := credentials.LoadCCache(path)
		if err != nil {
			return nil, invalidf("--sasl-mechanism GSSAPI without --sasl-kerberos-keytab takes the tickets of the credentials cache %s (KRB5CCNAME): %v; run kinit first", path, err)
		}
		if cl, err = krbclient.NewFromCCache(cc, conf, krbclient.DisablePAFXFAST(true)); err != nil {
			return nil, invalidf("the credentials cache %s: %v; run kinit again", path, err)
		}
	}
	return kerberos.Auth{Client: cl, Service: service, PersistAfterAuth: true}.AsMechanismWithClose(), nil
}
