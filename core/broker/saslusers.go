package broker

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/kafka"
)

// saslUsersFile is kafka.sasl-users-file: the users SASL clients
// authenticate as, with their passwords, in a TOML table:
//
//	[users]
//	alice = "alice-secret"
//
// Like Kafka's JAAS user_<name> entries, every broker reads its own copy,
// so keep it the same on all of them and readable by the broker alone. It
// is read at start-up (a file that does not load fails it) and again
// within a second of changing: users are added, removed or given a new
// password without a restart; a file that does not load leaves the last
// good one in use, with a warning.
type saslUsersFile struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	users   map[string]string
	mod     time.Time
	checked time.Time
	lastErr string // the last reload error, warned about once
}

// usersReloadCheck is how often authentication looks at the file's time.
const usersReloadCheck = time.Second

// kafkaSASL returns the Kafka listener's SASL settings, nil when
// kafka.sasl-mechanisms is empty.
func kafkaSASL(k config.KafkaConfig, log *slog.Logger) (*kafka.SASL, error) {
	if len(k.SASLMechanisms) == 0 {
		return nil, nil
	}
	f := &saslUsersFile{path: k.SASLUsersFile, log: log}
	if err := f.load(); err != nil {
		return nil, err
	}
	return &kafka.SASL{Mechanisms: k.SASLMechanisms, Password: f.password}, nil
}

func (f *saslUsersFile) load() error {
	info, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("kafka.sasl-users-file: %w", err)
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("kafka.sasl-users-file: %w", err)
	}
	var doc struct {
		Users map[string]string `toml:"users"`
	}
	if err := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(&doc); err != nil {
		return fmt.Errorf("kafka.sasl-users-file %s: %w", f.path, err)
	}
	for name, password := range doc.Users {
		if name == "" || password == "" {
			return fmt.Errorf("kafka.sasl-users-file %s: user %q has an empty name or password", f.path, name)
		}
	}
	if len(doc.Users) == 0 {
		return fmt.Errorf("kafka.sasl-users-file %s: no [users] entries: nobody could connect", f.path)
	}
	f.mu.Lock()
	f.users, f.mod, f.checked, f.lastErr = doc.Users, info.ModTime(), time.Now(), ""
	f.mu.Unlock()
	return nil
}

// password is kafka.SASL.Password.
func (f *saslUsersFile) password(user string) (string, bool) {
	f.mu.Lock()
	due := time.Since(f.checked) >= usersReloadCheck
	if due {
		f.checked = time.Now()
	}
	mod := f.mod
	f.mu.Unlock()
	if due {
		f.reloadIfChanged(mod)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.users[user]
	return p, ok
}

// reloadIfChanged loads the file again if its time is no longer mod; a
// file that is gone or does not load keeps the previous users.
func (f *saslUsersFile) reloadIfChanged(mod time.Time) {
	info, err := os.Stat(f.path)
	if err == nil && info.ModTime().Equal(mod) {
		return
	}
	if err == nil {
		if err = f.load(); err == nil {
			f.log.Info("kafka.sasl-users-file reloaded", "file", f.path)
			return
		}
	}
	f.mu.Lock()
	repeated := f.lastErr == err.Error()
	f.lastErr = err.Error()
	f.mu.Unlock()
	if !repeated {
		f.log.Warn("kafka.sasl-users-file cannot be loaded; keeping the previous users", "err", err)
	}
}
