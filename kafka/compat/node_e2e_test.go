//go:build e2e

package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// nodeGrace is how long before the step's deadline a script gives up.
const nodeGrace = 5 * time.Second

// nodeDriver runs node/<script>.mjs, one process per step. The script reads
// its parameters from COMPAT_* environment variables (node/common.mjs) and
// prints one JSON object on stdout; logs go to stderr.
type nodeDriver struct {
	conf   clientConf
	script string // file name without .mjs
}

// nodeInstalled names, per script, a file under node/node_modules that npm ci
// leaves only when the client is installed (for the librdkafka binding, its
// native addon, which the install builds from source).
var nodeInstalled = map[string]string{
	"kafkajs":      "kafkajs/package.json",
	"platformatic": "@platformatic/kafka/package.json",
	"confluent":    "@confluentinc/kafka-javascript/build/Release/confluent-kafka-javascript.node",
}

func newNode(script string) func(clientConf) driver {
	return func(c clientConf) driver { return nodeDriver{conf: c, script: script} }
}

func (d nodeDriver) available() error {
	if _, err := exec.LookPath("node"); err != nil {
		return err
	}
	_, err := os.Stat(filepath.Join("node", "node_modules", nodeInstalled[d.script]))
	return err
}

// nodeOutput is what a script prints; fields are set per command.
type nodeOutput struct {
	Version string `json:"version"`
	Records []rec  `json:"records"`
	Offsets bool   `json:"offsets"` // transact sent the rounds' offsets
	Error   string `json:"error"`
}

func (d nodeDriver) run(ctx context.Context, command string, env map[string]string) (nodeOutput, error) {
	cmd := exec.CommandContext(ctx, "node", d.script+".mjs", command)
	cmd.Dir = "node"
	cmd.Env = append(os.Environ(),
		"COMPAT_BROKER="+d.conf.addr,
		"COMPAT_CLIENT_ID="+d.conf.clientID,
		"COMPAT_ID="+d.conf.id,
		"COMPAT_IDEMPOTENT="+strconv.FormatBool(d.conf.idempotent),
	)
	// The script gives up a little before ctx ends, so it can still print
	// what it read and why it failed.
	if dl, ok := ctx.Deadline(); ok {
		cmd.Env = append(cmd.Env, fmt.Sprintf("COMPAT_TIMEOUT_MS=%d", (time.Until(dl)-nodeGrace).Milliseconds()))
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	runErr := cmd.Run()
	var out nodeOutput
	if line := lastLine(stdout.String()); line != "" {
		if err := json.Unmarshal([]byte(line), &out); err != nil && runErr == nil {
			runErr = fmt.Errorf("parse output %.200q: %w", line, err)
		}
	}
	switch {
	case ctx.Err() != nil:
		return out, fmt.Errorf("node %s.mjs %s: killed: %w; stderr:\n%s", d.script, command, ctx.Err(), tailString(stderr.String(), 30))
	case runErr != nil:
		// The script's error is wrapped too, for the denied step to find
		// the client's words in it.
		return out, fmt.Errorf("node %s.mjs %s: %w: %w; stderr:\n%s", d.script, command, runErr, errors.New(out.Error), tailString(stderr.String(), 30))
	}
	return out, nil
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func (d nodeDriver) version(ctx context.Context) (string, error) {
	out, err := d.run(ctx, "version", nil)
	return out.Version, err
}

func (d nodeDriver) createTopic(ctx context.Context, topic string, partitions int32) error {
	_, err := d.run(ctx, "create", map[string]string{"COMPAT_TOPIC": topic, "COMPAT_PARTITIONS": fmt.Sprint(partitions)})
	return err
}

func (d nodeDriver) produce(ctx context.Context, topic string, first, n int, codec string) error {
	_, err := d.run(ctx, "produce", map[string]string{
		"COMPAT_TOPIC": topic, "COMPAT_FIRST": fmt.Sprint(first), "COMPAT_COUNT": fmt.Sprint(n), "COMPAT_CODEC": codec,
	})
	return err
}

// nodeKeyed is a record of produceKeyed for the scripts (COMPAT_RECORDS):
// null for a null key or value.
type nodeKeyed struct {
	Key   *string `json:"k"`
	Value *string `json:"v"`
}

func (d nodeDriver) produceKeyed(ctx context.Context, topic string, recs []keyed, codec string) error {
	out := make([]nodeKeyed, len(recs))
	for i, r := range recs {
		if !r.noKey {
			out[i].Key = &r.key
		}
		if !r.tombstone {
			out[i].Value = &r.value
		}
	}
	js, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = d.run(ctx, "produce-keyed", map[string]string{
		"COMPAT_TOPIC": topic, "COMPAT_CODEC": codec, "COMPAT_RECORDS": string(js),
	})
	return err
}

// readAll: none of the three Node clients' APIs used here has a
// group-less consumer.
func (d nodeDriver) readAll(context.Context, string, map[int32]int64) ([]rec, error) {
	return nil, errUnsupported
}

func (d nodeDriver) consume(ctx context.Context, topic, group string, n int) ([]rec, error) {
	out, err := d.run(ctx, "consume", map[string]string{
		"COMPAT_TOPIC": topic, "COMPAT_GROUP": group, "COMPAT_COUNT": fmt.Sprint(n),
	})
	return out.Records, err
}

// consumeKIP848 is consume in a KIP-848 consumer group, for the clients
// that have one (@confluentinc/kafka-javascript, @platformatic/kafka).
func (d nodeDriver) consumeKIP848(ctx context.Context, topic, group string, n int) ([]rec, error) {
	if d.script == "kafkajs" {
		return nil, errUnsupported // KafkaJS has only the classic protocol
	}
	out, err := d.run(ctx, "consume-kip848", map[string]string{
		"COMPAT_TOPIC": topic, "COMPAT_GROUP": group, "COMPAT_COUNT": fmt.Sprint(n),
	})
	return out.Records, err
}

func (d nodeDriver) transact(ctx context.Context, topic, txnID, group string, rounds []txnRound) (bool, error) {
	js, err := json.Marshal(rounds)
	if err != nil {
		return false, err
	}
	out, err := d.run(ctx, "transact", map[string]string{
		"COMPAT_TOPIC": topic, "COMPAT_TXN_ID": txnID, "COMPAT_GROUP": group, "COMPAT_TXN": string(js),
	})
	return out.Offsets, err
}

// readCommitted reads n records in a new group (no group-less consumer).
func (d nodeDriver) readCommitted(ctx context.Context, topic string, _ map[int32]int64, n int) ([]rec, error) {
	out, err := d.run(ctx, "read-committed", map[string]string{
		"COMPAT_TOPIC": topic, "COMPAT_GROUP": topic + "-read", "COMPAT_COUNT": fmt.Sprint(n),
	})
	return out.Records, err
}
