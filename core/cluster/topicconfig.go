package cluster

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// MaxTopicNameLength is Kafka's limit on topic names (the name must fit a
// file name together with a partition suffix).
const MaxTopicNameLength = 249

// ValidateTopicName applies Kafka's rules: a topic name is 1 to 249
// characters from [a-zA-Z0-9._-] and is neither "." nor "..". The error
// wraps ErrInvalidTopic and says what is wrong.
//
// Kafka also refuses a topic whose name differs from an existing one only
// by '.' versus '_' (they collide in metric names); that check needs the
// existing topics and belongs to topic creation.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: topic name is empty", ErrInvalidTopic)
	case name == "." || name == "..":
		return fmt.Errorf("%w: topic name %q is not allowed", ErrInvalidTopic, name)
	case len(name) > MaxTopicNameLength:
		return fmt.Errorf("%w: topic name is %d characters, the limit is %d", ErrInvalidTopic, len(name), MaxTopicNameLength)
	}
	for i, r := range name {
		if r >= 0x80 || !isTopicChar(byte(r)) {
			return fmt.Errorf("%w: topic name %q has %q at byte %d; only ASCII letters, digits, '.', '_' and '-' are allowed",
				ErrInvalidTopic, name, r, i)
		}
	}
	return nil
}

func isTopicChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// ConfigType is a config value's type, numbered as Kafka's DescribeConfigs
// (v3+) reports it.
type ConfigType int8

// Config types used by topic configs.
const (
	ConfigTypeBoolean ConfigType = 1
	ConfigTypeString  ConfigType = 2
	ConfigTypeInt     ConfigType = 3
	ConfigTypeLong    ConfigType = 5
	ConfigTypeDouble  ConfigType = 6
	ConfigTypeList    ConfigType = 7
)

// TopicConfigDef describes one supported topic config.
type TopicConfigDef struct {
	Name    string
	Type    ConfigType
	Default string
	// Doc is what DescribeConfigs reports as documentation. Configs that
	// Chronik accepts only so that Kafka tooling round-trips say so.
	Doc string
	// check returns why value is invalid, or "" when it is valid.
	check func(value string) string
}

// Validate checks value against the config's type and range. The error
// wraps ErrInvalidConfig.
func (d TopicConfigDef) Validate(value string) error {
	if reason := d.check(value); reason != "" {
		return fmt.Errorf("%w: invalid value %q for %s: %s", ErrInvalidConfig, value, d.Name, reason)
	}
	return nil
}

const compatOnly = " Accepted for compatibility; Chronik does not act on it."

const maxInt64 = "9223372036854775807"

