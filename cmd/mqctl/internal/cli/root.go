package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit statuses; see the package doc.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
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

// failure wraps err as a failed command (exit status 1).
func failure(err error) error { return &exitError{code: ExitFailure, err: err} }

// usageError is a bad argument found by a command itself; it exits like
// cobra's own usage errors (status 2, with a hint to --help).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// Run executes mqctl with args (without the program name), reading stdin
// and writing to stdout and stderr, and returns the process exit status.
// SIGINT and SIGTERM cancel the command's context (consume then commits
// and exits 0).
func Run(version string, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return execute(ctx, version, args, os.Stdin, stdout, stderr)
}

// execute is Run with the context and standard input given.
func execute(ctx context.Context, version string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(version)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
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
	// Anything else is a usage error: cobra's (unknown command, bad or
	// missing flag or argument) or a command's own usageError.
	path := "mqctl"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	fmt.Fprintf(stderr, "mqctl: %v\nRun '%s --help' for usage.\n", err, path)
	return ExitUsage
}

func newRootCmd(version string) *cobra.Command {
	g := &globals{}
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
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{msg: err.Error()} })
	g.register(root)
	root.AddCommand(
		newProduceCmd(g),
		newConsumeCmd(g),
		newTopicCmd(g),
		newGroupCmd(g),
		newClusterCmd(g),
		newMsgCmd(g),
		newHealthCmd(g),
		newStoreCmd(g),
		newCheckCmd(g),
		newBenchCmd(g),
	)
	return root
}

// groupCmd returns a parent command that only holds subcommands.
func groupCmd(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
}
