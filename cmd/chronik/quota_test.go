package main

import (
	"testing"
)

// TestQuotaCommandLine covers what `chronik quota` checks before any
// request: the entity flags, the rates, --strict. No broker runs here; a
// command that gets as far as dialing fails to reach one.
func TestQuotaCommandLine(t *testing.T) {
	down := closedAddr(t)
	runCLICases(t, down, []cliCase{
		{name: "quota without verb shows help", args: []string{"quota"}, out: "Available Commands:"},
		{name: "unknown verb", args: []string{"quota", "remove"}, err: `unknown command "remove" for "chronik quota"`},
		{name: "list takes no argument", args: []string{"quota", "list", "alice"}, err: `unexpected argument "alice"`},
		{name: "list user and default user", args: []string{"quota", "list", "--user", "a", "--user-default"}, err: "--user and --user-default cannot be combined"},
		{name: "list strict alone", args: []string{"quota", "list", "--strict"}, err: "--strict narrows"},
		{name: "list empty client ID", args: []string{"quota", "list", "--client-id", ""}, err: "--client-id: give a name (--client-id-default names the default)"},
		{name: "list reaches for the broker", args: []string{"quota", "list", "--user", "alice", "--strict"}, err: "cannot reach broker " + down},
		{name: "set needs an entity", args: []string{"quota", "set", "--producer-byte-rate", "1MiB"}, err: "say whose quota: --user NAME or --user-default, and/or --client-id ID or --client-id-default"},
		{name: "set needs a rate", args: []string{"quota", "set", "--user", "alice"}, err: "give the rates to set: --producer-byte-rate, --consumer-byte-rate and/or --controller-mutation-rate"},
		{name: "set bad mutation rate", args: []string{"quota", "set", "--user", "alice", "--controller-mutation-rate", "10/s"}, err: `--controller-mutation-rate "10/s": give partitions created or deleted per second`},
		{name: "set mutation rate reaches for the broker", args: []string{"quota", "set", "--user", "alice", "--controller-mutation-rate", "0.5"}, err: "cannot reach broker " + down},
		{name: "delete mutation rate reaches for the broker", args: []string{"quota", "delete", "--user", "alice", "--controller-mutation-rate"}, err: "cannot reach broker " + down},
		{name: "set bad rate", args: []string{"quota", "set", "--user", "alice", "--consumer-byte-rate", "10MB"}, err: `--consumer-byte-rate "10MB": give bytes per second, optionally with KiB, MiB or GiB`},
		{name: "set zero rate", args: []string{"quota", "set", "--client-id-default", "--producer-byte-rate", "0"}, err: "`chronik quota delete` removes a quota"},
		{name: "set strict is list's", args: []string{"quota", "set", "--user", "a", "--strict", "--producer-byte-rate", "1"}, err: "unknown flag: --strict"},
		{name: "set client ID twice", args: []string{"quota", "set", "--client-id", "a", "--client-id-default", "--producer-byte-rate", "1"}, err: "--client-id and --client-id-default cannot be combined"},
		{name: "set reaches for the broker", args: []string{"quota", "set", "--user-default", "--client-id", "etl", "--producer-byte-rate", "10MiB"}, err: "cannot reach broker " + down},
		{name: "delete needs an entity", args: []string{"quota", "delete", "--producer-byte-rate"}, err: "say whose quota"},
		{name: "delete rate takes no value", args: []string{"quota", "delete", "--user", "a", "--producer-byte-rate=5"}, err: "invalid argument"},
		{name: "delete reaches for the broker", args: []string{"quota", "delete", "--user", "alice"}, err: "cannot reach broker " + down},
	})
}

// TestQuotaHelp checks that every quota command has help with an example
// and the shared cluster flags.
func TestQuotaHelp(t *testing.T) { checkCommandHelp(t, "quota") }
