// Package opsctl is the client side of Chronik's operator commands
// (`chronik topic …`, `chronik group …`). It owns what happens between a
// parsed command line and the text an operator reads: checking input before
// any request, reaching a running cluster through franz-go's kadm, turning
// answers into report values, rendering those as aligned tables or JSON,
// and explaining failures (what went wrong, what to do).
//
// It holds no broker state and never talks to core/broker directly: it is a
// Kafka client like any other. cmd/chronik only defines the commands and
// their flags and calls in here.
package opsctl

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
)

// DefaultTimeout bounds each command's requests unless --timeout says otherwise.
const DefaultTimeout = 10 * time.Second

// clientID is what brokers see in their logs and in DescribeGroups output.
const clientID = "chronik-cli"

// Options says how to reach the cluster.
type Options struct {
	// Brokers are seed host:port addresses; any one reachable broker suffices.
	Brokers []string
	// Timeout bounds connecting and each operation (not the time a person
	// takes to answer a confirmation prompt). Zero means DefaultTimeout.
	Timeout time.Duration
	// TLS, when set, is used for every connection (TLSFiles.Config).
	TLS *tls.Config
	// SASL, when set, authenticates every connection (SASLLogin.Client).
	SASL sasl.Mechanism
}

// Client runs operator commands against one cluster. It is not safe for
// concurrent use by several commands; the CLI runs one at a time.
type Client struct {
	brokers []string
	timeout time.Duration
	kgo     *kgo.Client
	adm     *kadm.Client
	// served maps each API key the answering broker serves to its max
	// version, from one ApiVersions request at Dial.
	served map[int16]int16
	// features are the feature levels that request finalized (KIP-584).
	features map[string]int16
}

// Dial connects to the cluster and checks that a broker answers, so that a
// wrong address fails here with a clear message rather than later inside
// some operation.
func Dial(ctx context.Context, opts Options) (*Client, error) {
	if len(opts.Brokers) == 0 {
		return nil, invalidf("no brokers to connect to: give --brokers host:port")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	kopts := []kgo.Opt{
		kgo.SeedBrokers(opts.Brokers...),
		kgo.ClientID(clientID),
		kgo.DialTimeout(opts.Timeout),
		kgo.RetryTimeout(opts.Timeout),
	}
	if opts.TLS != nil {
		kopts = append(kopts, kgo.DialTLSConfig(opts.TLS))
	}
	if opts.SASL != nil {
		kopts = append(kopts, kgo.SASL(opts.SASL))
	}
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, invalidf("--brokers %s: %v", strings.Join(opts.Brokers, ","), err)
	}
	c := &Client{
		brokers: opts.Brokers,
		timeout: opts.Timeout,
		kgo:     cl,
		adm:     kadm.NewClient(cl),
	}
	c.adm.SetTimeoutMillis(int32(opts.Timeout / time.Millisecond))

	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, c.explain(err)
	}
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err == nil && resp.ErrorCode != 0 {
		err = fmt.Errorf("ApiVersions error code %d", resp.ErrorCode)
	}
	if err != nil {
		cl.Close()
		return nil, c.explain(err)
	}
	c.served = make(map[int16]int16, len(resp.ApiKeys))
	for _, k := range resp.ApiKeys {
		c.served[k.ApiKey] = k.MaxVersion
	}
	c.features = map[string]int16{}
	for _, f := range resp.FinalizedFeatures {
		c.features[f.Name] = f.MaxVersionLevel
	}
	return c, nil
}

// Close releases the connections.
func (c *Client) Close() { c.kgo.Close() }

// withTimeout bounds one operation by the client's timeout.
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// require fails with ErrUnsupported unless the broker serves every key.
// Checking first turns kgo's generic "broker is too old" into a message
// naming the API and the operation.
func (c *Client) require(op string, keys ...int16) error {
	var missing []string
	for _, k := range keys {
		if !c.serves(k) {
			missing = append(missing, fmt.Sprintf("%s (Kafka API key %d)", kmsg.NameForKey(k), k))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return failf(ErrUnsupported, nil,
		"cannot %s: the broker at %s does not serve %s yet — upgrade the cluster to a Chronik release that has it",
		op, strings.Join(c.brokers, ","), strings.Join(missing, ", "))
}

// serves reports whether the broker serves an API key.
func (c *Client) serves(key int16) bool {
	_, ok := c.served[key]
	return ok
}

// explain turns a request failure that is not about a topic or group (the
// connection, a timeout) into an operator's message; other errors pass
// through unchanged.
func (c *Client) explain(err error) error {
	if err == nil {
		return nil
	}
	var oe *opError
	if errors.As(err, &oe) {
		return err
	}
	if ce := connError(err, c.brokers, c.timeout); ce != nil {
		return ce
	}
	return err
}

// fail explains an error returned for a request about s: a connection
// problem, else a Kafka error code with the broker's message (may be empty).
func (c *Client) fail(err error, brokerMsg string, s subject) error {
	var oe *opError
	if errors.As(err, &oe) {
		return err
	}
	if ce := connError(err, c.brokers, c.timeout); ce != nil {
		return ce
	}
	return kafkaError(err, brokerMsg, s)
}

// API keys the operations need, named for readability.
const (
	keyListOffsets             = 2
	keyMetadata                = 3
	keyOffsetCommit            = 8
	keyOffsetFetch             = 9
	keyFindCoordinator         = 10
	keyDescribeGroups          = 15
	keyListGroups              = 16
	keyCreateTopics            = 19
	keyDeleteTopics            = 20
	keyDescribeConfigs         = 32
	keyCreatePartitions        = 37
	keyDeleteGroups            = 42
	keyIncrementalAlterConfigs = 44
	keyConsumerGroupDescribe   = 69
)
