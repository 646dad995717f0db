package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/raftmq/raftmq/store"
)

func newStoreCmd(g *globals) *cobra.Command {
	cmd := groupCmd("store", "Inspect a broker's local store directory offline")
	cmd.AddCommand(newStoreVerifyCmd(g))
	return cmd
}

func newStoreVerifyCmd(g *globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "verify --dir DIR [--json]",
		Short: "Check that a store's CommitLog, ConsumeQueues and key index agree",
		Long: `verify reads a store directory offline (stop the broker first) and checks
every CommitLog record's checksum, that queue offsets are dense, that every
ConsumeQueue entry and key index entry points at the right record, and that
the checkpoint claims no more than the CommitLog holds.

Exit status: 0 the store is consistent, 1 problems were found, 2 the store
could not be opened.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStoreVerify(cmd.OutOrStdout(), dir, g.json)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "store directory (required)")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

func runStoreVerify(out io.Writer, dir string, asJSON bool) error {
	// Verify opens files inside dir; check dir itself first so that a typo
	// is reported as such and never creates anything.
	if fi, err := os.Stat(dir); err != nil {
		return &exitError{code: ExitUsage, err: fmt.Errorf("store verify: %w", err)}
	} else if !fi.IsDir() {
		return &exitError{code: ExitUsage, err: fmt.Errorf("store verify: %s is not a directory", dir)}
	}
	rep, err := store.Verify(dir)
	if err != nil {
		return &exitError{code: ExitUsage, err: fmt.Errorf("store verify %s: %w", dir, err)}
	}
	if asJSON {
		err = writeVerifyJSON(out, dir, rep)
	} else {
		err = writeVerifyText(out, dir, rep)
	}
	if err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	if !rep.OK() {
		return &exitError{code: ExitFailure}
	}
	return nil
}
