package opsctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// env returns a getenv over a fixed map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// wantErr checks err against a substring of its message and a class; an
// empty substring means no error.
func wantErr(t *testing.T, err error, substr string, class error) {
	t.Helper()
	switch {
	case substr == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case substr == "":
		return
	case err == nil:
		t.Fatalf("no error, want one containing %q", substr)
	case !strings.Contains(err.Error(), substr):
		t.Fatalf("error %q does not contain %q", err, substr)
	case class != nil && !errors.Is(err, class):
		t.Fatalf("error %q is not %v", err, class)
	}
}

func TestParseBrokers(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "127.0.0.1:9092", want: []string{"127.0.0.1:9092"}},
		{in: " a:1 , b:2 ", want: []string{"a:1", "b:2"}},
		{in: "broker1", want: []string{"broker1:9092"}},
		{in: "[::1]:19092", want: []string{"[::1]:19092"}},
		{in: "a:1,,b:2", err: "empty address"},
		{in: "a:b:c", err: "is not host:port"},
		{in: ":9092", err: "has no host"},
		{in: "a:0", err: "invalid port"},
		{in: "a:99999", err: "invalid port"},
		{in: "a:http", err: "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBrokers("--brokers", tt.in)
			wantErr(t, err, tt.err, ErrInvalidInput)
			if tt.err == "" && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResolveBrokers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "chronik.toml")
	if err := os.WriteFile(file, []byte("kafka-addr = \"0.0.0.0:29092\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	advertised := filepath.Join(dir, "advertised.toml")
	if err := os.WriteFile(advertised, []byte("kafka-addr = \":9092\"\nadvertise-addr = \"broker1.example.com:9092\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cluster := filepath.Join(dir, "cluster.toml")
	if err := os.WriteFile(cluster, []byte(`
[[nodes]]
id = 1
kafka = "10.0.0.1:9092"
raft = "10.0.0.1:9095"
http = "10.0.0.1:9644"

[[nodes]]
id = 2
kafka = "10.0.0.2:9092"
raft = "10.0.0.2:9095"
http = "10.0.0.2:9644"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("kafka-adr = \":9092\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		flag, file string
		env        map[string]string
		want       string
		err        string
	}{
		{name: "default", want: "127.0.0.1:9092"},
		{name: "flag beats env and file", flag: "a:1,b:2", file: file, env: map[string]string{"CHRONIK_BROKERS": "c:3"}, want: "a:1,b:2"},
		{name: "env beats file", file: file, env: map[string]string{"CHRONIK_BROKERS": "c:3"}, want: "c:3"},
		{name: "file: wildcard becomes loopback", file: file, want: "127.0.0.1:29092"},
		{name: "file: advertised address", file: advertised, want: "broker1.example.com:9092"},
		{name: "file: every node of a cluster", file: cluster, want: "10.0.0.1:9092,10.0.0.2:9092"},
		{name: "CHRONIK_CONFIG names the file", env: map[string]string{"CHRONIK_CONFIG": file}, want: "127.0.0.1:29092"},
		{name: "CHRONIK_KAFKA_ADDR as serve reads it", env: map[string]string{"CHRONIK_KAFKA_ADDR": ":39092"}, want: "127.0.0.1:39092"},
		{name: "bad file", file: bad, err: `unknown key "kafka-adr"`},
		{name: "missing file", file: filepath.Join(dir, "nope.toml"), err: "or name the brokers directly with --brokers"},
		{name: "bad env", env: map[string]string{"CHRONIK_BROKERS": "a:1,"}, err: "CHRONIK_BROKERS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveBrokers(tt.flag, tt.file, env(tt.env))
			wantErr(t, err, tt.err, ErrInvalidInput)
			if tt.err == "" && strings.Join(got, ",") != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseConfigs(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want map[string]string
		err  string
	}{
		{name: "none", want: map[string]string{}},
		{name: "several", in: []string{"retention.ms=1000", "cleanup.policy=compact,delete"}, want: map[string]string{"retention.ms": "1000", "cleanup.policy": "compact,delete"}},
		{name: "value with =", in: []string{"k=a=b"}, want: map[string]string{"k": "a=b"}},
		{name: "empty value", in: []string{"k="}, want: map[string]string{"k": ""}},
		{name: "no =", in: []string{"retention.ms"}, err: `--config "retention.ms": want key=value`},
		{name: "empty key", in: []string{"=1"}, err: "the key is empty"},
		{name: "space in key", in: []string{"retention ms=1"}, err: "no spaces"},
		{name: "twice", in: []string{"a=1", "a=2"}, err: "--config a is given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfigs("--config", tt.in)
			wantErr(t, err, tt.err, ErrInvalidInput)
			if tt.err == "" && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseConfigKeys(t *testing.T) {
	got, err := ParseConfigKeys("--delete-config", []string{"segment.ms", " retention.ms "})
	if err != nil || !reflect.DeepEqual(got, []string{"retention.ms", "segment.ms"}) {
		t.Fatalf("got %q, %v", got, err)
	}
	_, err = ParseConfigKeys("--delete-config", []string{"retention.ms=1"})
	wantErr(t, err, "give only the key", ErrInvalidInput)
	_, err = ParseConfigKeys("--delete-config", []string{"a", "a"})
	wantErr(t, err, "given twice", ErrInvalidInput)
	_, err = ParseConfigKeys("--delete-config", []string{""})
	wantErr(t, err, "the key is empty", ErrInvalidInput)
}

func TestParsePartitions(t *testing.T) {
	tests := []struct {
		in   string
		want []int32
		err  string
	}{
		{in: "", want: nil},
		{in: "0", want: []int32{0}},
		{in: "3, 1,1,0", want: []int32{0, 1, 3}},
		{in: "-1", err: "want partition numbers from 0"},
		{in: "0,,1", err: "want partition numbers"},
		{in: "a", err: "want partition numbers"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePartitions("--partitions", tt.in)
			wantErr(t, err, tt.err, ErrInvalidInput)
			if tt.err == "" && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Format
	}{{"table", Table}, {"json", JSON}, {" JSON ", JSON}} {
		if got, err := ParseFormat(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	_, err := ParseFormat("yaml")
	wantErr(t, err, `--format "yaml": use table or json`, ErrInvalidInput)
}

func TestTopicSpecValidate(t *testing.T) {
	tests := []struct {
		spec TopicSpec
		err  string
	}{
		{spec: TopicSpec{Name: "t", Partitions: -1, ReplicationFactor: -1}},
		{spec: TopicSpec{Name: "t", Partitions: 3, ReplicationFactor: 3}},
		{spec: TopicSpec{Name: " ", Partitions: -1, ReplicationFactor: -1}, err: "topic name is empty"},
		{spec: TopicSpec{Name: "t", Partitions: 0, ReplicationFactor: -1}, err: "--partitions 0"},
		{spec: TopicSpec{Name: "t", Partitions: -2, ReplicationFactor: -1}, err: "--partitions -2"},
		{spec: TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 0}, err: "--replication-factor 0"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			wantErr(t, tt.spec.Validate(), tt.err, ErrInvalidInput)
		})
	}
}

func TestTopicAlterValidate(t *testing.T) {
	tests := []struct {
		alter TopicAlter
		err   string
	}{
		{alter: TopicAlter{Name: "t", Set: map[string]string{"retention.ms": "1"}}},
		{alter: TopicAlter{Name: "t", Delete: []string{"retention.ms"}}},
		{alter: TopicAlter{Name: "t", Partitions: 4}},
		{alter: TopicAlter{Name: "t"}, err: "nothing to alter"},
		{alter: TopicAlter{Name: "t", Partitions: -1}, err: "--partitions -1"},
		{alter: TopicAlter{Name: "t", Set: map[string]string{"a": "1"}, Delete: []string{"a"}}, err: "both set (--config) and deleted"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			wantErr(t, tt.alter.Validate(), tt.err, ErrInvalidInput)
		})
	}
}

func TestResetSpecValidate(t *testing.T) {
	n := int64(5)
	neg := int64(-1)
	good, bad := "2024-05-01T12:00:00Z", "yesterday"
	base := func(target ResetTarget) ResetSpec { return ResetSpec{Group: "g", Topic: "t", Target: target} }
	tests := []struct {
		name     string
		spec     ResetSpec
		strategy string
		err      string
	}{
		{name: "earliest", spec: base(ResetTarget{Earliest: true}), strategy: "to-earliest"},
		{name: "latest", spec: base(ResetTarget{Latest: true}), strategy: "to-latest"},
		{name: "offset", spec: base(ResetTarget{Offset: &n}), strategy: "to-offset"},
		{name: "datetime", spec: base(ResetTarget{Datetime: &good}), strategy: "to-datetime"},
		{name: "shift back", spec: base(ResetTarget{ShiftBy: &neg}), strategy: "shift-by"},
		{name: "none", spec: base(ResetTarget{}), err: "say where to move the offsets"},
		{name: "two", spec: base(ResetTarget{Earliest: true, ShiftBy: &n}), err: "--to-earliest and --shift-by cannot be combined"},
		{name: "negative offset", spec: base(ResetTarget{Offset: &neg}), err: "--to-offset -1"},
		{name: "bad datetime", spec: base(ResetTarget{Datetime: &bad}), err: `--to-datetime "yesterday": want an RFC 3339 time`},
		{name: "no topic", spec: ResetSpec{Group: "g", Target: ResetTarget{Earliest: true}}, err: "--topic is required"},
		{name: "no group", spec: ResetSpec{Topic: "t", Target: ResetTarget{Earliest: true}}, err: "group name is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.spec.Validate(), tt.err, ErrInvalidInput)
			if got := tt.spec.Target.Strategy(); tt.strategy != "" && got != tt.strategy {
				t.Fatalf("strategy %q, want %q", got, tt.strategy)
			}
		})
	}
}

func TestConfirm(t *testing.T) {
	tests := []struct {
		input string
		err   string
	}{
		{input: "orders\n"},
		{input: "  orders  \n"},
		{input: "orders"}, // end of input without a newline
		{input: "y\n", err: `not confirmed (got "y", want "orders")`},
		{input: "", err: "not confirmed"},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			var out bytes.Buffer
			err := Confirm(strings.NewReader(tt.input), &out, "Type the topic name: ", "orders")
			wantErr(t, err, tt.err, ErrNotConfirmed)
			if out.String() != "Type the topic name: " {
				t.Fatalf("prompt %q", &out)
			}
		})
	}
	wantErr(t, RequireConfirmation(false, false, `delete topic "t"`), "stdin is not a terminal — pass --yes", ErrNotConfirmed)
	wantErr(t, RequireConfirmation(true, false, "x"), "", nil)
	wantErr(t, RequireConfirmation(false, true, "x"), "", nil)
	if IsTerminal(strings.NewReader("")) {
		t.Fatal("a strings.Reader is not a terminal")
	}
	if f, err := os.Open(os.DevNull); err == nil {
		defer f.Close()
		if IsTerminal(f) {
			t.Fatal("/dev/null is a character device but not a terminal")
		}
	}
}

func TestConnError(t *testing.T) {
	brokers := []string{"127.0.0.1:9092"}
	refused := &net.OpError{
		Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9092},
		Err: os.NewSyscallError("connect", syscall.ECONNREFUSED),
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{
			name: "refused", err: fmt.Errorf("unable to dial: %w", refused),
			want: "cannot reach broker 127.0.0.1:9092: connection refused — is `chronik serve` running there? use --brokers",
		},
		{
			name: "dns", err: &net.OpError{Op: "dial", Err: &net.DNSError{Name: "nosuch", Err: "no such host"}},
			want: `host "nosuch" not found`,
		},
		{name: "deadline", err: context.DeadlineExceeded, want: "no answer from 127.0.0.1:9092 within 10s"},
		{
			name: "http port", err: errors.New("invalid large response size 1213486160 > limit; is your broker port correct?"),
			want: "answers HTTP, not Kafka",
		},
		{name: "not a connection error", err: kerr.UnknownTopicOrPartition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := connError(tt.err, brokers, 10*time.Second)
			if tt.want == "" {
				if got != nil {
					t.Fatalf("got %v, want nil", got)
				}
				return
			}
			wantErr(t, got, tt.want, ErrUnreachable)
			if !errors.Is(got, tt.err) {
				t.Fatalf("%v does not wrap the cause %v", got, tt.err)
			}
		})
	}
}

func TestKafkaError(t *testing.T) {
	tests := []struct {
		err   error
		msg   string
		s     subject
		want  string
		class error
	}{
		{kerr.UnknownTopicOrPartition, "", subject{"topic", "t"}, `topic "t" does not exist — ` + "`chronik topic list`", ErrRejected},
		{kerr.TopicAlreadyExists, "", subject{"topic", "t"}, `topic "t" already exists`, ErrRejected},
		{kerr.GroupIDNotFound, "", subject{"group", "g"}, `group "g" does not exist`, ErrRejected},
		{kerr.NonEmptyGroup, "", subject{"group", "g"}, `group "g" still has active members — stop its consumers first`, ErrGroupActive},
		{kerr.UnknownMemberID, "", subject{"group", "g"}, `group "g" has active members`, ErrGroupActive},
		{kerr.InvalidPartitions, "topic has 6 partitions", subject{"topic", "t"}, "INVALID_PARTITIONS: topic has 6 partitions — a topic's partition count can only grow", ErrRejected},
		{kerr.InvalidConfig, "unknown config x", subject{"topic", "t"}, `topic "t": INVALID_CONFIG: unknown config x`, ErrRejected},
		{kerr.CoordinatorNotAvailable, "", subject{"group", "g"}, "retry in a few seconds", ErrRejected},
		{errors.New("odd"), "", subject{"group", "g"}, `group "g": odd`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			got := kafkaError(tt.err, tt.msg, tt.s)
			wantErr(t, got, tt.want, tt.class)
			if !errors.Is(got, tt.err) {
				t.Fatalf("%v does not wrap %v", got, tt.err)
			}
		})
	}
}

// TestDialUnreachable dials a port nobody listens on.
func TestDialUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Dial(context.Background(), Options{Brokers: []string{addr}, Timeout: 5 * time.Second})
	wantErr(t, err, "cannot reach broker "+addr+": connection refused", ErrUnreachable)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("%v does not wrap ECONNREFUSED", err)
	}
}

// TestDialSilentBroker dials a listener that accepts and never answers:
// the timeout applies and says so.
func TestDialSilentBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	_, err = Dial(context.Background(), Options{Brokers: []string{ln.Addr().String()}, Timeout: 300 * time.Millisecond})
	wantErr(t, err, "within 300ms", ErrUnreachable)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Dial took %s with a 300ms timeout", d)
	}
}

// TestSASLLogin: each mechanism's client, and what is missing said by name.
func TestSASLLogin(t *testing.T) {
	for _, l := range []SASLLogin{
		{Mechanism: "PLAIN", User: "u", Password: "p"},
		{Mechanism: "scram-sha-512", User: "u", Password: "p"},
		{Mechanism: "OAUTHBEARER", Token: "jwt"},
	} {
		if m, err := l.Client(); err != nil || !strings.EqualFold(m.Name(), l.Mechanism) {
			t.Errorf("%+v: %v %v", l, m, err)
		}
	}
	conf := filepath.Join(t.TempDir(), "krb5.conf")
	if err := os.WriteFile(conf, []byte("[libdefaults]\n  default_realm = CHRONIK.TEST\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KRB5_CONFIG", conf)
	t.Setenv("KRB5CCNAME", "FILE:"+filepath.Join(t.TempDir(), "none"))
	for want, l := range map[string]SASLLogin{
		EnvSASLToken:                             {Mechanism: "OAUTHBEARER"},
		"--sasl-user":                            {Mechanism: "PLAIN"},
		"use PLAIN":                              {Mechanism: "KERBEROS", User: "u"},
		"needs --sasl-mechanism":                 {User: "u"},
		"run kinit":                              {Mechanism: "GSSAPI"},
		"the credentials cache says who you are": {Mechanism: "GSSAPI", User: "u"},
		"--sasl-kerberos-keytab needs --sasl-user":                 {Mechanism: "GSSAPI", Keytab: "u.keytab"},
		"--sasl-kerberos-keytab u.keytab":                          {Mechanism: "GSSAPI", Keytab: "u.keytab", User: "u"},
		"--sasl-kerberos-keytab goes with --sasl-mechanism GSSAPI": {Mechanism: "PLAIN", Keytab: "u.keytab", User: "u"},
	} {
		if _, err := l.Client(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want an error naming %q", l, err, want)
		}
	}
}
