package raftfsm

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
)

// HasState reports whether cfg.Dir holds Raft state (a term, log entries
// or a snapshot): a node that was bootstrapped or added to a group. It
// opens and closes the Raft log store (cfg.LogStore), so it must not be
// called while a Node is open on the same directory. A missing directory
// is no state.
func HasState(cfg Config) (has bool, err error) {
	raftDir := filepath.Join(cfg.Dir, "raft")
	if _, err := os.Stat(raftDir); errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, log: log}
	defer func() { err = errors.Join(err, n.closeAll()) }()
	logs, stable, err := n.openLogStore(raftDir)
	if err != nil {
		return false, err
	}
	snaps, err := newSnapshotStore(filepath.Join(raftDir, "snapshots"), n)
	if err != nil {
		return false, err
	}
	return raft.HasExistingState(logs, stable, snaps)
}
