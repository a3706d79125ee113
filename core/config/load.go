package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/pflag"
)

// EnvPrefix starts the name of every environment variable Chronik reads.
const EnvPrefix = "CHRONIK_"

// FileFlag is the flag (and, upper-cased with EnvPrefix, the environment
// variable CHRONIK_CONFIG) naming the TOML file to load.
const FileFlag = "config"

// setting is one key that is also a flag and an environment variable. The
// flag name and the TOML key are the same string, except for tier, which
// sets tier.url.
type setting struct {
	key   string
	usage string
	get   func(*Config) string
	set   func(*Config, string) error
}

// env is the environment variable of s: CHRONIK_ plus the key upper-cased
// with dashes as underscores (data-dir → CHRONIK_DATA_DIR).
func (s setting) env() string { return EnvName(s.key) }

// EnvName returns the environment variable for a flag or top-level key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

func stringSetting(key, usage string, field func(*Config) *string) setting {
	return setting{
		key:   key,
		usage: usage,
		get:   func(c *Config) string { return *field(c) },
		set: func(c *Config, v string) error {
			*field(c) = v
			return nil
		},
	}
}

// settings lists every key that flags and the environment can set, in the
// order --help shows them.
var settings = []setting{
	{
		key:   "node-id",
		usage: "broker ID, unique in the cluster and >= 1; fixed once the data directory exists",
		get:   func(c *Config) string { return strconv.FormatInt(int64(c.NodeID), 10) },
		set: func(c *Config, v string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
			if err != nil {
				return fmt.Errorf("not a 32-bit integer: use a broker ID such as 1")
			}
			c.NodeID = int32(n)
			return nil
		},
	},
	stringSetting("data-dir", "directory for the Raft log, the state store and the node identity",
		func(c *Config) *string { return &c.DataDir }),
	stringSetting("kafka-addr", "Kafka listener bind address host:port",
		func(c *Config) *string { return &c.KafkaAddr }),
	stringSetting("advertise-addr", "host:port clients are told to connect to; empty means kafka-addr with a wildcard host replaced by 127.0.0.1",
		func(c *Config) *string { return &c.AdvertiseAddr }),
	stringSetting("raft-addr", "Raft transport address host:port; this node's identity for its peers, fixed once the data directory exists",
		func(c *Config) *string { return &c.RaftAddr }),
	stringSetting("http-addr", "HTTP address for /metrics, /healthz, /readyz, /debug/pprof and the admin API",
		func(c *Config) *string { return &c.HTTPAddr }),
	stringSetting("tier", "object-store URL for tiered storage, tier.url in the config file (file:///path, s3://bucket/prefix, ...); empty means <data-dir>/tier",
		func(c *Config) *string { return &c.Tier.URL }),
	stringSetting("log-level", "log level: debug, info, warn or error",
		func(c *Config) *string { return &c.LogLevel }),
	{
		key:   "shutdown-timeout",
		usage: "how long the stop after SIGINT or SIGTERM may take before the process exits as after a crash (acknowledged records are in the Raft log); 0 waits however long",
		get:   func(c *Config) string { return c.ShutdownTimeout.String() },
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("not a duration: use a value such as 2m or 30s")
			}
			c.ShutdownTimeout = d
			return nil
		},
	},
}

// BindFlags registers --config and one flag per top-level setting on fs.
// Defaults shown in --help are those of Default(); Load applies only the
// flags the user actually set, so env and file values are not masked.
func BindFlags(fs *pflag.FlagSet) {
	d := Default()
	fs.String(FileFlag, "", "path to a TOML config file (env "+EnvName(FileFlag)+"; default none)")
	for _, s := range settings {
		usage := s.usage + " (env " + s.env() + ")"
		if s.key == "node-id" {
			fs.Int32(s.key, d.NodeID, usage)
			continue
		}
		fs.String(s.key, s.get(&d), usage)
	}
}

