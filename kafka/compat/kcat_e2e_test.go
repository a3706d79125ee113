//go:build e2e

package compat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// kcatDriver is Debian's kcat (librdkafka 2.0.2): -P to produce (-Z for
// tombstones), -C -e to read without a group, -G (the balanced
// KafkaConsumer, auto-commit on) for the group. It has no admin API, and -H
// headers are the same on every message.
type kcatDriver struct{ conf clientConf }

func newKcat(c clientConf) driver { return kcatDriver{c} }

func (d kcatDriver) available() error {
	_, err := exec.LookPath("kcat")
	return err
}

var kcatVersionRE = regexp.MustCompile(`Version (\S+) .*librdkafka (\S+)`)

func (d kcatDriver) version(ctx context.Context) (string, error) {
	out, err := d.run(ctx, "", "-V")
	if err != nil {
		return "", err
	}
	m := kcatVersionRE.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("no version in kcat -V output %q", out)
	}
	return m[1] + " (librdkafka " + m[2] + ")", nil
}

// run runs kcat with stdin and returns its stdout; an exit code other than
// 0 or an error line on stderr is an error.
func (d kcatDriver) run(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "kcat", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return stdout.String(), fmt.Errorf("kcat %s: killed: %w; stderr:\n%s", strings.Join(args, " "), ctx.Err(), tailString(stderr.String(), 20))
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("kcat %s: %w; stderr:\n%s", strings.Join(args, " "), err, tailString(stderr.String(), 20))
	}
	if s := stderr.String(); strings.Contains(s, "% ERROR") || strings.Contains(s, "Delivery failed") {
		return stdout.String(), fmt.Errorf("kcat %s exited 0 but reported errors:\n%s", strings.Join(args, " "), tailString(s, 20))
	}
	return stdout.String(), nil
}

func (d kcatDriver) common() []string {
	return []string{"-b", d.conf.addr, "-X", "client.id=" + d.conf.clientID}
}

func (d kcatDriver) createTopic(context.Context, string, int32) error { return errUnsupported }

func (d kcatDriver) produce(ctx context.Context, topic string, first, n int, codec string) error {
	var in strings.Builder
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&in, "%s:%s\n", recKey(i), recValue(i))
	}
	args := append(d.common(), "-P", "-t", topic, "-K:", "-H", hdrClient+"="+d.conf.id,
		"-X", "compression.codec="+codec,
		"-X", fmt.Sprintf("enable.idempotence=%t", d.conf.idempotent))
	_, err := d.run(ctx, in.String(), args...)
	return err
}

// produceKeyed writes "key:value" lines with -Z, which makes an empty value
// a null (a tombstone: "key:"); a line without the delimiter has a null
// key.
func (d kcatDriver) produceKeyed(ctx context.Context, topic string, recs []keyed, codec string) error {
	var in strings.Builder
	for _, r := range recs {
		if !r.noKey {
			in.WriteString(r.key + ":")
		}
		if !r.tombstone {
			in.WriteString(r.value)
		}
		in.WriteString("\n")
	}
	args := append(d.common(), "-P", "-t", topic, "-K:", "-Z", "-H", hdrClient+"="+d.conf.id,
		"-X", "compression.codec="+codec,
		"-X", fmt.Sprintf("enable.idempotence=%t", d.conf.idempotent))
	_, err := d.run(ctx, in.String(), args...)
	return err
}

// kcatMessage is one line of kcat -J.
type kcatMessage struct {
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	Key       *string         `json:"key"`
	Payload   *string         `json:"payload"`
	Headers   json.RawMessage `json:"headers"`
}

// parseKcatJSON reads kcat -J output; headers come as a flat
// ["name", "value", …] array in kcat 1.7 (an object in its usage text).
func parseKcatJSON(out string) ([]rec, error) {
	var recs []rec
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m kcatMessage
		if err := json.Unmarshal(line, &m); err != nil {
			return recs, fmt.Errorf("kcat -J line %q: %w", line, err)
		}
		r := rec{Partition: m.Partition, Offset: m.Offset, Headers: map[string]string{}}
		if m.Key != nil {
			r.Key = *m.Key
		}
		if m.Payload != nil {
			r.Value = *m.Payload
		}
		if len(m.Headers) > 0 {
			var flat []string
			if err := json.Unmarshal(m.Headers, &flat); err == nil {
				for i := 0; i+1 < len(flat); i += 2 {
					r.Headers[flat[i]] = flat[i+1]
				}
			} else if err := json.Unmarshal(m.Headers, &r.Headers); err != nil {
				return recs, fmt.Errorf("kcat -J headers %s: %w", m.Headers, err)
			}
		}
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

func (d kcatDriver) readAll(ctx context.Context, topic string, _ map[int32]int64) ([]rec, error) {
	out, err := d.run(ctx, "", append(d.common(), "-C", "-t", topic, "-o", "beginning", "-e", "-J")...)
	if err != nil {
		return nil, err
	}
	return parseKcatJSON(out)
}

// consume runs the balanced consumer until it printed n messages (-c); kcat
// then closes the consumer, which commits the offsets it stored for them.
func (d kcatDriver) consume(ctx context.Context, topic, group string, n int) ([]rec, error) {
	args := append(d.common(), "-G", group, "-X", "auto.offset.reset=earliest", "-c", fmt.Sprint(n), "-J", topic)
	out, err := d.run(ctx, "", args...)
	recs, perr := parseKcatJSON(out)
	if err != nil {
		return recs, err
	}
	return recs, perr
}

// tailString returns the last n lines of s.
func tailString(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… %d lines before", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// transact: kcat never calls librdkafka's transaction API (with
// transactional.id set, librdkafka refuses to produce before
// init_transactions and begin_transaction).
func (d kcatDriver) transact(context.Context, string, string, string, []txnRound) (bool, error) {
	return false, errUnsupported
}

func (d kcatDriver) readCommitted(context.Context, string, map[int32]int64, int) ([]rec, error) {
	return nil, errUnsupported
}