// topicConfigs is sorted by name (init checks).
var topicConfigs = []TopicConfigDef{
	{
		"cleanup.policy", ConfigTypeList, "delete",
		"What happens to old records: \"delete\" removes them by retention.ms/retention.bytes; \"compact\" keeps only the latest record of each key (the log cleaner, kafka.log-cleaner-*). Both may be given. Compacted topics cannot use remote storage.",
		listOf("compact", "delete"),
	},
	{
		"compression.gzip.level", ConfigTypeInt, "-1",
		"Gzip level when compression.type is gzip (1-9, or -1 for the codec default)." + compatOnly,
		intInOrDefault(1, 9, -1),
	},
	{
		"compression.lz4.level", ConfigTypeInt, "9",
		"LZ4 level when compression.type is lz4 (1-17)." + compatOnly,
		intIn(1, 17),
	},
	{
		"compression.type", ConfigTypeString, "producer",
		"Final compression of the topic's batches: \"producer\" stores each batch exactly as produced; a codec (or \"uncompressed\") has the leader recompress every batch produced with another codec before it is stored, at each codec's default level, as Kafka does.",
		oneOf("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
	},
	{
		"compression.zstd.level", ConfigTypeInt, "3",
		"Zstd level when compression.type is zstd (-131072 to 22)." + compatOnly,
		intIn(-131072, 22),
	},
	{
		"delete.retention.ms", ConfigTypeLong, "86400000",
		"How long a tombstone (a record with a null value) that is its key's latest record stays on a compacted topic, counted from its timestamp.",
		longAtLeast(0),
	},
	{
		"file.delete.delay.ms", ConfigTypeLong, "60000",
		"Delay before a deleted segment file is removed from disk." + compatOnly,
		longAtLeast(0),
	},
	{
		"flush.messages", ConfigTypeLong, maxInt64,
		"Messages between forced fsyncs." + compatOnly + " Every acknowledged write is already fsync'd by Raft.",
		longAtLeast(1),
	},
	{
		"flush.ms", ConfigTypeLong, maxInt64,
		"Milliseconds between forced fsyncs." + compatOnly + " Every acknowledged write is already fsync'd by Raft.",
		longAtLeast(0),
	},
	{
		"follower.replication.throttled.replicas", ConfigTypeList, "",
		"Replicas (partition:broker, or *) whose follower replication is throttled." + compatOnly,
		throttledReplicas,
	},
	{
		"index.interval.bytes", ConfigTypeInt, "4096",
		"Bytes between offset index entries." + compatOnly,
		intAtLeast(0),
	},
	{
		"leader.replication.throttled.replicas", ConfigTypeList, "",
		"Replicas (partition:broker, or *) whose leader-side replication is throttled." + compatOnly,
		throttledReplicas,
	},
	{
		"local.retention.bytes", ConfigTypeLong, "-2",
		"Bytes of the log kept on local disk when remote storage is enabled; -2 means retention.bytes.",
		longAtLeast(-2),
	},
	{
		"local.retention.ms", ConfigTypeLong, "-2",
		"Milliseconds of the log kept on local disk when remote storage is enabled; -2 means retention.ms.",
		longAtLeast(-2),
	},
	{
		"max.compaction.lag.ms", ConfigTypeLong, maxInt64,
		"Longest a record waits before a compaction pass sees it: a pass starts when the oldest record no pass has seen is older, whatever min.cleanable.dirty.ratio says.",
		longAtLeast(1),
	},
	{
		"max.message.bytes", ConfigTypeInt, "1048588",
		"Largest record batch the topic accepts, in bytes.",
		intAtLeast(0),
	},
	{
		"message.downconversion.enable", ConfigTypeBoolean, "true",
		"Whether old fetch versions get down-converted batches." + compatOnly,
		boolean,
	},
	{
		"message.timestamp.after.max.ms", ConfigTypeLong, maxInt64,
		"Largest allowed amount by which a CreateTime record timestamp may be ahead of the broker's clock.",
		longAtLeast(0),
	},
	{
		"message.timestamp.before.max.ms", ConfigTypeLong, maxInt64,
		"Largest allowed amount by which a CreateTime record timestamp may be behind the broker's clock.",
		longAtLeast(0),
	},
	{
		"message.timestamp.difference.max.ms", ConfigTypeLong, maxInt64,
		"Largest allowed difference between a CreateTime record timestamp and the broker's clock (deprecated in Kafka for the before/after pair).",
		longAtLeast(0),
	},
	{
		"message.timestamp.type", ConfigTypeString, "CreateTime",
		"Whether record timestamps are the producer's (CreateTime) or the broker's append time (LogAppendTime).",
		oneOf("CreateTime", "LogAppendTime"),
	},
	{
		"min.cleanable.dirty.ratio", ConfigTypeDouble, "0.5",
		"Share of a compacted partition's bytes written since its last compaction pass at which the next pass starts.",
		doubleIn(0, 1),
	},
	{
		"min.compaction.lag.ms", ConfigTypeLong, "0",
		"Shortest time a record stays uncompacted: no pass removes a record whose timestamp is more recent.",
		longAtLeast(0),
	},
	{
		"min.insync.replicas", ConfigTypeInt, "1",
		"Replicas that must acknowledge a write with acks=all.",
		intAtLeast(1),
	},
	{
		"preallocate", ConfigTypeBoolean, "false",
		"Whether segment files are preallocated." + compatOnly,
		boolean,
	},
	{
		"remote.storage.enable", ConfigTypeBoolean, "false",
		"Whether closed segments are tiered to the object store.",
		boolean,
	},
	{
		"retention.bytes", ConfigTypeLong, "-1",
		"Largest size of the whole log (local and remote) per partition before old segments are deleted; -1 means no limit.",
		longAtLeast(-1),
	},
	{
		"retention.ms", ConfigTypeLong, "604800000",
		"How long segments are kept (local and remote) before deletion; -1 means forever.",
		longAtLeast(-1),
	},
	{
		"segment.bytes", ConfigTypeInt, "1073741824",
		"Size at which a segment is rolled.",
		intAtLeast(14),
	},
	{
		"segment.index.bytes", ConfigTypeInt, "10485760",
		"Size of a segment's offset index file." + compatOnly,
		intAtLeast(4),
	},
	{
		"segment.jitter.ms", ConfigTypeLong, "0",
		"Random jitter subtracted from segment.ms." + compatOnly,
		longAtLeast(0),
	},
	{
		"segment.ms", ConfigTypeLong, "604800000",
		"Age at which a segment is rolled even if not full.",
		longAtLeast(1),
	},
	{
		"unclean.leader.election.enable", ConfigTypeBoolean, "false",
		"Whether an out-of-sync replica may become leader, losing data.",
		boolean,
	},
}

var topicConfigIndex = func() map[string]int {
	if !slices.IsSortedFunc(topicConfigs, func(a, b TopicConfigDef) int { return strings.Compare(a.Name, b.Name) }) {
		panic("cluster: topicConfigs is not sorted by name")
	}
	m := make(map[string]int, len(topicConfigs))
	for i, d := range topicConfigs {
		if reason := d.check(d.Default); reason != "" {
			panic(fmt.Sprintf("cluster: default %q of %s is invalid: %s", d.Default, d.Name, reason))
		}
		m[d.Name] = i
	}
	return m
}()

// TopicConfigDefs returns every supported topic config, sorted by name.
func TopicConfigDefs() []TopicConfigDef { return slices.Clone(topicConfigs) }

// LookupTopicConfig returns the definition of the topic config name.
func LookupTopicConfig(name string) (TopicConfigDef, bool) {
	i, ok := topicConfigIndex[name]
	if !ok {
		return TopicConfigDef{}, false
	}
	return topicConfigs[i], true
}

// ConfigDefault returns the default value of the topic config key.
func ConfigDefault(key string) (string, bool) {
	d, ok := LookupTopicConfig(key)
	return d.Default, ok
}

// ValidateTopicConfigs checks every key and value of cfgs. An unknown key or
// an invalid value is ErrInvalidConfig; with several problems the one for
// the first key in sorted order is reported.
func ValidateTopicConfigs(cfgs map[string]string) error {
	keys := make([]string, 0, len(cfgs))
	for k := range cfgs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		d, ok := LookupTopicConfig(k)
		if !ok {
			return fmt.Errorf("%w: unknown topic config %q", ErrInvalidConfig, k)
		}
		if err := d.Validate(cfgs[k]); err != nil {
			return err
		}
	}
	if strings.EqualFold(cfgs["remote.storage.enable"], "true") && listHas(cfgs["cleanup.policy"], "compact") {
		// As in Kafka: tiered segments are never rewritten.
		return fmt.Errorf("%w: remote.storage.enable=true is not supported with cleanup.policy=%s: tiered storage is for topics whose cleanup.policy is delete", ErrInvalidConfig, cfgs["cleanup.policy"])
	}
	return nil
}

