package raftfsm

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/store"
)

// Peer is a Raft server: its server id and Raft address. A static peer
// list names voters; Node.Servers also reports non-voters.
type Peer struct {
	ID       string
	RaftAddr string
	// NonVoter marks a server that replicates but neither votes nor may
	// lead (set by Node.Servers only).
	NonVoter bool
}

// Config configures a Node. Start from DefaultConfig or TestConfig.
type Config struct {
	// NodeID is this node's Raft server id, unique in its group.
	NodeID string
	// Dir holds raft/ (log, stable store, snapshots) and store/.
	Dir string
	// RaftBind is the TCP address the Raft transport listens on
	// (host:port; port 0 picks one).
	RaftBind string
	// RaftAdvertise is the address other nodes dial; empty means the
	// address the listener got.
	RaftAdvertise string
	// Bootstrap forms a new group from Peers (plus this node) when no Raft
	// state exists yet. Every founding node must be given the same Peers.
	Bootstrap bool
	// Peers are the founding voters, used only with Bootstrap.
	Peers []Peer
	// Store configures the message store. FlushAsync is the right default
	// under Raft: the Raft log is fsynced before an entry commits, and a
	// snapshot fsyncs the store before it claims an index.
	Store store.Options
	// LogStore chooses the Raft log and stable store of a new data
	// directory: LogStoreWAL (hashicorp/raft-wal, the default: one write
	// and one fsync per append) or LogStoreBoltDB (hashicorp/raft-boltdb:
	// two fdatasyncs and several page writes per append). A directory
	// that already holds Raft state keeps the store it was created with.
	LogStore string

	// Raft timing; see hashicorp/raft's Config.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// SnapshotInterval and SnapshotThreshold decide how often a snapshot
	// (cheap: no CommitLog copy) is taken; TrailingLogs entries are kept
	// behind it so slow followers can catch up without an install.
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// MaxAppendEntries bounds entries per AppendEntries RPC.
	MaxAppendEntries int
	// LogCacheEntries is how many of the newest Raft log entries are kept
	// in memory (hashicorp/raft's LogCache), so that replicating them to
	// followers and applying them does not read them back from the log
	// store; 0 disables the cache (then, with the O_DIRECT Raft log, every
	// entry a node applies is read from the disk). Each entry holds at
	// most one produce batch (broker MaxBatchBytes).
	LogCacheEntries int
	// SerialLeaderAppend makes the leader fsync its own copy of new
	// entries before replicating them (hashicorp/raft's own order) instead
	// of in parallel with the followers (leaderlog.go). Only for
	// comparison benchmarks: both keep the same promise.
	SerialLeaderAppend bool
	// LeaderCopyBeforeApply makes the leader, with the parallel append,
	// apply an entry only once its own copy is durable, even when a quorum
	// of followers already holds it durably (followerAcks in leaderlog.go).
	// Only for comparison benchmarks: both keep the same promise.
	LeaderCopyBeforeApply bool
	// WrapLogStore, when set, wraps the Raft log store as opened, under
	// the log cache and the leader log. It is for tests only: in-process
	// tests slow or gate appends with it, and the daemon's disk fault test
	// hook puts the Raft log behind the same stalls as the store.
	WrapLogStore func(raft.LogStore) raft.LogStore
	// walSegmentSize, when set (tests only), is raft-wal's segment size.
	walSegmentSize int
	// ApplyTimeout bounds how long a command may wait to enter Raft's queue.
	ApplyTimeout time.Duration

	// ScrubInterval is how often the whole CommitLog is read back and
	// every record's checksum verified, so damage nobody reads is found and
	// repaired from a replica while the replicas still hold the bytes.
	ScrubInterval time.Duration
	// RepairRetry is the pause between attempts to repair a damaged
	// record while no replica can serve its bytes.
	RepairRetry time.Duration
	// RepairTimeout bounds how long Open keeps trying to repair a store
	// found damaged before it gives up with store.ErrCorrupt.
	RepairTimeout time.Duration

	// Logger receives logs (Raft's included); nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns a production configuration (NodeID, Dir and
// RaftBind must still be set).
func DefaultConfig() Config {
	so := store.DefaultOptions()
	so.FlushMode = store.FlushAsync
	return Config{
		Store:              so,
		LogStore:           LogStoreWAL,
		HeartbeatTimeout:   1000 * time.Millisecond,
		ElectionTimeout:    1000 * time.Millisecond,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,
		SnapshotInterval:   30 * time.Second,
		SnapshotThreshold:  4096,
		TrailingLogs:       8192,
		MaxAppendEntries:   256,
		LogCacheEntries:    64,
		ApplyTimeout:       5 * time.Second,
		ScrubInterval:      6 * time.Hour,
		RepairRetry:        time.Second,
		RepairTimeout:      2 * time.Minute,
	}
}

// TestConfig returns tight timeouts and a tiny store for tests.
func TestConfig() Config {
	c := DefaultConfig()
	c.Store = store.TestOptions()
	c.HeartbeatTimeout = 150 * time.Millisecond
	c.ElectionTimeout = 150 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
	c.CommitTimeout = 2 * time.Millisecond
	c.SnapshotInterval = 200 * time.Millisecond
	c.SnapshotThreshold = 64
	c.TrailingLogs = 32
	c.RaftBind = "127.0.0.1:0"
	c.ScrubInterval = 5 * time.Second
	c.RepairRetry = 100 * time.Millisecond
	c.RepairTimeout = 10 * time.Second
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.NodeID == "":
		return errors.New("raftfsm: NodeID is required")
	case c.Dir == "":
		return errors.New("raftfsm: Dir is required")
	case c.RaftBind == "":
		return errors.New("raftfsm: RaftBind is required")
	case c.LogStore != LogStoreBoltDB && c.LogStore != LogStoreWAL:
		return fmt.Errorf("raftfsm: LogStore %q: want boltdb or wal", c.LogStore)
	case c.HeartbeatTimeout <= 0 || c.ElectionTimeout <= 0 || c.LeaderLeaseTimeout <= 0 || c.CommitTimeout <= 0:
		return errors.New("raftfsm: Raft timeouts must be positive")
	case c.LeaderLeaseTimeout > c.HeartbeatTimeout:
		return errors.New("raftfsm: LeaderLeaseTimeout must not exceed HeartbeatTimeout")
	case c.SnapshotInterval <= 0 || c.SnapshotThreshold == 0 || c.MaxAppendEntries <= 0 || c.ApplyTimeout <= 0:
		return errors.New("raftfsm: snapshot and apply settings must be positive")
	case c.ScrubInterval <= 0 || c.RepairRetry <= 0 || c.RepairTimeout <= 0:
		return errors.New("raftfsm: scrub and repair intervals must be positive")
	case c.LogCacheEntries < 0:
		return errors.New("raftfsm: LogCacheEntries must not be negative")
	case c.TrailingLogs == 0:
		// Compaction then keeps at least the last entry, so only a
		// snapshot install empties the log (leaderLog.emptied).
		return errors.New("raftfsm: TrailingLogs must be at least 1")
	case c.MaxAppendEntries > 1024:
		return errors.New("raftfsm: MaxAppendEntries must be at most 1024 (hashicorp/raft's limit)")
	}
	for _, p := range c.Peers {
		if p.ID == "" || p.RaftAddr == "" {
			return fmt.Errorf("raftfsm: peer %+v needs an id and an address", p)
		}
	}
	return nil
}