// Load builds the configuration with precedence flag > env > file > default:
// it starts from Default(), decodes the file named by --config or
// CHRONIK_CONFIG (unknown keys are errors), overlays CHRONIK_* variables
// that are non-empty, overlays the flags of fs that were set on the command
// line, and validates the result. fs may be nil (no flags); getenv is
// usually os.Getenv and may be nil (no environment).
func Load(fs *pflag.FlagSet, getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	changed := func(name string) (string, bool) {
		if fs == nil {
			return "", false
		}
		f := fs.Lookup(name)
		if f == nil || !f.Changed {
			return "", false
		}
		return f.Value.String(), true
	}

	cfg := Default()

	path, ok := changed(FileFlag)
	if !ok {
		path = getenv(EnvName(FileFlag))
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: cannot read the config file: %w", err)
		}
		if err := decodeTOML(path, data, &cfg); err != nil {
			return Config{}, err
		}
	}

	explicit := map[string]bool{}
	for _, s := range settings {
		if v := getenv(s.env()); v != "" {
			if err := s.set(&cfg, v); err != nil {
				return Config{}, fmt.Errorf("config: %s=%q: %w", s.env(), v, err)
			}
			explicit[s.key] = true
		}
	}
	for _, s := range settings {
		if v, ok := changed(s.key); ok {
			if err := s.set(&cfg, v); err != nil {
				return Config{}, fmt.Errorf("config: --%s=%q: %w", s.key, v, err)
			}
			explicit[s.key] = true
		}
	}
	cfg.applyNodeEntry(explicit)

	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// applyNodeEntry fills this node's addresses from its [[nodes]] entry,
// except those set by a flag or an environment variable.
func (c *Config) applyNodeEntry(explicit map[string]bool) {
	n, ok := c.Node(c.NodeID)
	if !ok {
		// A broker added at runtime names its own addresses; otherwise
		// Validate reports a node-id missing from nodes.
		c.Joining = len(c.Nodes) > 0 && explicit["kafka-addr"] && explicit["raft-addr"]
		return
	}
	set := func(key string, dst *string, v string) {
		if !explicit[key] && v != "" {
			*dst = v
		}
	}
	set("kafka-addr", &c.KafkaAddr, n.Kafka)
	set("advertise-addr", &c.AdvertiseAddr, n.Kafka)
	set("raft-addr", &c.RaftAddr, n.Raft)
	set("http-addr", &c.HTTPAddr, n.HTTP)
}

