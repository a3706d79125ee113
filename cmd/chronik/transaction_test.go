package main

import "testing"

// TestTransactionCommandLine covers what `chronik transaction` checks
// before any request. No broker runs here; a command that gets as far as
// dialing fails to reach one.
func TestTransactionCommandLine(t *testing.T) {
	down := closedAddr(t)
	runCLICases(t, down, []cliCase{
		{name: "without verb shows help", args: []string{"transaction"}, out: "Available Commands:"},
		{name: "alias txn", args: []string{"txn", "--help"}, out: "kafka-transactions.sh list and describe"},
		{name: "help names the hanging transaction hunt", args: []string{"transaction", "--help"}, out: `"chronik topic producers TOPIC" shows`},
		{name: "unknown verb", args: []string{"transaction", "abort"}, err: `unknown command "abort" for "chronik transaction"`},
		{name: "list takes no argument", args: []string{"transaction", "list", "p-1"}, err: `unexpected argument "p-1"`},
		{name: "list unknown state", args: []string{"transaction", "list", "--state", "ongoing,open"}, err: `--state "open": use Empty, Ongoing,`},
		{name: "list bad producer ID", args: []string{"txn", "ls", "--producer-id", "x"}, err: `--producer-id "x": want a producer ID`},
		{name: "list bad format", args: []string{"transaction", "list", "--format", "yaml"}, err: `--format "yaml": use table or json`},
		{name: "list reaches for the broker", args: []string{"transaction", "list", "--state", "Ongoing", "--producer-id", "1,2"}, err: "cannot reach broker " + down},
		{name: "describe needs an ID", args: []string{"transaction", "describe"}, err: "give the transactional ID: chronik transaction describe ID [ID...]"},
		{name: "describe empty ID", args: []string{"transaction", "describe", "p-1", ""}, err: "give the transactional ID"},
		{name: "describe reaches for the broker", args: []string{"txn", "describe", "p-1", "p-2"}, err: "cannot reach broker " + down},
	})
}

// TestTransactionHelp checks that every transaction command has help with
// an example and the shared cluster flags.
func TestTransactionHelp(t *testing.T) { checkCommandHelp(t, "transaction") }