// listHas reports whether the list config value v holds item.
func listHas(v, item string) bool {
	for s := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(s), item) {
			return true
		}
	}
	return false
}

// EffectiveConfigs returns every supported topic config sorted by name,
// with the value from set where present (IsDefault false) and the default
// otherwise. Keys in set that are not supported configs are left out.
func EffectiveConfigs(set map[string]string) []ConfigEntry {
	out := make([]ConfigEntry, len(topicConfigs))
	for i, d := range topicConfigs {
		v, ok := set[d.Name]
		if !ok {
			v = d.Default
		}
		out[i] = ConfigEntry{Name: d.Name, Value: v, IsDefault: !ok}
	}
	return out
}

// Validators. Each returns why a value is invalid, or "". Values are parsed
// as Kafka parses them except that surrounding whitespace, which Kafka
// trims, is refused, so that whatever later reads a stored value can parse
// it plainly.

func parseLong(v string) (int64, string) {
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, "out of range for a 64-bit integer"
	case err != nil:
		return 0, "not an integer"
	}
	return n, ""
}

func longAtLeast(lo int64) func(string) string {
	return func(v string) string {
		n, reason := parseLong(v)
		if reason != "" {
			return reason
		}
		if n < lo {
			return fmt.Sprintf("must be at least %d", lo)
		}
		return ""
	}
}

