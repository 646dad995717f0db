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
// # Idempotent produce
//
// A produce entry (version 2) keeps the boundaries of the client requests
// the leader's batcher merged into it, and the FSM checks each request on
// its own: a request whose topic or queue is gone fails alone, and the
// accepted requests of consecutive entries are still written with one
// store.Append. A request may carry its producer's id and a sequence
// number; the FSM keeps a table (producers.go) of each producer's last
// 256 sequences and where their messages went (first CommitLog offset and
// message count; a duplicate's answer — offsets, queue ids, timestamps —
// is read back from those records by the leader, so the table stays
// small). A duplicate is answered with the original's offsets and stores
// nothing; a sequence below the window is refused (ErrSequenceTooOld,
// OUT_OF_RANGE). Producers idle for 10 minutes of entry timestamps are
// forgotten, and at most 1024 are kept (the least recently used goes
// first). Only entry data drives the table — requests and the leader's
// store timestamp, never a replica's clock — and it changes only when an
// idempotent request is appended.
//
// Surviving restarts. The table must be the same after a restart as on
// the replicas that kept running. Two choices were possible: checkpoint
// the table (in a system record or a side file) on every change, or make
// the CommitLog say which idempotent requests were applied and replay
// that. The second is used: the first record of an idempotent request
// carries record flag flagProducerSeq and the property
// ProducerSeqProperty (producer id, sequence, message count), written by
// the leader into the entry itself (so its size is validated before
// proposing and every replica stores identical bytes; the decoder refuses
// an entry whose marks disagree with its request headers, and users
// cannot set record flags). The table is saved in every snapshot's meta
// (local and installed), so at Open it is the newest local snapshot's
// table plus a replay of the marked records after that snapshot's
// CommitLog end — the same range the system records are replayed from,
// bounded by the snapshot interval rather than by the 10-minute expiry
// window, and with no extra write on the apply path. Replaying only the
// appended requests rebuilds the identical table because the table is
// changed by nothing else, and expiry and eviction decide the same
// whenever they run (an expired producer is treated as absent; eviction
// drops the expired ones first). A follower installed from a snapshot
// takes the snapshot's table.
//
// Limits. A producer evicted by the cap (more than 1024 producers active
// in a group within 10 minutes, e.g. one Producer per request) or expired
// (a retry more than 10 minutes later, or a leader clock that jumped that
// far) is forgotten, and a retry of its last request is stored again: the
// same at-least-once outcome as without a producer id. Upgrades: a node
// of an older release cannot decode produce version 2 (written for every
// request with a producer id, and for every entry that merges several
// requests), so every node of a group must run this release before
// clients that send producer ids (this release's Producer) use it.
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
// # The leader's own copy (leaderlog.go)
//
// The leader writes and fsyncs its copy of new entries while the
// followers write theirs (the Raft thesis, section 10.2.1), instead of
// before replicating them as hashicorp/raft does, so a synchronous produce
// waits for about one fsync instead of two in a row. hashicorp/raft then
// counts the leader as holding an entry before its fsync ends; no replica
// acts on that: the leader's FSM applies (and answers) only once the entry
// is durable on a quorum, counting the leader's own copy only once its
// fsync has ended (with three nodes: the leader's and one follower's, or
// both followers'), and the commit index sent to followers is clamped to
// the leader's durable index, so an applied or acknowledged entry is
// always fsynced on a majority. Config.LeaderCopyBeforeApply makes the
// leader always wait for its own copy, and Config.SerialLeaderAppend
// restores hashicorp/raft's order (both for comparison benchmarks). A
// failed background write stops the node's Raft (as a failed store does).
//
// # Damaged CommitLog records (bit flips)
//
// Every record carries a CRC32C and the CommitLogs of a group are
// byte-identical (same offsets, leader-chosen timestamps, deterministic
// blanks and trailers, and the batch-end flag marks the end of each Raft
// entry, not of each store.Append, whose grouping differs per replica).
// So a replica whose disk damaged a record repairs it by copying the same
// bytes from another replica:
//
//   - Detection: every read that returns a message to a client (fetch by
//     queue offset, get by id, query by key, the checker's replica reads)
//     verifies the CRC and fails with store.ErrCorrupt (gRPC DATA_LOSS;
//     clients then read another replica). A background scrub
//     (Config.ScrubInterval) verifies every record, so damage nobody reads
//     is found while the replicas still hold the bytes. Each finding is
//     queued for repair (store.Options.OnCorrupt).
//   - Repair while running (repair.go): ask the other servers of the
//     current configuration, leader first, for the bytes from the damaged
//     record on (up to 8 MiB, within its segment). The sender returns only
//     whole records that pass their CRC here (store.ReadVerified), so
//     damage never spreads; the receiver checks the transfer's CRC, every
//     record again, and that each local record that is still valid equals
//     the replica's byte for byte (store.ErrDiverged otherwise), then
//     rewrites only the damaged records in place and fsyncs the segment
//     (store.RepairCommitLog). Reads in between see the damaged record
//     (refused) or the repaired one. Failed attempts are retried every
//     Config.RepairRetry.
//   - Repair at start: recovery that meets a bad record inside what is
//     known durable — the checkpoint's Flushed or the newest snapshot's
//     CommitLog end, fsynced before the snapshot existed
//     (store.Options.KnownDurable) — fails store.Open with a
//     *store.CorruptError instead of truncating; Open then repairs the
//     closed store the same way (store.RepairDir) from the servers named by
//     the latest configuration in the Raft log, and opens again, for up to
//     Config.RepairTimeout. A bad record past that point is a torn tail:
//     recovery truncates it, and Raft replays the entries after the
//     snapshot index from this node's own log, re-appending the same bytes.
//   - Snapshot streams to a follower read the CommitLog verified too: a
//     damaged leader fails the stream (and repairs itself) instead of
//     installing its damage on a follower; Raft retries the install.
//
// The repair protocol shares the Raft TCP port (mux.go, format there): the
// stream layer routes connections by their first byte, so a repair needs
// no extra port, address or configuration, and works between any two
// servers of the group.
//
// Why this design and not the alternatives. Re-applying the damaged range
// from the node's own Raft log works only while the log still holds those
// entries (TrailingLogs behind the last snapshot), which a sealed segment
// rarely is; and wiping the store to have the group reinstall it from a
// snapshot means touching Raft state (hashicorp/raft has no follower-side
// "send me a snapshot"), where a voter that forgets entries it
// acknowledged can lose a committed write. The byte copy touches neither
// the Raft log nor the stable store: the node stays a voter whose votes
// and acknowledgements are about its Raft log, which the damage did not
// touch, so it is never counted for a commit with a state it lacks; its
// FSM keeps applying committed entries meanwhile (appends never read old
// records), and the only thing the damage takes away until the repair is
// the ability to serve the damaged records, which it refuses. What this
// does not cover: damage to the Raft log (raft-boltdb's own checks), to
// ConsumeQueue or key index files (derived data, rebuilt from the
// CommitLog by recovery), and a record damaged on every replica at once.
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
