package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// writeFile writes a config file into a temp dir and returns its path.
func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "chronik.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// envMap turns a map into a getenv function.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// flagSet returns a bound flag set after parsing args.
func flagSet(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	cfg, err := Load(flagSet(t), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Fatalf("Load with nothing set = %+v, want Default() %+v", cfg, Default())
	}
}

func TestLoadPrecedence(t *testing.T) {
	file := writeFile(t, `
node-id = 3
data-dir = "/file/data"
kafka-addr = ":19092"
log-level = "warn"

[kafka]
default-partitions = 6
log-retention-check-interval = "30s"

[raft]
rtt = "25ms"
election-rtt = 30
`)
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, c Config) {
				if c.NodeID != 1 || c.DataDir != "./data" || c.LogLevel != "info" || c.Raft.RTT != 25*time.Millisecond || c.Raft.ElectionRTT != 8 {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "file over default",
			args: []string{"--config", file},
			check: func(t *testing.T, c Config) {
				if c.NodeID != 3 || c.DataDir != "/file/data" || c.KafkaAddr != ":19092" || c.LogLevel != "warn" {
					t.Errorf("top level not from file: %+v", c)
				}
				if c.Kafka.DefaultPartitions != 6 || c.Kafka.LogRetentionCheckInterval != 30*time.Second || c.Raft.RTT != 25*time.Millisecond || c.Raft.ElectionRTT != 30 {
					t.Errorf("nested not from file: %+v", c)
				}
				// Keys the file does not mention keep their defaults.
				if c.HTTPAddr != ":9644" || !c.Kafka.AutoCreateTopics || c.Kafka.GroupInitialRebalanceDelayMs != 3000 || c.Raft.HeartbeatRTT != 2 {
					t.Errorf("defaults lost: %+v", c)
				}
			},
		},
		{
			name: "file named by CHRONIK_CONFIG",
			env:  map[string]string{"CHRONIK_CONFIG": file},
			check: func(t *testing.T, c Config) {
				if c.NodeID != 3 {
					t.Errorf("NodeID = %d, want 3 from the file", c.NodeID)
				}
			},
		},
		{
			name: "--config over CHRONIK_CONFIG",
			args: []string{"--config", file},
			env:  map[string]string{"CHRONIK_CONFIG": "/does/not/exist.toml"},
			check: func(t *testing.T, c Config) {
				if c.NodeID != 3 {
					t.Errorf("NodeID = %d, want 3 from the file", c.NodeID)
				}
			},
		},
		{
			name: "env over file",
			args: []string{"--config", file},
			env: map[string]string{
				"CHRONIK_NODE_ID":        "4",
				"CHRONIK_DATA_DIR":       "/env/data",
				"CHRONIK_LOG_LEVEL":      "debug",
				"CHRONIK_TIER":           "s3://bucket/prefix",
				"CHRONIK_ADVERTISE_ADDR": "broker4:9092",
			},
			check: func(t *testing.T, c Config) {
				if c.NodeID != 4 || c.DataDir != "/env/data" || c.LogLevel != "debug" ||
					c.Tier.URL != "s3://bucket/prefix" || c.AdvertiseAddr != "broker4:9092" {
					t.Errorf("env not applied: %+v", c)
				}
				if c.KafkaAddr != ":19092" {
					t.Errorf("KafkaAddr = %q, want the file's value", c.KafkaAddr)
				}
			},
		},
		{
			name: "empty env is unset",
			args: []string{"--config", file},
			env:  map[string]string{"CHRONIK_DATA_DIR": ""},
			check: func(t *testing.T, c Config) {
				if c.DataDir != "/file/data" {
					t.Errorf("DataDir = %q, want the file's value", c.DataDir)
				}
			},
		},
		{
			name: "flag over env over file",
			args: []string{"--config", file, "--node-id", "5", "--data-dir", "/flag/data", "--raft-addr", "10.0.0.5:9095", "--http-addr", ":0"},
			env:  map[string]string{"CHRONIK_NODE_ID": "4", "CHRONIK_DATA_DIR": "/env/data", "CHRONIK_LOG_LEVEL": "error"},
			check: func(t *testing.T, c Config) {
				if c.NodeID != 5 || c.DataDir != "/flag/data" || c.RaftAddr != "10.0.0.5:9095" || c.HTTPAddr != ":0" {
					t.Errorf("flags not applied: %+v", c)
				}
				if c.LogLevel != "error" {
					t.Errorf("LogLevel = %q, want env's error (no flag given)", c.LogLevel)
				}
			},
		},
		{
			name: "unchanged flag does not mask env",
			env:  map[string]string{"CHRONIK_KAFKA_ADDR": "127.0.0.1:29092"},
			check: func(t *testing.T, c Config) {
				if c.KafkaAddr != "127.0.0.1:29092" {
					t.Errorf("KafkaAddr = %q, want env's value", c.KafkaAddr)
				}
			},
		},
		{
			name: "flag equal to default still wins",
			args: []string{"--log-level", "info"},
			env:  map[string]string{"CHRONIK_LOG_LEVEL": "debug"},
			check: func(t *testing.T, c Config) {
				if c.LogLevel != "info" {
					t.Errorf("LogLevel = %q, want info from the flag", c.LogLevel)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(flagSet(t, tt.args...), envMap(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadNilFlagSetAndEnv(t *testing.T) {
	c, err := Load(nil, nil)
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Fatalf("Load(nil, nil) = %+v, %v", c, err)
	}
}

func TestTierDefaults(t *testing.T) {
	got := Default().Tier
	want := TierConfig{
		CacheBytes:      GiB,
		CheckInterval:   time.Second,
		SweepInterval:   10 * time.Minute,
		OrphanGrace:     time.Hour,
		MaxPendingBytes: 4 * GiB,
		UploadTimeout:   5 * time.Minute,
	}
	if got != want {
		t.Fatalf("Default().Tier = %+v, want %+v", got, want)
	}
}

func TestTierResolved(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		tier             TierConfig
		dataDir          string
		wantURL, wantDir string
	}{
		{"absolute data dir", TierConfig{}, "/var/lib/chronik", "file:///var/lib/chronik/tier", "/var/lib/chronik/tier-cache"},
		{"relative data dir", TierConfig{}, "./data", "file://" + filepath.ToSlash(filepath.Join(wd, "data", "tier")), filepath.Join("data", "tier-cache")},
		{"path needing escapes", TierConfig{}, "/srv/my data#1", "file:///srv/my%20data%231/tier", "/srv/my data#1/tier-cache"},
		{"explicit", TierConfig{URL: "s3://bucket/prefix", CacheDir: "/cache"}, "/var/lib/chronik", "s3://bucket/prefix", "/cache"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tier.ResolvedURL(tt.dataDir); got != tt.wantURL {
				t.Errorf("ResolvedURL(%q) = %q, want %q", tt.dataDir, got, tt.wantURL)
			}
			if got := tt.tier.ResolvedCacheDir(tt.dataDir); got != tt.wantDir {
				t.Errorf("ResolvedCacheDir(%q) = %q, want %q", tt.dataDir, got, tt.wantDir)
			}
		})
	}
}

func TestLoadBackup(t *testing.T) {
	cfg, err := Parse("backup.toml", []byte("[backup]\ninterval = \"30m\"\nlog-growth-entries = 5000\nkeep = 3\ncompression = \"gzip\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := BackupConfig{Interval: 30 * time.Minute, LogGrowthEntries: 5000, Keep: 3, Compression: "gzip"}
	if cfg.Backup != want {
		t.Fatalf("Backup = %+v, want %+v", cfg.Backup, want)
	}
	if d := Default().Backup; d != (BackupConfig{Interval: time.Hour, Keep: 7, Compression: "zstd"}) {
		t.Fatalf("Default().Backup = %+v", d)
	}
	if _, err := Parse("backup.toml", []byte("[backup]\ninterval = 3600\n")); err == nil {
		t.Fatal("an integer interval was accepted")
	}
}

// TestLoadDirectWrites: raft.direct-writes is on by default and turns off
// from a file.
func TestLoadDirectWrites(t *testing.T) {
	if !Default().Raft.DirectWrites {
		t.Fatal("raft.direct-writes is off by default")
	}
	cfg, err := Parse("raft.toml", []byte("[raft]\ndirect-writes = false\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Raft.DirectWrites {
		t.Fatal("direct-writes = false did not turn direct writes off")
	}
}

// TestLoadSecurity: the TLS and SASL keys load from a file, and an unknown
// SASL mechanism is refused with the ones that exist.
func TestLoadSecurity(t *testing.T) {
	cfg, err := Parse("sec.toml", []byte(`[kafka]
tls-cert-file = "/etc/c.pem"
tls-key-file = "/etc/k.pem"
sasl-mechanisms = ["SCRAM-SHA-512", "PLAIN"]
sasl-users-file = "/etc/users.toml"
[raft]
tls-ca-file = "/etc/ca.pem"
tls-cert-file = "/etc/c.pem"
tls-key-file = "/etc/k.pem"
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if k := cfg.Kafka; !slices.Equal(k.SASLMechanisms, []string{"SCRAM-SHA-512", "PLAIN"}) || k.SASLUsersFile != "/etc/users.toml" || k.TLSCertFile != "/etc/c.pem" {
		t.Fatalf("kafka security settings: %+v", k)
	}
	cfg.Kafka.SASLMechanisms = []string{"GSSAPI"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "SCRAM-SHA-256") {
		t.Fatalf("GSSAPI: %v", err)
	}
}

func TestLoadTier(t *testing.T) {
	file := writeFile(t, `
[tier]
url = "file:///file/tier"
cache-dir = "/file/cache"
cache-bytes = 2097152
check-interval = "250ms"
sweep-interval = "30s"
orphan-grace = "2h"
max-pending-bytes = 0
upload-timeout = "90s"
`)
	fromFile := TierConfig{
		URL:             "file:///file/tier",
		CacheDir:        "/file/cache",
		CacheBytes:      2 * MiB,
		CheckInterval:   250 * time.Millisecond,
		SweepInterval:   30 * time.Second,
		OrphanGrace:     2 * time.Hour,
		MaxPendingBytes: 0,
		UploadTimeout:   90 * time.Second,
	}
	withURL := func(u string) TierConfig {
		c := fromFile
		c.URL = u
		return c
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want TierConfig
	}{
		{"file", nil, nil, fromFile},
		{"env over file", nil, map[string]string{"CHRONIK_TIER": "s3://env/prefix"}, withURL("s3://env/prefix")},
		{"flag over file", []string{"--tier", "s3://flag/prefix"}, nil, withURL("s3://flag/prefix")},
		{"flag over env", []string{"--tier", "s3://flag/prefix"}, map[string]string{"CHRONIK_TIER": "s3://env/prefix"}, withURL("s3://flag/prefix")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(flagSet(t, append([]string{"--config", file}, tt.args...)...), envMap(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Tier != tt.want {
				t.Errorf("Tier = %+v\nwant   %+v", c.Tier, tt.want)
			}
		})
	}
}

// TestLoadShutdownTimeout: the file, the environment and the flag set it,
// in that order of precedence; a negative value is refused.
func TestLoadShutdownTimeout(t *testing.T) {
	file := writeFile(t, "shutdown-timeout = \"45s\"\n")
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want time.Duration
	}{
		{"file", nil, nil, 45 * time.Second},
		{"env", nil, map[string]string{"CHRONIK_SHUTDOWN_TIMEOUT": "10s"}, 10 * time.Second},
		{"flag", []string{"--shutdown-timeout", "0"}, map[string]string{"CHRONIK_SHUTDOWN_TIMEOUT": "10s"}, 0},
	} {
		c, err := Load(flagSet(t, append([]string{"--config", file}, tt.args...)...), envMap(tt.env))
		if err != nil || c.ShutdownTimeout != tt.want {
			t.Errorf("%s: shutdown-timeout %s, %v; want %s", tt.name, c.ShutdownTimeout, err, tt.want)
		}
	}
	if d := Default().ShutdownTimeout; d != 2*time.Minute {
		t.Errorf("default shutdown-timeout %s, want 2m", d)
	}
	for _, bad := range []string{"-1s", "soon"} {
		if _, err := Load(flagSet(t, "--shutdown-timeout", bad), nil); err == nil || !strings.Contains(err.Error(), "shutdown-timeout") {
			t.Errorf("--shutdown-timeout %s: %v, want an error naming the setting", bad, err)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		file string // config file body; empty means no file
		args []string
		env  map[string]string
		want []string // substrings of the error
	}{
		{
			name: "unknown top-level key",
			file: "node-id = 2\nnode_id = 3\n",
			want: []string{"line 2", `unknown key "node_id"`, "docs/configuration.md"},
		},
		{
			name: "unknown nested keys are all reported",
			file: "[kafka]\nmax-request-byte = 10\n\n[raft]\nrtt = \"10ms\"\nheartbeat = 3\n",
			want: []string{`line 2: unknown key "kafka.max-request-byte"`, `line 6: unknown key "raft.heartbeat"`},
		},
		{
			name: "unknown table",
			file: "[tiering]\nurl = \"file:///x\"\n",
			want: []string{"line 1", `unknown key "tiering"`},
		},
		{
			name: "wrong type",
			file: "\nnode-id = \"one\"\n",
			want: []string{"line 2", "node-id: got a TOML string, want an integer"},
		},
		{
			name: "wrong type bool",
			file: "[kafka]\nauto-create-topics = \"yes\"\n",
			want: []string{"line 2", "kafka.auto-create-topics: got a TOML string, want true or false"},
		},
		{
			name: "integer out of range",
			file: "[kafka]\ndefault-replication-factor = 70000\n",
			want: []string{"line 2", "kafka.default-replication-factor"},
		},
		{
			name: "bad duration",
			file: "[raft]\nrtt = \"ten millis\"\n",
			want: []string{"line 2", "raft.rtt", `invalid duration "ten millis"`, `"10ms"`},
		},
		{
			name: "duration as integer",
			file: "[raft]\nrtt = 10\n",
			want: []string{`invalid duration "10"`, `string such as "10ms"`, "raft.rtt"},
		},
		{
			name: "unknown key in [tier]",
			file: "[tier]\nurl = \"mem://\"\ncache-size = 10\n",
			want: []string{`line 3: unknown key "tier.cache-size"`},
		},
		{
			name: "tier duration as integer",
			file: "[tier]\ncheck-interval = 1\n",
			want: []string{`invalid duration "1"`, `string such as "10ms"`, "tier.check-interval"},
		},
		{
			name: "tier bad duration",
			file: "[tier]\n\nsweep-interval = \"ten minutes\"\n",
			want: []string{"line 3", "tier.sweep-interval", `invalid duration "ten minutes"`},
		},
		{
			name: "tier as a top-level URL",
			file: "node-id = 1\ntier = \"file:///x\"\n",
			want: []string{"line 2", "tier: got a TOML string, want a table", "tier is a section", `url = "…" under a [tier] line`},
		},
		{
			name: "tier.url invalid after overlay",
			file: "[tier]\nurl = \"s3://bucket\"\n",
			env:  map[string]string{"CHRONIK_TIER": "bucket"},
			want: []string{`tier.url "bucket" is not an object-store URL`, "--tier", "CHRONIK_TIER", "[tier] section"},
		},
		{
			name: "syntax error",
			file: "node-id = \n",
			want: []string{"line 1"},
		},
		{
			name: "missing file",
			args: []string{"--config", "/does/not/exist.toml"},
			want: []string{"cannot read the config file", "/does/not/exist.toml"},
		},
		{
			name: "env not an integer",
			env:  map[string]string{"CHRONIK_NODE_ID": "abc"},
			want: []string{`CHRONIK_NODE_ID="abc"`, "not a 32-bit integer"},
		},
		{
			name: "flag value invalid after overlay",
			args: []string{"--log-level", "verbose"},
			want: []string{`log-level "verbose"`, "debug, info, warn, error", "--log-level", "CHRONIK_LOG_LEVEL"},
		},
		{
			name: "file value invalid after overlay",
			file: "[raft]\nelection-rtt = 4\n",
			want: []string{"raft.election-rtt (4) must be greater than 2 × raft.heartbeat-rtt (2)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config", writeFile(t, tt.file)}, args...)
			}
			_, err := Load(flagSet(t, args...), envMap(tt.env))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string // substring of the error; empty means valid
	}{
		{"default", func(*Config) {}, ""},
		{"node-id zero", func(c *Config) { c.NodeID = 0 }, "node-id is 0; it must be >= 1"},
		{"node-id negative", func(c *Config) { c.NodeID = -1 }, "set --node-id, CHRONIK_NODE_ID or node-id in the config file"},
		{"data-dir empty", func(c *Config) { c.DataDir = " " }, "data-dir is empty"},
		{"kafka-addr no port", func(c *Config) { c.KafkaAddr = "localhost" }, `kafka-addr "localhost": not host:port`},
		{"kafka-addr bad port", func(c *Config) { c.KafkaAddr = ":99999" }, `port "99999" is not a number from 0 to 65535`},
		{"kafka-addr port 0 ok", func(c *Config) { c.KafkaAddr = "127.0.0.1:0" }, ""},
		{"kafka-addr ipv6 ok", func(c *Config) { c.KafkaAddr = "[::]:9092" }, ""},
		{"advertise-addr wildcard", func(c *Config) { c.AdvertiseAddr = "0.0.0.0:9092" }, "advertise-addr \"0.0.0.0:9092\": needs a concrete host"},
		{"advertise-addr port 0", func(c *Config) { c.AdvertiseAddr = "b1:0" }, "needs a fixed port"},
		{"advertise-addr ok", func(c *Config) { c.AdvertiseAddr = "b1.example.com:9092" }, ""},
		{"raft-addr empty host", func(c *Config) { c.RaftAddr = ":9095" }, `raft-addr ":9095": needs a concrete host`},
		{"raft-addr ipv6 wildcard", func(c *Config) { c.RaftAddr = "[::]:9095" }, "needs a concrete host"},
		{"http-addr garbage", func(c *Config) { c.HTTPAddr = "http://x" }, `http-addr "http://x"`},
		{"tier not a URL", func(c *Config) { c.Tier.URL = "/var/tier" }, `tier.url "/var/tier" is not an object-store URL`},
		{"tier ok", func(c *Config) { c.Tier.URL = "file:///var/tier" }, ""},
		{"tier url empty ok", func(c *Config) { c.Tier.URL = "" }, ""},
		{"tier cache-bytes small", func(c *Config) { c.Tier.CacheBytes = MiB - 1 }, "tier.cache-bytes is 1048575; it must be >= 1048576 (1 MiB)"},
		{"tier cache-bytes 1 MiB ok", func(c *Config) { c.Tier.CacheBytes = MiB }, ""},
		{"tier check-interval short", func(c *Config) { c.Tier.CheckInterval = 5 * time.Millisecond }, "tier.check-interval is 5ms; it must be between 10ms and 1h"},
		{"tier check-interval long", func(c *Config) { c.Tier.CheckInterval = 2 * time.Hour }, "tier.check-interval is 2h0m0s; it must be between 10ms and 1h"},
		{"tier check-interval bounds ok", func(c *Config) { c.Tier.CheckInterval = 10 * time.Millisecond }, ""},
		{"min free bytes negative", func(c *Config) { c.Storage.MinFreeBytes = -1 }, "storage.min-free-bytes is -1; it must be >= 0"},
		{"min free bytes off", func(c *Config) { c.Storage.MinFreeBytes = 0 }, ""},
		{"batch page cache small", func(c *Config) { c.Storage.BatchPageCacheBytes = MiB - 1 }, "storage.batch-page-cache-bytes is 1048575; it must be 0"},
		{"batch page cache negative", func(c *Config) { c.Storage.BatchPageCacheBytes = -1 }, "storage.batch-page-cache-bytes is -1"},
		{"batch page cache off", func(c *Config) { c.Storage.BatchPageCacheBytes = 0 }, ""},
		{"batch page cache 1 MiB ok", func(c *Config) { c.Storage.BatchPageCacheBytes = MiB }, ""},
		{"cleaner io bound small", func(c *Config) { c.Kafka.LogCleanerIOMaxBytesPerSecond = 1000 }, "kafka.log-cleaner-io-max-bytes-per-second is 1000; it must be 0 (no bound) or at least 1048576"},
		{"cleaner io bound negative", func(c *Config) { c.Kafka.LogCleanerIOMaxBytesPerSecond = -1 }, "kafka.log-cleaner-io-max-bytes-per-second is -1"},
		{"transactional ID expiration short", func(c *Config) { c.Kafka.TransactionalIDExpiration = time.Millisecond }, "kafka.transactional-id-expiration is 1ms; it must be at least 1s"},
		{"transaction version", func(c *Config) { c.Kafka.TransactionVersion = 3 }, "kafka.transaction-version is 3; it must be 0, 1 or 2"},
		{"group protocols without classic", func(c *Config) { c.Kafka.GroupRebalanceProtocols = []string{"consumer"} }, `kafka.group-rebalance-protocols is ["consumer"]; it must list "classic"`},
		{"unknown group protocol", func(c *Config) { c.Kafka.GroupRebalanceProtocols = []string{"classic", "share"} }, `kafka.group-rebalance-protocols lists "share"`},
		{"group max size 0", func(c *Config) { c.Kafka.GroupMaxSize = 0 }, "kafka.group-max-size is 0; it must be >= 1"},
		{"consumer group max size -1", func(c *Config) { c.Kafka.GroupConsumerMaxSize = -1 }, "kafka.group-consumer-max-size is -1; it must be >= 1"},
		{"unknown migration policy", func(c *Config) { c.Kafka.GroupConsumerMigrationPolicy = "both" }, `kafka.group-consumer-migration-policy is "both"; it must be "bidirectional", "upgrade", "downgrade" or "disabled"`},
		{"consumer session timeout", func(c *Config) { c.Kafka.GroupConsumerSessionTimeout = 10 * time.Millisecond }, "kafka.group-consumer-session-timeout is 10ms"},
		{"consumer heartbeat interval", func(c *Config) { c.Kafka.GroupConsumerHeartbeatInterval = time.Minute }, "kafka.group-consumer-heartbeat-interval is 1m0s; it must be at least 100ms and below kafka.group-consumer-session-timeout (45s)"},
		{"transaction timeout short", func(c *Config) { c.Kafka.TransactionMaxTimeout = time.Millisecond }, "kafka.transaction-max-timeout is 1ms; it must be between 1s and 168h"},
		{"cleaner backoff short", func(c *Config) { c.Kafka.LogCleanerBackoff = time.Millisecond }, "kafka.log-cleaner-backoff is 1ms; it must be between 10ms and 24h"},
		{"log retention check short", func(c *Config) { c.Kafka.LogRetentionCheckInterval = time.Millisecond }, "kafka.log-retention-check-interval is 1ms; it must be between 10ms and 24h"},
		{"log retention check long", func(c *Config) { c.Kafka.LogRetentionCheckInterval = 25 * time.Hour }, "kafka.log-retention-check-interval is 25h0m0s; it must be between 10ms and 24h"},
		{"tier sweep-interval short", func(c *Config) { c.Tier.SweepInterval = 500 * time.Millisecond }, "tier.sweep-interval is 500ms; it must be >= 1s"},
		{"tier orphan-grace zero", func(c *Config) { c.Tier.OrphanGrace = 0 }, "tier.orphan-grace is 0s; it must be >= 1s"},
		{"tier orphan-grace within upload-timeout", func(c *Config) { c.Tier.OrphanGrace = 5 * time.Minute }, "tier.orphan-grace (5m0s) must be longer than tier.upload-timeout (5m0s)"},
		{"tier max-pending-bytes small", func(c *Config) { c.Tier.MaxPendingBytes = KiB }, "tier.max-pending-bytes is 1024; it must be 0 (no limit) or >= 1048576 (1 MiB)"},
		{"tier max-pending-bytes negative", func(c *Config) { c.Tier.MaxPendingBytes = -1 }, "tier.max-pending-bytes is -1"},
		{"tier max-pending-bytes unlimited", func(c *Config) { c.Tier.MaxPendingBytes = 0 }, ""},
		{"tier upload-timeout short", func(c *Config) { c.Tier.UploadTimeout = 0 }, "tier.upload-timeout is 0s; it must be >= 1s"},
		{"backup interval short", func(c *Config) { c.Backup.Interval = time.Second }, "backup.interval is 1s; it must be 0 (no scheduled backups) or >= 1m"},
		{"backup interval off ok", func(c *Config) { c.Backup.Interval = 0 }, ""},
		{"backup keep zero", func(c *Config) { c.Backup.Keep = 0 }, "backup.keep is 0; it must be >= 1"},
		{"backup compression unknown", func(c *Config) { c.Backup.Compression = "lz4" }, `backup.compression "lz4": use zstd, gzip or none`},
		{"backup gzip ok", func(c *Config) { c.Backup.Compression = "gzip" }, ""},
		{"log-level unknown", func(c *Config) { c.LogLevel = "trace" }, `log-level "trace" is not one of debug, info, warn, error`},
		{"log-level any case", func(c *Config) { c.LogLevel = "WARN" }, ""},
		{"max-request-bytes small", func(c *Config) { c.Kafka.MaxRequestBytes = 1000 }, "kafka.max-request-bytes is 1000; it must be between 1024 (1 KiB) and 1073741824 (1 GiB)"},
		{"max-request-bytes large", func(c *Config) { c.Kafka.MaxRequestBytes = GiB + 1; c.Raft.MaxInMemLogSize = 0 }, "kafka.max-request-bytes is 1073741825"},
		{"default-partitions zero", func(c *Config) { c.Kafka.DefaultPartitions = 0 }, "kafka.default-partitions is 0"},
		{"default-partitions above max", func(c *Config) { c.Kafka.DefaultPartitions = 20; c.Kafka.MaxPartitionsPerTopic = 10 }, "kafka.default-partitions (20) exceeds kafka.max-partitions-per-topic (10)"},
		{"replication factor negative", func(c *Config) { c.Kafka.DefaultReplicationFactor = -1 }, "kafka.default-replication-factor is -1"},
		{"max partitions zero", func(c *Config) { c.Kafka.MaxPartitionsPerTopic = 0 }, "kafka.max-partitions-per-topic is 0"},
		{"cluster-id empty", func(c *Config) { c.Kafka.ClusterID = "" }, "kafka.cluster-id is empty"},
		{"rtt zero", func(c *Config) { c.Raft.RTT = 0 }, "raft.rtt is 0s; it must be a whole number of milliseconds"},
		{"rtt fractional", func(c *Config) { c.Raft.RTT = 1500 * time.Microsecond }, "raft.rtt is 1.5ms"},
		{"heartbeat zero", func(c *Config) { c.Raft.HeartbeatRTT = 0 }, "raft.heartbeat-rtt is 0"},
		{"election too short", func(c *Config) { c.Raft.ElectionRTT = 4 }, "raft.election-rtt (4) must be greater than 2 × raft.heartbeat-rtt (2); 4 to 10 × is recommended, e.g. election-rtt = 8"},
		{"in-mem log below request size", func(c *Config) { c.Raft.MaxInMemLogSize = MiB }, "raft.max-in-mem-log-size (1048576) is smaller than kafka.max-request-bytes (104857600)"},
		{"in-mem log unlimited", func(c *Config) { c.Raft.MaxInMemLogSize = 0 }, ""},
		{"logdb shards zero", func(c *Config) { c.Raft.LogDBShards = 0 }, "raft.logdb-shards is 0"},
		{"exec shards zero", func(c *Config) { c.Raft.ExecShards = 0 }, "raft.exec-shards is 0"},
		{"kafka tls cert without key", func(c *Config) { c.Kafka.TLSCertFile = "c.pem" }, "kafka.tls-cert-file and kafka.tls-key-file go together"},
		{"kafka client ca without listener tls", func(c *Config) { c.Kafka.TLSClientCAFile = "ca.pem" }, "kafka.tls-client-ca-file needs kafka.tls-cert-file"},
		{"raft tls incomplete", func(c *Config) { c.Raft.TLSCAFile, c.Raft.TLSCertFile = "ca.pem", "c.pem" }, "raft.tls-ca-file, raft.tls-cert-file and raft.tls-key-file go together"},
		{"http tls incomplete", func(c *Config) { c.HTTP.TLSCertFile = "c.pem" }, "http.tls-cert-file and http.tls-key-file go together"},
		{"http ca without tls", func(c *Config) { c.HTTP.TLSCAFile = "ca.pem" }, "http.tls-ca-file needs http.tls-cert-file"},
		{"tracing ratio", func(c *Config) { c.Tracing.SampleRatio = 1.5 }, "tracing.sample-ratio is 1.5"},
		{"oauthbearer without a key set", func(c *Config) { c.Kafka.SASLMechanisms = []string{"OAUTHBEARER"} }, "kafka.oauthbearer-jwks-url goes with OAUTHBEARER"},
		{"key set without oauthbearer", func(c *Config) { c.Kafka.OAuthBearerJWKSURL = "https://idp/jwks" }, "kafka.oauthbearer-jwks-url goes with OAUTHBEARER"},
		{"key set url", func(c *Config) {
			c.Kafka.SASLMechanisms, c.Kafka.OAuthBearerJWKSURL = []string{"OAUTHBEARER"}, "idp/jwks"
		}, "kafka.oauthbearer-jwks-url \"idp/jwks\""},
		{"plain without users", func(c *Config) { c.Kafka.SASLMechanisms = []string{"PLAIN"} }, "kafka.sasl-users-file goes with the password mechanisms"},
		{"users without a password mechanism", func(c *Config) {
			c.Kafka.SASLMechanisms, c.Kafka.SASLUsersFile, c.Kafka.OAuthBearerJWKSURL = []string{"OAUTHBEARER"}, "users.toml", "https://idp/jwks"
		}, "kafka.sasl-users-file goes with the password mechanisms"},
		{"oauthbearer and scram without users", func(c *Config) {
			c.Kafka.SASLMechanisms, c.Kafka.OAuthBearerJWKSURL = []string{"OAUTHBEARER", "SCRAM-SHA-512"}, "https://idp/jwks"
		}, ""},
		{"tokens with gssapi and scram", func(c *Config) {
			c.Kafka.SASLMechanisms, c.Kafka.SASLKerberosKeytab = []string{"GSSAPI", "SCRAM-SHA-512"}, "kafka.keytab"
			c.Kafka.DelegationTokenSecretKey = "0123456789abcdef0123456789abcdef"
		}, ""},
		{"tokens without scram", func(c *Config) {
			c.Kafka.SASLMechanisms, c.Kafka.SASLKerberosKeytab = []string{"GSSAPI"}, "kafka.keytab"
			c.Kafka.DelegationTokenSecretKey = "0123456789abcdef0123456789abcdef"
		}, "add SCRAM-SHA-512 or SCRAM-SHA-256"},
		{"short token secret", func(c *Config) {
			c.Kafka.SASLMechanisms, c.Kafka.SASLUsersFile, c.Kafka.DelegationTokenSecretKey = []string{"SCRAM-SHA-512"}, "users.toml", "short"
		}, "kafka.delegation-token-secret-key is 5 characters"},
		{"token lifetime zero", func(c *Config) { c.Kafka.DelegationTokenMaxLifetime = 0 }, "kafka.delegation-token-max-lifetime (0s)"},
		{"gssapi without a keytab", func(c *Config) { c.Kafka.SASLMechanisms = []string{"GSSAPI"} }, "kafka.sasl-kerberos-keytab goes with GSSAPI"},
		{"keytab without gssapi", func(c *Config) { c.Kafka.SASLKerberosKeytab = "kafka.keytab" }, "kafka.sasl-kerberos-keytab goes with GSSAPI"},
		{"gssapi alone needs no users", func(c *Config) {
			c.Kafka.SASLMechanisms, c.Kafka.SASLKerberosKeytab = []string{"GSSAPI"}, "kafka.keytab"
		}, ""},
		{"kerberos service name a principal", func(c *Config) { c.Kafka.SASLKerberosServiceName = "kafka/b1" }, "kafka.sasl-kerberos-service-name \"kafka/b1\""},
		{"authorizer unknown", func(c *Config) { c.Kafka.Authorizer = "StandardAuthorizer" }, "kafka.authorizer \"StandardAuthorizer\": use \"acl\""},
		{"authorizer acl", func(c *Config) { c.Kafka.Authorizer, c.Kafka.AllowEveryoneIfNoACLFound = "acl", true }, ""},
		{"super user not a principal", func(c *Config) { c.Kafka.SuperUsers = []string{"admin"} }, "kafka.super-users: \"admin\" is not a principal"},
		{"reauth negative", func(c *Config) { c.Kafka.ConnectionsMaxReauth = -time.Second }, "kafka.connections-max-reauth is -1s"},
		{"idle negative", func(c *Config) { c.Kafka.ConnectionsMaxIdle = -time.Second }, "kafka.connections-max-idle is -1s"},
		{"max connections negative", func(c *Config) { c.Kafka.MaxConnectionsPerIP = -1 }, "kafka.max-connections-per-ip (-1)"},
		{"tracing endpoint", func(c *Config) { c.Tracing.OTLPEndpoint = "otel-collector:4318" }, "tracing.otlp-endpoint \"otel-collector:4318\""},
		{"snapshot bytes negative", func(c *Config) { c.Raft.SnapshotBytes = -1 }, "raft.snapshot-bytes is -1"},
		{"compaction overhead bytes negative", func(c *Config) { c.Raft.CompactionOverheadBytes = -1 }, "raft.compaction-overhead-bytes is -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Fatalf("Validate() = nil, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("Validate() = %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.NodeID = 0
	c.LogLevel = "loud"
	c.Raft.ExecShards = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("want an error")
	}
	if n := len(strings.Split(err.Error(), "\n")); n != 3 {
		t.Fatalf("got %d lines, want 3:\n%v", n, err)
	}
}

func TestAdvertisedKafkaAddr(t *testing.T) {
	tests := []struct {
		kafka, advertise, want string
	}{
		{":9092", "", "127.0.0.1:9092"},
		{"0.0.0.0:9092", "", "127.0.0.1:9092"},
		{"[::]:9092", "", "127.0.0.1:9092"},
		{"10.1.2.3:9092", "", "10.1.2.3:9092"},
		{"[fd00::1]:9092", "", "[fd00::1]:9092"},
		{"localhost:19092", "", "localhost:19092"},
		{":9092", "broker1.example.com:9092", "broker1.example.com:9092"},
		{":9092", ":29092", "127.0.0.1:29092"},
	}
	for _, tt := range tests {
		c := Default()
		c.KafkaAddr, c.AdvertiseAddr = tt.kafka, tt.advertise
		if got := c.AdvertisedKafkaAddr(); got != tt.want {
			t.Errorf("kafka %q advertise %q: got %q, want %q", tt.kafka, tt.advertise, got, tt.want)
		}
	}
}

func TestBindFlagsHelp(t *testing.T) {
	fs := flagSet(t)
	for _, name := range []string{"config", "node-id", "data-dir", "kafka-addr", "advertise-addr", "raft-addr", "http-addr", "tier", "log-level"} {
		f := fs.Lookup(name)
		if f == nil {
			t.Errorf("flag --%s not registered", name)
			continue
		}
		if !strings.Contains(f.Usage, "(env "+EnvName(name)) {
			t.Errorf("--%s usage %q does not name %s", name, f.Usage, EnvName(name))
		}
	}
	if got := fs.Lookup("data-dir").DefValue; got != "./data" {
		t.Errorf("--data-dir default = %q", got)
	}
	if got := fs.Lookup("node-id").DefValue; got != "1" {
		t.Errorf("--node-id default = %q", got)
	}
}

// tomlKeys lists every key of Config as the file spells it (kafka.cluster-id).
func tomlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("toml") == "-" {
			continue // not a file key (set by Load)
		}
		key := prefix + f.Tag.Get("toml")
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
			keys = append(keys, tomlKeys(f.Type, key+".")...)
			continue
		}
		keys = append(keys, key)
	}
	return keys
}

// TestDocs keeps docs/configuration.md complete: every flag, env var and
// key appears, and its example file loads strictly and validates.
func TestDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	var want []string
	for _, k := range tomlKeys(reflect.TypeFor[Config](), "") {
		want = append(want, "`"+k+"`")
	}
	want = append(want, "`--config`", "`"+EnvName(FileFlag)+"`")
	for _, s := range settings {
		want = append(want, "`--"+s.key+"`", "`"+s.env()+"`")
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("docs/configuration.md does not mention %s", w)
		}
	}

	m := regexp.MustCompile("(?s)```toml\n(.*?)```").FindStringSubmatch(text)
	if m == nil {
		t.Fatal("docs/configuration.md has no ```toml example")
	}
	cfg, err := Parse("docs/configuration.md example", []byte(m[1]))
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if cfg.Raft != Default().Raft {
		t.Errorf("example [raft] = %+v, want the defaults %+v", cfg.Raft, Default().Raft)
	}
	if cfg.Tier != Default().Tier {
		t.Errorf("example [tier] = %+v, want the defaults %+v", cfg.Tier, Default().Tier)
	}
}