func parseInt(v string) (int64, string) {
	n, err := strconv.ParseInt(v, 10, 32)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, "out of range for a 32-bit integer"
	case err != nil:
		return 0, "not an integer"
	}
	return n, ""
}

func intAtLeast(lo int64) func(string) string {
	return func(v string) string {
		n, reason := parseInt(v)
		if reason != "" {
			return reason
		}
		if n < lo {
			return fmt.Sprintf("must be at least %d", lo)
		}
		return ""
	}
}

func intIn(lo, hi int64) func(string) string {
	return func(v string) string {
		n, reason := parseInt(v)
		if reason != "" {
			return reason
		}
		if n < lo || n > hi {
			return fmt.Sprintf("must be between %d and %d", lo, hi)
		}
		return ""
	}
}

// intInOrDefault is intIn that also accepts the codec-default marker def.
func intInOrDefault(lo, hi, def int64) func(string) string {
	return func(v string) string {
		n, reason := parseInt(v)
		if reason != "" {
			return reason
		}
		if n != def && (n < lo || n > hi) {
			return fmt.Sprintf("must be between %d and %d, or %d", lo, hi, def)
		}
		return ""
	}
}

func doubleIn(lo, hi float64) func(string) string {
	return func(v string) string {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return "not a number"
		}
		if f < lo || f > hi {
			return fmt.Sprintf("must be between %g and %g", lo, hi)
		}
		return ""
	}
}

func boolean(v string) string {
	if strings.EqualFold(v, "true") || strings.EqualFold(v, "false") {
		return ""
	}
	return "must be true or false"
}

func oneOf(allowed ...string) func(string) string {
	return func(v string) string {
		if slices.Contains(allowed, v) {
			return ""
		}
		return "must be one of " + strings.Join(allowed, ", ")
	}
}

// listItems splits a Kafka list value: comma separated, spaces around the
// commas allowed.
func listItems(v string) []string {
	items := strings.Split(v, ",")
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	return items
}

func listOf(allowed ...string) func(string) string {
	return func(v string) string {
		if strings.TrimSpace(v) == "" {
			return "must list at least one of " + strings.Join(allowed, ", ")
		}
		for _, item := range listItems(v) {
			if !slices.Contains(allowed, item) {
				return fmt.Sprintf("%q is not one of %s", item, strings.Join(allowed, ", "))
			}
		}
		return ""
	}
}

// throttledReplicas accepts "", "*" or a list of partition:broker pairs.
func throttledReplicas(v string) string {
	if v == "" || strings.TrimSpace(v) == "*" {
		return ""
	}
	for _, item := range listItems(v) {
		p, b, ok := strings.Cut(item, ":")
		if !ok || !isDigits(p) || !isDigits(b) {
			return fmt.Sprintf("%q is not partition:broker; the value must be *, empty, or a list of partition:broker", item)
		}
	}
	return ""
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
