package main

import "testing"

// TestTransactionCommandLine covers what `chronik transaction` checks
// before any request. No broker runs here; a command that gets as far as
// dialing fails to reach one.
func TestTransactionCommandLine(t *testing.T) {
	down := closedAddr(t)
	runCLICases(t, down, []cliCase{
		{name: "without verb shows help", args: []string{"transaction"}, out: "Available Commands:"},
		{name: "alias txn", args: []string{"txn", "--help"}, out: "kafka-transactions.sh list, describe and abort"},
		{name: "help names the hanging transaction hunt", args: []string{"transaction", "--help"}, out: `"chronik topic producers TOPIC" shows`},
		{name: "unknown verb", args: []string{"transaction", "commit"}, err: `unknown command "commit" for "chronik transaction"`},
		{name: "list takes no argument", args: []string{"transaction", "list", "p-1"}, err: `unexpected argument "p-1"`},
		{name: "list unknown state", args: []string{"transaction", "list", "--state", "ongoing,open"}, err: `--state "open": use Empty, Ongoing,`},
		{name: "list bad producer ID", args: []string{"txn", "ls", "--producer-id", "x"}, err: `--producer-id "x": want a producer ID`},
		{name: "list bad format", args: []string{"transaction", "list", "--format", "yaml"}, err: `--format "yaml": use table or json`},
		{name: "list reaches for the broker", args: []string{"transaction", "list", "--state", "Ongoing", "--producer-id", "1,2"}, err: "cannot reach broker " + down},
		{name: "describe needs an ID", args: []string{"transaction", "describe"}, err: "give the transactional ID: chronik transaction describe ID [ID...]"},
		{name: "describe empty ID", args: []string{"transaction", "describe", "p-1", ""}, err: "give the transactional ID"},
		{name: "describe reaches for the broker", args: []string{"txn", "describe", "p-1", "p-2"}, err: "cannot reach broker " + down},
		{name: "abort help warns", args: []string{"transaction", "abort", "--help"}, out: "Abort hanging transactions only."},
		{name: "abort needs a topic", args: []string{"transaction", "abort", "--partition", "0", "--start-offset", "5"}, err: "--topic is required"},
		{name: "abort needs a partition", args: []string{"transaction", "abort", "--topic", "t", "--start-offset", "5"}, err: "--partition is required"},
		{name: "abort negative partition", args: []string{"transaction", "abort", "--topic", "t", "--partition", "-1", "--start-offset", "5"}, err: "--partition -1: partition numbers start at 0"},
		{name: "abort bad partition", args: []string{"transaction", "abort", "--topic", "t", "--partition", "x"}, err: `invalid argument "x" for "--partition" flag`},
		{name: "abort needs a transaction", args: []string{"transaction", "abort", "--topic", "t", "--partition", "2"}, err: "name the transaction to abort: --start-offset OFFSET (its TXN-START in `chronik topic producers t --partitions 2`) or --producer-id ID"},
		{name: "abort offset or producer", args: []string{"transaction", "abort", "--topic", "t", "--partition", "0", "--start-offset", "5", "--producer-id", "7"}, err: "give --start-offset or --producer-id, not both"},
		{name: "abort negative offset", args: []string{"transaction", "abort", "--topic", "t", "--partition", "0", "--start-offset", "-1"}, err: "--start-offset -1: offsets start at 0"},
		{name: "abort negative producer", args: []string{"transaction", "abort", "--topic", "t", "--partition", "0", "--producer-id", "-1"}, err: "--producer-id -1: want a producer ID"},
		{name: "abort epoch without producer", args: []string{"transaction", "abort", "--topic", "t", "--partition", "0", "--start-offset", "5", "--producer-epoch", "1"}, err: "--producer-epoch goes with --producer-id"},
		{name: "abort negative epoch", args: []string{"transaction", "abort", "--topic", "t", "--partition", "0", "--producer-id", "7", "--producer-epoch", "-2"}, err: "--producer-epoch -2: epochs start at 0"},
		{name: "abort takes no argument", args: []string{"transaction", "abort", "t"}, err: `unexpected argument "t"`},
		{name: "abort bad format", args: []string{"transaction", "abort", "--topic", "t", "--partition", "0", "--start-offset", "5", "--format", "yaml"}, err: `--format "yaml": use table or json`},
		{name: "abort reaches for the broker", args: []string{"txn", "abort", "--topic", "t", "--partition", "0", "--producer-id", "7", "--producer-epoch", "0"}, err: "cannot reach broker " + down},
	})
}

// TestTransactionHelp checks that every transaction command has help with
// an example and the shared cluster flags.
func TestTransactionHelp(t *testing.T) { checkCommandHelp(t, "transaction") }
