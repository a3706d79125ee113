// Command chronik is the Chronik broker and its operator tool. It only
// parses the command line and calls into core/broker; see ARCHITECTURE.md.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the process exit code. Every
// error is printed once, to stderr, prefixed "chronik: ".
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		for line := range strings.SplitSeq(err.Error(), "\n") {
			fmt.Fprintln(stderr, "chronik: "+line)
		}
		return 1
	}
	return 0
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "chronik",
		Short: "Kafka-compatible streaming broker with a Raft group per partition",
		Long: `Chronik is a Kafka-compatible streaming broker. Every partition is its own Raft
group (Dragonboat); state lives in Pebble and cold segments in object storage.

Start a single-node broker with "chronik serve".`,
		Version: version,
		// Errors are printed once by run; a runtime error (a busy port, a
		// bad data directory) is not a usage problem, so no usage dump.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetVersionTemplate(versionString() + "\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nrun '%s --help' for usage", err, c.CommandPath())
	})
	root.AddCommand(newServeCmd(), newVersionCmd(), newTopicCmd(), newGroupCmd(), newTransactionCmd(), newUserCmd(), newTokenCmd(), newACLCmd(), newQuotaCmd(), newClusterCmd(), newTierCmd(), newBackupCmd(), newRestoreCmd(), newBenchCmd(), newPluginsCmd())
	return root
}
