// Package raftfsm replicates a broker group's store with Raft: the
// hashicorp/raft wiring (log and stable store, TCP transport, snapshot
// store) and the state machine that appends committed entries to the
// CommitLog, so offsets and message ids are the same on every replica.
//
// # Data flow
//
// The leader encodes a command (see command.go for the format), Raft
// fsyncs it in a majority's logs and commits it, and every node's FSM
// applies it: a produce command becomes one store.Append of its messages
// (consecutive produce entries in one ApplyBatch share a single Append);
// topic and offset commands update the FSM tables and are written to the
// CommitLog too, as records of the system topics %SYS%TOPIC and
// %SYS%OFFSET. Every record carries the Raft index it came from.
//
// # Persistence and restart
//
// The FSM is persistent. Raft is configured with NoSnapshotRestoreOnStart:
// on restart the store recovers on its own (package store), the tables are
// taken from the newest snapshot's description and the system records
// written after it, and Raft replays its log from the snapshot index;
// entries at or below Store.LastRaftIndex are skipped (their records are
// already in the CommitLog). A crash can lose the store's unsynced tail
// (FlushAsync) but never below a snapshot: Persist fsyncs the store up to
// the snapshot's CommitLog end before the snapshot exists, and Raft's log
// still holds every entry after the snapshot index.
//
// # Snapshots
//
// Snapshots never copy the CommitLog. The snapshot store (snapstore.go,
// sink.go, stream.go) keeps, per snapshot, a meta.json with the Raft
// metadata, the FSM tables and the CommitLog end. Open streams the live
// segments [current minimum, end) only when Raft sends the snapshot to a
// follower that wiped its data or fell behind the leader's TrailingLogs;
// the follower's sink writes them into a staging directory, and
// FSM.Restore swaps that in as the follower's store (an interrupted swap is
// finished by the next Open). Retention never deletes segments that the
// newest snapshot or an open stream refers to. The reported snapshot size
// is the real stream size.
//
// Ordering rules: the Raft log entry is fsynced on a majority before the
// FSM applies it; the CommitLog may lag (async flush); a snapshot never
// claims more than what is fsynced in the store.
//
// # Dependencies
//
//   - github.com/hashicorp/raft: the consensus library of the Go
//     ecosystem (Consul, Nomad, Vault); leader election, log replication,
//     snapshots, membership changes, leadership transfer.
//   - github.com/hashicorp/raft-wal: the default Raft log and stable store
//     (LogStore "wal"): one write and one fsync per append. Measured
//     against raft-boltdb on a three-node group (docs/PERFORMANCE.md) it
//     halves the synchronous produce latency and doubles throughput;
//     the newest LogCacheEntries entries are also kept in memory
//     (raft.LogCache) so replication and apply never read them back.
//     raft-wal keeps serving compacted entries until their segment is
//     deleted, so a follower behind the snapshot may still catch up from
//     the log rather than by an install.
//   - github.com/hashicorp/raft-boltdb/v2: the other log store (LogStore
//     "boltdb"; two fdatasyncs and page writes per append). A data
//     directory keeps the store it was created with (logstore.go).
//   - github.com/hashicorp/go-hclog: the logger interface raft requires,
//     forwarded to log/slog.
package raftfsm
