package opsctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Users' SCRAM credentials, kept by the cluster (`chronik user …`): the
// brokers' DescribeUserScramCredentials and AlterUserScramCredentials,
// which only kafka.super-users may use, or with kafka.authorizer = "acl"
// the principals an ACL allows DESCRIBE or ALTER on the cluster.

// ScramMechanisms are the mechanisms a user can have a credential for.
var ScramMechanisms = []string{"SCRAM-SHA-512", "SCRAM-SHA-256"}

// DefaultScramIterations is the PBKDF2 iteration count `user set` uses.
const DefaultScramIterations = 8192

// EnvUserPassword holds the password of `user set` (else it is read from
// stdin): a flag would show in the process list.
const EnvUserPassword = "CHRONIK_USER_PASSWORD"

// UserCredential is one mechanism of a user.
type UserCredential struct {
	Mechanism  string `json:"mechanism"`
	Iterations int32  `json:"iterations"`
}

// User is one user with credentials kept by the cluster.
type User struct {
	Name        string           `json:"name"`
	Credentials []UserCredential `json:"credentials"`
}

// UserList is the result of `user list`, sorted by name.
type UserList struct {
	Users []User `json:"users"`
}

const (
	keyDescribeUserScramCredentials = 50
	keyAlterUserScramCredentials    = 51
)

// ListUsers lists every user with a SCRAM credential kept by the cluster
// (users only in a broker's kafka.sasl-users-file are not listed).
func (c *Client) ListUsers(ctx context.Context) (*UserList, error) {
	if err := c.require("list users", keyDescribeUserScramCredentials); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	described, err := c.adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		return nil, c.userErr(err, "")
	}
	out := &UserList{Users: []User{}}
	for name, d := range described {
		if d.Err != nil {
			return nil, c.userErr(d.Err, name)
		}
		u := User{Name: name, Credentials: []UserCredential{}}
		for _, ci := range d.CredInfos {
			u.Credentials = append(u.Credentials, UserCredential{Mechanism: ci.Mechanism.String(), Iterations: ci.Iterations})
		}
		sort.Slice(u.Credentials, func(i, j int) bool { return u.Credentials[i].Mechanism > u.Credentials[j].Mechanism })
		out.Users = append(out.Users, u)
	}
	sort.Slice(out.Users, func(i, j int) bool { return out.Users[i].Name < out.Users[j].Name })
	return out, nil
}

// WriteTable implements Report.
func (r *UserList) WriteTable(w io.Writer) error {
	t := newTable(w, "USER", "CREDENTIALS")
	for _, u := range r.Users {
		creds := make([]string, len(u.Credentials))
		for i, c := range u.Credentials {
			creds[i] = fmt.Sprintf("%s (%d iterations)", c.Mechanism, c.Iterations)
		}
		t.row(u.Name, strings.Join(creds, ", "))
	}
	return t.flush()
}

// UserChange is the result of `user set` and `user delete`.
type UserChange struct {
	Name       string   `json:"name"`
	Mechanisms []string `json:"mechanisms"`
	Action     string   `json:"action"` // "set" or "deleted"
}

// WriteTable implements Report.
func (r *UserChange) WriteTable(w io.Writer) error {
	t := newTable(w, "USER", "MECHANISMS", "STATUS")
	t.row(r.Name, strings.Join(r.Mechanisms, ","), r.Action)
	return t.flush()
}

// parseMechanism checks a --mechanism value.
func parseMechanism(m string) (kadm.ScramMechanism, error) {
	switch strings.ToUpper(m) {
	case "SCRAM-SHA-512":
		return kadm.ScramSha512, nil
	case "SCRAM-SHA-256":
		return kadm.ScramSha256, nil
	}
	return 0, invalidf("--mechanism %q: use %s", m, strings.Join(ScramMechanisms, " or "))
}

// SetUser gives user a credential for each mechanism, derived from
// password with iterations (4096–16384), replacing any it had.
func (c *Client) SetUser(ctx context.Context, name, password string, mechanisms []string, iterations int32) (*UserChange, error) {
	if name == "" || strings.ContainsAny(name, ",=") {
		return nil, invalidf("user name %q: give a non-empty name without ',' or '='", name)
	}
	if password == "" {
		return nil, invalidf("the password is empty: set %s, or give it on stdin", EnvUserPassword)
	}
	if iterations < 4096 || iterations > 16384 {
		return nil, invalidf("--iterations %d: give 4096 to 16384", iterations)
	}
	var upserts []kadm.UpsertSCRAM
	for _, m := range mechanisms {
		mech, err := parseMechanism(m)
		if err != nil {
			return nil, err
		}
		upserts = append(upserts, kadm.UpsertSCRAM{User: name, Mechanism: mech, Iterations: iterations, Password: password})
	}
	if err := c.require("set users", keyAlterUserScramCredentials); err != nil {
		return nil, err
	}
	if err := c.alterUsers(ctx, name, nil, upserts); err != nil {
		return nil, err
	}
	return &UserChange{Name: name, Mechanisms: mechanisms, Action: "set"}, nil
}

// DeleteUser removes user's credentials for mechanisms, or for every
// mechanism it has when mechanisms is empty.
func (c *Client) DeleteUser(ctx context.Context, name string, mechanisms []string) (*UserChange, error) {
	if name == "" {
		return nil, invalidf("give the user name")
	}
	if err := c.require("delete users", keyDescribeUserScramCredentials, keyAlterUserScramCredentials); err != nil {
		return nil, err
	}
	if len(mechanisms) == 0 {
		dctx, cancel := c.withTimeout(ctx)
		described, err := c.adm.DescribeUserSCRAMs(dctx, name)
		cancel()
		if err != nil {
			return nil, c.userErr(err, name)
		}
		if err := described[name].Err; err != nil {
			return nil, c.userErr(err, name)
		}
		for _, ci := range described[name].CredInfos {
			mechanisms = append(mechanisms, ci.Mechanism.String())
		}
		slices.Sort(mechanisms)
	}
	var dels []kadm.DeleteSCRAM
	for _, m := range mechanisms {
		mech, err := parseMechanism(m)
		if err != nil {
			return nil, err
		}
		dels = append(dels, kadm.DeleteSCRAM{User: name, Mechanism: mech})
	}
	if err := c.alterUsers(ctx, name, dels, nil); err != nil {
		return nil, err
	}
	return &UserChange{Name: name, Mechanisms: mechanisms, Action: "deleted"}, nil
}

// alterUsers sends one AlterUserScramCredentials about user name.
func (c *Client) alterUsers(ctx context.Context, name string, dels []kadm.DeleteSCRAM, upserts []kadm.UpsertSCRAM) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	res, err := c.adm.AlterUserSCRAMs(ctx, dels, upserts)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		return c.userErr(err, name)
	}
	return nil
}

// userErr explains a credential API error.
func (c *Client) userErr(err error, name string) error {
	switch {
	case errors.Is(err, kerr.ClusterAuthorizationFailed):
		return failf(ErrRejected, err, "the broker refused: only the principals of its kafka.super-users, or principals an ACL allows DESCRIBE (user list) or ALTER (user set, delete) on the cluster, may manage users — connect as one (--sasl-user, %s)", EnvSASLPassword)
	case errors.Is(err, kerr.ResourceNotFound):
		return failf(ErrRejected, err, "user %q has no credential kept by the cluster — `chronik user list` shows the users", name)
	}
	return c.fail(err, "", subject{"user", name})
}
