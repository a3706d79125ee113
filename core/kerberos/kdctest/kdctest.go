// Package kdctest runs a real MIT Kerberos KDC for tests: a realm in a
// temporary directory, served on a 127.0.0.1 port by krb5kdc, with
// principals and keytabs made by kadmin.local (Debian's krb5-kdc,
// krb5-admin-server and krb5-user packages; go tool task deps installs
// them). Clients find it through the krb5.conf it writes (KRB5_CONFIG).
package kdctest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Realm is the test realm.
const Realm = "CHRONIK.TEST"

// KDC is a running krb5kdc and its realm's files.
type KDC struct {
	Dir  string // the realm's files
	Conf string // its krb5.conf, for KRB5_CONFIG and gokrb5's config.Load
	Addr string // host:port, TCP
	env  []string
}

// tools are the programs a KDC needs.
var tools = []string{"krb5kdc", "kdb5_util", "kadmin.local", "kinit"}

// Start creates the realm and runs its KDC until the test ends. A missing
// program skips the test, or fails it under CI=true.
func Start(t testing.TB) *KDC {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			msg := fmt.Sprintf("%s is not installed (apt-get install krb5-kdc krb5-admin-server krb5-user): %v", tool, err)
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s (CI=true: tests may not skip)", msg)
			}
			t.Skip(msg)
		}
	}
	var lastErr error
	for range 5 { // another process may take the port between its pick and krb5kdc's bind
		k, err := start(t)
		if err == nil {
			return k
		}
		lastErr = err
	}
	t.Fatalf("starting krb5kdc: %v", lastErr)
	return nil
}

func start(t testing.TB) (*KDC, error) {
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	k := &KDC{Dir: dir, Conf: filepath.Join(dir, "krb5.conf"), Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	kdcConf := filepath.Join(dir, "kdc.conf")
	k.env = append(os.Environ(), "KRB5_CONFIG="+k.Conf, "KRB5_KDC_PROFILE="+kdcConf, "KRB5CCNAME=FILE:"+filepath.Join(dir, "ccache"))
	// TCP only (udp_preference_limit = 1), and no DNS: principals name
	// hosts as clients write them (kafka/127.0.0.1).
	krb5 := fmt.Sprintf(`[libdefaults]
  default_realm = %[1]s
  dns_lookup_kdc = false
  dns_lookup_realm = false
  rdns = false
  dns_canonicalize_hostname = false
  udp_preference_limit = 1
  ticket_lifetime = 1h
[realms]
  %[1]s = {
    kdc = %[2]s
  }
`, Realm, k.Addr)
	kdc := fmt.Sprintf(`[kdcdefaults]
  kdc_listen = %[2]s
  kdc_tcp_listen = %[2]s
[realms]
  %[1]s = {
    database_name = %[3]s/principal
    key_stash_file = %[3]s/stash
    acl_file = %[3]s/kadm5.acl
  }
[logging]
  kdc = FILE:%[3]s/kdc.log
`, Realm, k.Addr, dir)
	for path, text := range map[string]string{k.Conf: krb5, kdcConf: kdc} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			return nil, err
		}
	}
	if out, err := k.run("kdb5_util", "create", "-s", "-r", Realm, "-P", "kdctest-master"); err != nil {
		return nil, fmt.Errorf("kdb5_util create: %w: %s", err, out)
	}
	cmd := exec.Command("krb5kdc", "-n", "-r", Realm)
	cmd.Env = k.env
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() //nolint:errcheck // killed at the end
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	for deadline := time.Now().Add(10 * time.Second); ; {
		select {
		case <-exited:
			return nil, fmt.Errorf("krb5kdc exited: %s", log.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", k.Addr, time.Second); err == nil {
			c.Close()
			return k, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("krb5kdc does not listen on %s", k.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort is a port free for TCP and UDP on 127.0.0.1 when asked.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return 0, err
	}
	u.Close()
	return port, nil
}

// Env is the environment for a Kerberos program (kinit, kcat) to use this
// realm, with a credentials cache of its own in the realm's directory.
func (k *KDC) Env() []string { return k.env }

func (k *KDC) run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = k.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kadmin runs a kadmin.local query, whose output must include want (it
// exits 0 whether the query worked or not).
func (k *KDC) kadmin(t testing.TB, query, want string) {
	t.Helper()
	out, err := k.run("kadmin.local", "-r", Realm, "-q", query)
	if err != nil || !strings.Contains(out, want) {
		t.Fatalf("kadmin.local -q %q: %v\n%s", query, err, out)
	}
}

// AddPrincipal adds name (alice, kafka/127.0.0.1) to the realm, with
// password, or a random key when password is "".
func (k *KDC) AddPrincipal(t testing.TB, name, password string) {
	t.Helper()
	created := fmt.Sprintf("Principal %q created", name+"@"+Realm)
	if password == "" {
		k.kadmin(t, "addprinc -randkey "+name, created)
		return
	}
	k.kadmin(t, fmt.Sprintf("addprinc -pw %s %s", password, name), created)
}

// NewKey gives name a new random key (the next key version); keytabs made
// before no longer decrypt its tickets.
func (k *KDC) NewKey(t testing.TB, name string) {
	t.Helper()
	k.kadmin(t, "cpw -randkey "+name, fmt.Sprintf("Key for %q randomized", name+"@"+Realm))
}

// Keytab writes the current keys of names to a keytab file and returns its
// path. Exporting a key that has a password keeps it (-norandkey).
func (k *KDC) Keytab(t testing.TB, file string, names ...string) string {
	t.Helper()
	path := filepath.Join(k.Dir, file)
	k.kadmin(t, fmt.Sprintf("ktadd -norandkey -k %s %s", path, strings.Join(names, " ")), "added to keytab")
	return path
}
