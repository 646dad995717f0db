package raftfsm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
)

// Log store names (Config.LogStore) and where each keeps its files under
// the Raft directory.
const (
	LogStoreWAL    = "wal"    // hashicorp/raft-wal in raft/wal/
	LogStoreBoltDB = "boltdb" // hashicorp/raft-boltdb in raft/raft.db
)

// existingLogStore says which log store holds Raft state in raftDir: ""
// when neither does. Both present is an error: the node cannot know which
// log is the real one.
func existingLogStore(raftDir string) (string, error) {
	exists := func(name string) (bool, error) {
		_, err := os.Stat(filepath.Join(raftDir, name))
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	wal, err := exists("wal")
	if err != nil {
		return "", err
	}
	bolt, err := exists("raft.db")
	if err != nil {
		return "", err
	}
	switch {
	case wal && bolt:
		return "", fmt.Errorf("raftfsm: %s holds both a raft-wal log (wal/) and a raft-boltdb log (raft.db); remove the one that is not in use", raftDir)
	case wal:
		return LogStoreWAL, nil
	case bolt:
		return LogStoreBoltDB, nil
	}
	return "", nil
}

// openLogStore opens the Raft log and stable store. A data directory keeps
// the store it was created with: when raftDir already holds the other
// kind's files, those are opened (with a warning) instead of
// Config.LogStore, so a changed default never strands existing state.
func (n *Node) openLogStore(raftDir string) (raft.LogStore, raft.StableStore, error) {
	kind := n.cfg.LogStore
	existing, err := existingLogStore(raftDir)
	if err != nil {
		return nil, nil, err
	}
	if existing != "" && existing != kind {
		n.log.Warn("raft directory was created with another log store; keeping it", "configured", kind, "using", existing, "dir", raftDir)
		kind = existing
	}
	if kind == LogStoreWAL {
		dir := filepath.Join(raftDir, "wal")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, nil, err
		}
		// raft-wal v0.4.0's WAL.Close leaves its meta database open (and
		// its bolt file locked, so a restart in the same process hangs):
		// own the meta store and close it after the WAL.
		meta := &metadb.BoltMetaDB{}
		// Segments are written with O_DIRECT (directvfs.go).
		// Segments are written with O_DIRECT (directvfs.go).
		size := raftwal.WithSegmentSize(n.cfg.walSegmentSize)
		if n.cfg.walSegmentSize == 0 {
			size = raftwal.WithMetaStore(meta) // raft-wal's default size
		}
		w, err := raftwal.Open(dir, raftwal.WithMetaStore(meta),
			raftwal.WithSegmentFiler(segment.NewFiler(dir, newDirectVFS())), size)
		if err != nil {
			meta.Close()
			return nil, nil, fmt.Errorf("raftfsm: open raft-wal: %w", err)
		}
		n.closer = append(n.closer, w.Close, meta.Close)
		return w, w, nil
	}
	b, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(raftDir, "raft.db")})
	if err != nil {
		return nil, nil, fmt.Errorf("raftfsm: open raft-boltdb: %w", err)
	}
	n.closer = append(n.closer, b.Close)
	return b, b, nil
}
