package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit statuses; see the package doc.
const (
	ExitOK       = 0
	ExitProblems = 1
	ExitError    = 2
)

// exitError carries a command's exit status out of cobra. A nil err means
// the command already printed everything it had to say.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// Run executes mqctl with args (without the program name), writing to
// stdout and stderr, and returns the process exit status.
func Run(version string, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(version)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "mqctl: %v\n", ee.err)
		}
		return ee.code
	}
	// Anything else is a usage error reported by cobra: unknown command,
	// bad or missing flag.
	fmt.Fprintf(stderr, "mqctl: %v\nRun 'mqctl --help' for usage.\n", err)
	return ExitError
}

func newRootCmd(version string) *cobra.Command {
	root := &cobra.Command{
		Use:           "mqctl",
		Short:         "Operate and inspect raftmq brokers and stores",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	root.SetVersionTemplate("mqctl {{.Version}}\n")
	root.AddCommand(newStoreCmd())
	return root
}
