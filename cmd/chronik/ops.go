package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/opsctl"
)

// clusterFlags are the flags every operator command (topic, group) shares:
// where the cluster is, how to print, how long to wait. The logic behind
// them lives in core/opsctl.
type clusterFlags struct {
	brokers    string
	configFile string
	format     string
	timeout    time.Duration
	admin      opsctl.AdminFlags
	security   securityFlags
}

// securityFlags are the client TLS and SASL flags of the commands that
// speak Kafka to the cluster (topic, group, cluster, bench).
type securityFlags struct {
	files opsctl.TLSFiles
	login opsctl.SASLLogin
}

func (t *securityFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&t.login.Mechanism, "sasl-mechanism", "", "SASL `mechanism` for brokers with kafka.sasl-mechanisms: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (the password comes from "+opsctl.EnvSASLPassword+"), OAUTHBEARER (the token from "+opsctl.EnvSASLToken+"), or GSSAPI (Kerberos: the tickets kinit left in KRB5CCNAME, or --sasl-kerberos-keytab; krb5.conf from KRB5_CONFIG or /etc/krb5.conf)")
	fs.StringVar(&t.login.User, "sasl-user", "", "SASL user `name` (with --sasl-mechanism; for GSSAPI the principal of --sasl-kerberos-keytab, name or name@REALM)")
	fs.StringVar(&t.login.Keytab, "sasl-kerberos-keytab", "", "keytab `file` to log in with as --sasl-user (with --sasl-mechanism GSSAPI; without it the credentials cache's tickets are used)")
	fs.StringVar(&t.login.Service, "sasl-kerberos-service-name", "kafka", "the brokers' Kerberos service `name` (their kafka.sasl-kerberos-service-name)")
	fs.BoolVar(&t.files.Enabled, "tls", false, "connect with TLS, trusting the system's CAs (for brokers with kafka.tls-cert-file; implied by the --tls-* files)")
	fs.StringVar(&t.files.CAFile, "tls-ca-file", "", "PEM `file` of the CAs that signed the brokers' certificates (implies --tls)")
	fs.StringVar(&t.files.CertFile, "tls-cert-file", "", "PEM `file` of this client's certificate, for brokers with kafka.tls-client-ca-file (implies --tls)")
	fs.StringVar(&t.files.KeyFile, "tls-key-file", "", "PEM `file` of this client's private key (with --tls-cert-file)")
}

// register adds the flags to a parent command, inherited by its subcommands.
func (f *clusterFlags) register(cmd *cobra.Command) {
	fs := cmd.PersistentFlags()
	fs.StringVar(&f.brokers, "brokers", "",
		"Kafka `addresses` of the cluster, host:port[,host:port...] (env "+opsctl.EnvBrokers+
			"; default: the Kafka address a broker started with --config would advertise, else 127.0.0.1:9092)")
	fs.StringVar(&f.configFile, config.FileFlag, "",
		"broker TOML config `file` to find the cluster's Kafka address in (env "+config.EnvName(config.FileFlag)+")")
	fs.StringVar(&f.format, "format", string(opsctl.Table), "output `format`: table (aligned columns) or json (one document, snake_case fields)")
	fs.DurationVar(&f.timeout, "timeout", opsctl.DefaultTimeout, "how long to wait for the cluster, per step")
	f.security.register(fs)
}

// client returns the connections' TLS settings and SASL mechanism.
func (t *securityFlags) client() (*tls.Config, sasl.Mechanism, error) {
	tlsConfig, err := t.files.Config()
	if err != nil {
		return nil, nil, err
	}
	login := t.login
	login.Password = os.Getenv(opsctl.EnvSASLPassword)
	login.Token = os.Getenv(opsctl.EnvSASLToken)
	mech, err := login.Client()
	return tlsConfig, mech, err
}

// registerAdmin adds the flags of commands that reach only the brokers'
// admin HTTP API (tier, backup): --config, --format, --timeout (described
// by timeoutHelp) and --http-addr.
func (f *clusterFlags) registerAdmin(cmd *cobra.Command, timeoutHelp string) {
	fs := cmd.PersistentFlags()
	fs.StringVar(&f.configFile, config.FileFlag, "",
		"broker TOML config `file` to find the brokers' HTTP addresses in (env "+config.EnvName(config.FileFlag)+")")
	fs.StringVar(&f.format, "format", string(opsctl.Table), "output `format`: table (aligned columns) or json (one document, snake_case fields)")
	fs.DurationVar(&f.timeout, "timeout", opsctl.DefaultTimeout, timeoutHelp)
	f.registerHTTP(cmd)
}