// Parse decodes a TOML document over Default() and validates the result,
// without consulting flags or the environment. name appears in errors.
func Parse(name string, data []byte) (Config, error) {
	cfg := Default()
	if err := decodeTOML(name, data, &cfg); err != nil {
		return Config{}, err
	}
	cfg.applyNodeEntry(nil)
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// fileConfig is Config as the TOML file spells it. The only difference is
// that durations are strings ("10ms"): go-toml decodes time.Duration from
// integers only. Its own Kafka, Raft, Tier and Backup fields shadow the
// embedded Config's, and their duration fields shadow those of KafkaConfig,
// RaftConfig, TierConfig and BackupConfig, as with encoding/json.
type fileConfig struct {
	Config
	ShutdownTimeout duration `toml:"shutdown-timeout"`

	Kafka  fileKafka  `toml:"kafka"`
	Raft   fileRaft   `toml:"raft"`
	Tier   fileTier   `toml:"tier"`
	Backup fileBackup `toml:"backup"`
}

type fileBackup struct {
	BackupConfig
	Interval duration `toml:"interval"`
}

type fileKafka struct {
	KafkaConfig
	LogRetentionCheckInterval duration `toml:"log-retention-check-interval"`
	LogCleanerBackoff         duration `toml:"log-cleaner-backoff"`
	TransactionMaxTimeout     duration `toml:"transaction-max-timeout"`
	TransactionalIDExpiration duration `toml:"transactional-id-expiration"`
	ConnectionsMaxReauth      duration `toml:"connections-max-reauth"`
	ConnectionsMaxIdle        duration `toml:"connections-max-idle"`
	GroupConsumerSession      duration `toml:"group-consumer-session-timeout"`
	GroupConsumerHeartbeat    duration `toml:"group-consumer-heartbeat-interval"`
	TokenMaxLifetime          duration `toml:"delegation-token-max-lifetime"`
	TokenExpiryTime           duration `toml:"delegation-token-expiry-time"`
}

type fileRaft struct {
	RaftConfig
	RTT duration `toml:"rtt"`
}

type fileTier struct {
	TierConfig
	CheckInterval duration `toml:"check-interval"`
	SweepInterval duration `toml:"sweep-interval"`
	OrphanGrace   duration `toml:"orphan-grace"`
	UploadTimeout duration `toml:"upload-timeout"`
}

// durationKeys are the TOML keys holding durations, for error hints.
var durationKeys = []string{
	"shutdown-timeout",
	"kafka.log-retention-check-interval", "kafka.log-cleaner-backoff", "kafka.connections-max-reauth", "kafka.connections-max-idle",
	"kafka.transaction-max-timeout", "kafka.transactional-id-expiration",
	"kafka.group-consumer-session-timeout", "kafka.group-consumer-heartbeat-interval",
	"kafka.delegation-token-max-lifetime", "kafka.delegation-token-expiry-time",
	"raft.rtt",
	"tier.check-interval", "tier.sweep-interval", "tier.orphan-grace", "tier.upload-timeout",
	"backup.interval",
}

// errDuration marks a duration that did not parse. go-toml reports it with
// a line number for a string value but without one for an integer value.
var errDuration = errors.New("invalid duration")

// duration decodes a TOML string with time.ParseDuration. It is a struct,
// not an integer type, so that go-toml rejects a bare integer (10 would
// otherwise silently mean 10ns).
type duration struct{ time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%w %q: write a Go duration string such as \"10ms\" or \"1s\"", errDuration, b)
	}
	d.Duration = v
	return nil
}

// decodeTOML decodes data over *cfg, rejecting keys Config does not have.
func decodeTOML(name string, data []byte, cfg *Config) error {
	t := cfg.Tier
	fc := fileConfig{
		Config:          *cfg,
		ShutdownTimeout: duration{cfg.ShutdownTimeout},
		Kafka: fileKafka{
			KafkaConfig:               cfg.Kafka,
			LogRetentionCheckInterval: duration{cfg.Kafka.LogRetentionCheckInterval},
			LogCleanerBackoff:         duration{cfg.Kafka.LogCleanerBackoff},
			TransactionMaxTimeout:     duration{cfg.Kafka.TransactionMaxTimeout},
			TransactionalIDExpiration: duration{cfg.Kafka.TransactionalIDExpiration},
			ConnectionsMaxReauth:      duration{cfg.Kafka.ConnectionsMaxReauth},
			ConnectionsMaxIdle:        duration{cfg.Kafka.ConnectionsMaxIdle},
			GroupConsumerSession:      duration{cfg.Kafka.GroupConsumerSessionTimeout},
			GroupConsumerHeartbeat:    duration{cfg.Kafka.GroupConsumerHeartbeatInterval},
			TokenMaxLifetime:          duration{cfg.Kafka.DelegationTokenMaxLifetime},
			TokenExpiryTime:           duration{cfg.Kafka.DelegationTokenExpiryTime},
		},
		Raft: fileRaft{RaftConfig: cfg.Raft, RTT: duration{cfg.Raft.RTT}},
		Tier: fileTier{
			TierConfig:    t,
			CheckInterval: duration{t.CheckInterval},
			SweepInterval: duration{t.SweepInterval},
			OrphanGrace:   duration{t.OrphanGrace},
			UploadTimeout: duration{t.UploadTimeout},
		},
		Backup: fileBackup{BackupConfig: cfg.Backup, Interval: duration{cfg.Backup.Interval}},
	}
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return tomlError(name, err)
	}
	*cfg = fc.Config
	cfg.ShutdownTimeout = fc.ShutdownTimeout.Duration
	cfg.Kafka = fc.Kafka.KafkaConfig
	cfg.Kafka.LogRetentionCheckInterval = fc.Kafka.LogRetentionCheckInterval.Duration
	cfg.Kafka.LogCleanerBackoff = fc.Kafka.LogCleanerBackoff.Duration
	cfg.Kafka.TransactionMaxTimeout = fc.Kafka.TransactionMaxTimeout.Duration
	cfg.Kafka.TransactionalIDExpiration = fc.Kafka.TransactionalIDExpiration.Duration
	cfg.Kafka.ConnectionsMaxReauth = fc.Kafka.ConnectionsMaxReauth.Duration
	cfg.Kafka.ConnectionsMaxIdle = fc.Kafka.ConnectionsMaxIdle.Duration
	cfg.Kafka.GroupConsumerSessionTimeout = fc.Kafka.GroupConsumerSession.Duration
	cfg.Kafka.GroupConsumerHeartbeatInterval = fc.Kafka.GroupConsumerHeartbeat.Duration
	cfg.Kafka.DelegationTokenMaxLifetime = fc.Kafka.TokenMaxLifetime.Duration
	cfg.Kafka.DelegationTokenExpiryTime = fc.Kafka.TokenExpiryTime.Duration
	cfg.Raft = fc.Raft.RaftConfig
	cfg.Raft.RTT = fc.Raft.RTT.Duration
	cfg.Tier = fc.Tier.TierConfig
	cfg.Tier.CheckInterval = fc.Tier.CheckInterval.Duration
	cfg.Tier.SweepInterval = fc.Tier.SweepInterval.Duration
	cfg.Tier.OrphanGrace = fc.Tier.OrphanGrace.Duration
	cfg.Tier.UploadTimeout = fc.Tier.UploadTimeout.Duration
	cfg.Backup = fc.Backup.BackupConfig
	cfg.Backup.Interval = fc.Backup.Interval.Duration
	return nil
}

