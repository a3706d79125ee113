package opsctl

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/pflag"

	"github.com/chronik-go/chronik/core/config"
)

// EnvBrokers names the environment variable that replaces --brokers.
var EnvBrokers = config.EnvName("brokers")

// defaultKafkaPort is appended to a --brokers entry without a port.
const defaultKafkaPort = "9092"

// ResolveBrokers picks the seed brokers with the project's precedence,
// flag > environment > config file > default:
//
//   - flagValue (--brokers) when non-empty;
//   - else CHRONIK_BROKERS when non-empty;
//   - else, from the config file (configFile, else CHRONIK_CONFIG), the
//     kafka address of every [[nodes]] entry of a cluster;
//   - else the Kafka address `chronik serve` would advertise with the same
//     config file and CHRONIK_* environment — 127.0.0.1:9092 when there is
//     neither.
//
// getenv is usually os.Getenv.
func ResolveBrokers(flagValue, configFile string, getenv func(string) string) ([]string, error) {
	if strings.TrimSpace(flagValue) != "" {
		return ParseBrokers("--brokers", flagValue)
	}
	if v := getenv(EnvBrokers); strings.TrimSpace(v) != "" {
		return ParseBrokers(EnvBrokers, v)
	}
	fs := pflag.NewFlagSet("brokers", pflag.ContinueOnError)
	fs.String(config.FileFlag, "", "")
	if configFile != "" {
		if err := fs.Set(config.FileFlag, configFile); err != nil {
			return nil, invalidf("--config %q: %v", configFile, err)
		}
	}
	cfg, err := config.Load(fs, getenv)
	if err != nil {
		return nil, failf(ErrInvalidInput, err, "finding the cluster's address in the broker config: %v\nor name the brokers directly with --brokers host:port or %s", err, EnvBrokers)
	}
	var out []string
	for _, n := range cfg.Nodes {
		if n.Kafka != "" {
			out = append(out, n.Kafka)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	return []string{cfg.AdvertisedKafkaAddr()}, nil
}

// ParseBrokers splits a comma-separated host:port list; a missing port
// means 9092. source names the flag or variable for errors.
func ParseBrokers(source, s string) ([]string, error) {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		addr := strings.TrimSpace(part)
		if addr == "" {
			return nil, invalidf("%s %q: empty address in the list; use host:port[,host:port…]", source, s)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			// A bare host or IPv4 address: add the default port.
			if strings.Count(addr, ":") == 0 {
				host, port, err = addr, defaultKafkaPort, nil
			} else {
				return nil, invalidf("%s: %q is not host:port (e.g. 127.0.0.1:9092, [::1]:9092)", source, addr)
			}
		}
		if host == "" {
			return nil, invalidf("%s: %q has no host; use e.g. 127.0.0.1%s", source, addr, addr)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, invalidf("%s: %q has an invalid port; use 1-65535", source, addr)
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	return out, nil
}

// ParseConfigs checks repeatable --config key=value values and returns them
// as a map. Keys must be non-empty, without spaces, and given once; values
// are passed to the broker as is, which validates them.
func ParseConfigs(flag string, kvs []string) (map[string]string, error) {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, invalidf("%s %q: want key=value, e.g. %s retention.ms=86400000", flag, kv, flag)
		}
		key = strings.TrimSpace(key)
		if err := checkConfigKey(flag, key, kv); err != nil {
			return nil, err
		}
		if _, dup := out[key]; dup {
			return nil, invalidf("%s %s is given twice; give each key once", flag, key)
		}
		out[key] = value
	}
	return out, nil
}

// ParseConfigKeys checks repeatable --delete-config keys: no values, no
// duplicates. It returns them sorted.
func ParseConfigKeys(flag string, keys []string) ([]string, error) {
	var out []string
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if strings.Contains(k, "=") {
			return nil, invalidf("%s %q: give only the key (e.g. %s retention.ms); it reverts to its default", flag, k, flag)
		}
		if err := checkConfigKey(flag, k, k); err != nil {
			return nil, err
		}
		if slices.Contains(out, k) {
			return nil, invalidf("%s %s is given twice; give each key once", flag, k)
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}

func checkConfigKey(flag, key, given string) error {
	if key == "" {
		return invalidf("%s %q: the key is empty; want key=value, e.g. %s retention.ms=86400000", flag, given, flag)
	}
	if strings.IndexFunc(key, unicode.IsSpace) >= 0 {
		return invalidf("%s %q: a config key has no spaces (e.g. retention.ms)", flag, given)
	}
	return nil
}

// checkName rejects an empty topic or group name before any request.
func checkName(kind, name string) error {
	if strings.TrimSpace(name) == "" {
		return invalidf("the %s name is empty", kind)
	}
	return nil
}

// ParsePartitions parses a comma-separated list of partition numbers such
// as "0,1,4"; empty means none given. It returns them sorted, without
// duplicates.
func ParsePartitions(flag, s string) ([]int32, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int32
	for part := range strings.SplitSeq(s, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 32)
		if err != nil || n < 0 {
			return nil, invalidf("%s %q: want partition numbers from 0, comma-separated, e.g. 0,1", flag, s)
		}
		out = append(out, int32(n))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