// registerHTTP adds --http-addr and the flags of how to call the brokers'
// admin HTTP API.
func (f *clusterFlags) registerHTTP(cmd *cobra.Command) {
	fs := cmd.PersistentFlags()
	fs.StringVar(&f.admin.Addrs, "http-addr", "", "brokers' admin HTTP `addresses`, host:port[,host:port...]")
	fs.BoolVar(&f.admin.TLS, "http-tls", false, "call the admin API over https, trusting the system's CAs (brokers with http.tls-cert-file; default: on when --config sets it)")
	fs.StringVar(&f.admin.CAFile, "http-ca-file", "", "PEM `file` of the CAs that signed the brokers' HTTP certificates (implies --http-tls; default: http.tls-ca-file of --config)")
	fs.StringVar(&f.admin.TokenFile, "http-token-file", "", "`file` holding the brokers' admin token (http.token-file; env "+envHTTPTokenFile+"; default: http.token-file of --config)")
}

// envHTTPTokenFile names the admin token file when --http-token-file is not given.
const envHTTPTokenFile = "CHRONIK_HTTP_TOKEN_FILE"

// resolveAdmin resolves the brokers' admin HTTP addresses (--http-addr,
// else the [[nodes]] of --config, else the default) and how to call them.
func (f *clusterFlags) resolveAdmin() (opsctl.Admin, error) {
	flags := f.admin
	if flags.TokenFile == "" {
		flags.TokenFile = os.Getenv(envHTTPTokenFile)
	}
	return opsctl.ResolveAdmin(flags, f.configFile, os.Getenv)
}

// outputFormat checks --format and --timeout; commands call it with their
// other input checks, before connecting.
func (f *clusterFlags) outputFormat() (opsctl.Format, error) {
	if f.timeout <= 0 {
		return "", fmt.Errorf("--timeout %s: give a positive duration such as 10s", f.timeout)
	}
	return opsctl.ParseFormat(f.format)
}

// dial resolves the brokers and connects.
func (f *clusterFlags) dial(cmd *cobra.Command) (*opsctl.Client, error) {
	brokers, err := opsctl.ResolveBrokers(f.brokers, f.configFile, os.Getenv)
	if err != nil {
		return nil, err
	}
	tlsConfig, mech, err := f.security.client()
	if err != nil {
		return nil, err
	}
	return opsctl.Dial(cmd.Context(), opsctl.Options{Brokers: brokers, Timeout: f.timeout, TLS: tlsConfig, SASL: mech})
}

// report checks --format, connects, runs op and prints the report it
// returns: the shape of every read-and-print operator command.
func (f *clusterFlags) report(cmd *cobra.Command, op func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error)) error {
	format, err := f.outputFormat()
	if err != nil {
		return err
	}
	cl, err := f.dial(cmd)
	if err != nil {
		return err
	}
	defer cl.Close()
	r, err := op(cmd.Context(), cl)
	if err != nil {
		return err
	}
	return printReport(cmd, format, r)
}

// printReport writes a report to stdout in the chosen format.
func printReport(cmd *cobra.Command, format opsctl.Format, r opsctl.Report) error {
	return opsctl.Print(cmd.OutOrStdout(), format, r)
}

// nameArg accepts exactly one positional argument, the name of a kind.
func nameArg(kind string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 1 && args[0] != "":
			return nil
		case len(args) == 0 || args[0] == "":
			return fmt.Errorf("give the %s name: %s\nrun '%s --help' for usage", kind, cmd.UseLine(), cmd.CommandPath())
		}
		return fmt.Errorf("one %s name only, got %d arguments: %q\nrun '%s --help' for usage", kind, len(args), args, cmd.CommandPath())
	}
}

// noArgs is cobra.NoArgs with the usage hint the other errors carry.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q: %s takes none\nrun '%s --help' for usage", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
	return nil
}

// parentRun runs a noun command given without a verb: help, or an error
// naming the unknown verb with suggestions.
func parentRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default for the root
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	}
	return fmt.Errorf("%s\nrun '%s --help' for usage", msg, cmd.CommandPath())
}