// sectionKeys are tables that were once plain top-level values, with the
// hint for a file still written the old way.
var sectionKeys = map[string]string{
	"tier": `tier is a section: write the URL as url = "…" under a [tier] line (the --tier flag and CHRONIK_TIER set tier.url)`,
}

// typeMismatch matches go-toml's message for a value of the wrong type,
// which names Go struct fields the user never sees.
var typeMismatch = regexp.MustCompile(`^cannot decode TOML (\S+) into struct field \S+ of type (\S+)$`)

// tomlKind names the TOML value a Go type decodes from.
func tomlKind(goType string) string {
	switch {
	case goType == "bool":
		return "true or false"
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasSuffix(goType, ".duration"):
		return `a duration string such as "10ms"`
	default:
		return "a table"
	}
}

// tomlError rewrites go-toml errors as "config file NAME line N: …", one
// line per problem, naming the key.
func tomlError(name string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		errs := make([]error, 0, len(strict.Errors))
		for i := range strict.Errors {
			e := &strict.Errors[i]
			line, _ := e.Position()
			errs = append(errs, fmt.Errorf("config file %s line %d: unknown key %q; see docs/configuration.md for the valid keys",
				name, line, strings.Join(e.Key(), ".")))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		mismatch := typeMismatch.FindStringSubmatch(msg)
		if mismatch != nil {
			msg = fmt.Sprintf("got a TOML %s, want %s", mismatch[1], tomlKind(mismatch[2]))
		}
		key := strings.Join(de.Key(), ".")
		if key != "" {
			msg = key + ": " + msg
			if slices.Contains(durationKeys, key) && !strings.Contains(msg, "duration") {
				msg += ` (durations are strings such as "10ms")`
			}
			if hint, ok := sectionKeys[key]; ok && mismatch != nil {
				msg += "; " + hint
			}
		}
		return fmt.Errorf("config file %s line %d column %d: %s", name, line, col, msg)
	}
	if errors.Is(err, errDuration) {
		return fmt.Errorf("config file %s: %w (keys holding durations: %s)", name, err, strings.Join(durationKeys, ", "))
	}
	return fmt.Errorf("config file %s: %w", name, err)
}
