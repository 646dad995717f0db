package broker

import (
	"context"

	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

// Replicator is what the broker needs of its group's replicated state
// machine: *raftfsm.Node implements it (asserted in the tests), and unit
// tests use an in-memory fake. Writes (Produce, CommitOffsets, CreateTopic,
// DeleteTopic) go through Raft and fail with raftfsm.ErrNotLeader on a
// follower; reads serve this replica's applied state. All methods are
// called from many goroutines at once.
type Replicator interface {
	// Produce appends the requests as one Raft entry and returns, once
	// the entry is applied locally, one result per request: where each
	// message was stored, or why that request alone was refused. An error
	// return concerns the whole entry.
	Produce(ctx context.Context, reqs []raftfsm.ProduceRequest) ([]raftfsm.ProduceResult, error)
	// CommitOffsets records consumer offsets as one Raft entry.
	CommitOffsets(ctx context.Context, commits []raftfsm.OffsetCommit) error
	// CreateTopic and DeleteTopic change the topic table through Raft.
	CreateTopic(ctx context.Context, t raftfsm.Topic) error
	DeleteTopic(ctx context.Context, name string) error

	// Topic, Topics, Offset and Groups read the applied FSM tables.
	Topic(name string) (raftfsm.Topic, bool)
	Topics() []raftfsm.Topic
	Offset(group, topic string, queueID uint32) (uint64, bool)
	Groups() []string
	// Store returns the store to read from; it may change after a
	// snapshot install (ask per request; retry once on store.ErrClosed).
	Store() *store.Store
	// Applied returns a channel closed at the next FSM apply.
	Applied() <-chan struct{}

	// IsLeader, Leader, Status, Term and Servers describe the Raft group.
	IsLeader() bool
	Leader() (id, raftAddr string)
	Status() raftfsm.Status
	// CheckDisk checks the store's disk now (if its cached answer is
	// stale), so that Status reports it; store.ErrDiskFull above the hard
	// limit. It may wait for the file system.
	CheckDisk() error
	Term() uint64 // cheap, unlike Status: heartbeats use it
	Servers() ([]raftfsm.Peer, error)
	// Err is non-nil once the replica failed for good (its store or Raft
	// log could not be written): it shut Raft down and serves nothing
	// until the process restarts.
	Err() error
	// TransferLeadership hands leadership to targetID ("" = any voter).
	TransferLeadership(targetID string) error
	// RemoveServer removes server id from the Raft configuration (leader
	// only).
	RemoveServer(id string) error
	// Close shuts the replica down, transferring leadership first when it
	// leads.
	Close() error
}
