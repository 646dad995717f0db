package broker

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/raftmq/raftmq/store"
)

// Config configures a Broker. Start from DefaultConfig (or TestConfig);
// New applies defaults for zero values (withDefaults, the one place they
// are applied) and calls Validate.
type Config struct {
	// GroupID names this node's broker group (its Raft group). It is the
	// first part of every message id the group hands out. Required.
	GroupID string
	// NodeID is this node's id, the same as its Raft server id. Required.
	NodeID string
	// GRPCAddr is this node's advertised gRPC address (host:port), what
	// other nodes and clients dial. Required.
	GRPCAddr string

	// Peers maps the node ids of this group to their advertised gRPC
	// addresses. It feeds the static Directory used when Directory is nil;
	// this node (NodeID -> GRPCAddr) is added if missing.
	Peers map[string]string
	// Directory answers "gRPC address of node X" and "members of group G".
	// Nil means a static directory built from Peers (gossip replaces it
	// later).
	Directory Directory

	// AutoCreateTopics makes Produce and Heartbeat create a missing topic
	// with DefaultQueues queues instead of failing with ErrTopicNotFound.
	AutoCreateTopics bool
	// DefaultQueues is the queue count of auto-created topics.
	DefaultQueues uint32
	// MaxQueuesPerTopic bounds the queue count of a topic.
	MaxQueuesPerTopic uint32

	// MaxBatchMessages bounds the messages of one Raft entry. A Produce
	// request with more messages is refused with ErrRequestTooLarge.
	MaxBatchMessages int
	// MaxBatchBytes bounds the encoded record bytes of one Raft entry. A
	// Produce request larger than this is refused with ErrRequestTooLarge,
	// unless it holds a single message (bounded by MessageLimits).
	MaxBatchBytes int
	// ProducePipeline is how many produce batches (Raft entries) may be in
	// flight at once. 1 means strict group commit (the next batch forms
	// while one apply runs); more lets Raft write several entries with one
	// log fsync and one AppendEntries, which is what fills the disk when
	// the commit latency is an fsync on two machines. Requests in flight
	// at the same time have no order between them; one client's
	// sequential sends keep theirs.
	ProducePipeline int

	// MaxCommitOffsets bounds the offsets of one CommitOffsets request and
	// of one batched offset-commit Raft entry.
	MaxCommitOffsets int
	// ApplyTimeout bounds one Raft apply (a produce or commit batch, a
	// topic change) on top of each caller's own context deadline.
	ApplyTimeout time.Duration
	// ApplyStallTimeout is how long a leader's FSM may stay inside one
	// apply of committed entries (a stalled store disk) before the leader
	// hands the leadership to another voter (see watchApply). Negative
	// disables the watchdog.
	ApplyStallTimeout time.Duration
	// DiskFullCheck is how often every node checks its store disk (so its
	// status is fresh) and a leader whose disk is used above the hard
	// limit, which refuses every produce, hands the leadership to a voter
	// of its group whose disk has room (see watchDisk). Negative disables
	// it.
	DiskFullCheck time.Duration
	// MessageLimits holds the store options the group's replicas were
	// opened with; MaxMessageSize and MaxPropertiesSize are used to
	// validate messages before they reach Raft.
	MessageLimits store.Options

	// MaxFetchWait caps the long-polling wait of one Fetch.
	MaxFetchWait time.Duration
	// DefaultFetchMessages is the message limit of a Fetch that sets none.
	DefaultFetchMessages int
	// MaxFetchMessages caps the message limit of one Fetch.
	MaxFetchMessages int
	// DefaultFetchBytes is the byte limit of a Fetch that sets none (and
	// its cap).
	DefaultFetchBytes int

	// SessionTimeout is the consumer session timeout of a Heartbeat that
	// sets none: a member not heard from for this long is dropped and its
	// queues reassigned.
	SessionTimeout time.Duration
	// MinSessionTimeout and MaxSessionTimeout clamp the session timeout a
	// Heartbeat asks for.
	MinSessionTimeout, MaxSessionTimeout time.Duration

	// Logger receives the broker's logs; nil discards them.
	Logger *slog.Logger
}

// Defaults, exported for the daemon's flag help.
const (
	DefaultMaxBatchMessages = 1024
	DefaultMaxBatchBytes    = 4 << 20
)

// DefaultConfig returns a complete production configuration, missing only
// the node's identity (GroupID, NodeID, GRPCAddr).
func DefaultConfig() Config {
	return Config{
		DefaultQueues:        4,
		MaxQueuesPerTopic:    1024,
		MaxBatchMessages:     DefaultMaxBatchMessages,
		MaxBatchBytes:        DefaultMaxBatchBytes,
		MaxCommitOffsets:     4096,
		ProducePipeline:      4,
		ApplyTimeout:         10 * time.Second,
		ApplyStallTimeout:    2 * time.Second,
		DiskFullCheck:        time.Second,
		MessageLimits:        store.DefaultOptions(),
		MaxFetchWait:         30 * time.Second,
		DefaultFetchMessages: 32,
		MaxFetchMessages:     1024,
		DefaultFetchBytes:    4 << 20,
		SessionTimeout:       10 * time.Second,
		MinSessionTimeout:    time.Second,
		MaxSessionTimeout:    5 * time.Minute,
	}
}

// TestConfig returns DefaultConfig with the short timeouts and the small
// message limits (store.TestOptions) that tests want.
func TestConfig() Config {
	c := DefaultConfig()
	c.ApplyTimeout = 5 * time.Second
	c.MessageLimits = store.TestOptions()
	c.MaxFetchWait = 5 * time.Second
	c.SessionTimeout = time.Second
	c.MinSessionTimeout = 10 * time.Millisecond
	return c
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setDefault(&c.DefaultQueues, d.DefaultQueues)
	setDefault(&c.MaxQueuesPerTopic, d.MaxQueuesPerTopic)
	setDefault(&c.MaxBatchMessages, d.MaxBatchMessages)
	setDefault(&c.MaxBatchBytes, d.MaxBatchBytes)
	setDefault(&c.MaxCommitOffsets, d.MaxCommitOffsets)
	setDefault(&c.ProducePipeline, d.ProducePipeline)
	setDefault(&c.ApplyTimeout, d.ApplyTimeout)
	setDefault(&c.ApplyStallTimeout, d.ApplyStallTimeout)
	setDefault(&c.DiskFullCheck, d.DiskFullCheck)
	setDefault(&c.MessageLimits.MaxMessageSize, d.MessageLimits.MaxMessageSize)
	setDefault(&c.MessageLimits.MaxPropertiesSize, d.MessageLimits.MaxPropertiesSize)
	setDefault(&c.MaxFetchWait, d.MaxFetchWait)
	setDefault(&c.DefaultFetchMessages, d.DefaultFetchMessages)
	setDefault(&c.MaxFetchMessages, d.MaxFetchMessages)
	setDefault(&c.DefaultFetchBytes, d.DefaultFetchBytes)
	setDefault(&c.SessionTimeout, d.SessionTimeout)
	setDefault(&c.MinSessionTimeout, d.MinSessionTimeout)
	setDefault(&c.MaxSessionTimeout, d.MaxSessionTimeout)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Directory == nil {
		peers := make(map[string]string, len(c.Peers)+1)
		for id, addr := range c.Peers {
			peers[id] = addr
		}
		if _, ok := peers[c.NodeID]; !ok && c.NodeID != "" {
			peers[c.NodeID] = c.GRPCAddr
		}
		c.Directory = NewStaticDirectory(c.GroupID, peers)
	}
	return c
}

func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Validate checks ranges and cross-field rules.
func (c Config) Validate() error {
	switch {
	case validateName("group id", c.GroupID) != nil:
		return validateName("group id", c.GroupID)
	case c.NodeID == "":
		return fmt.Errorf("broker: NodeID is required")
	case c.GRPCAddr == "":
		return fmt.Errorf("broker: GRPCAddr is required")
	case c.DefaultQueues == 0 || c.DefaultQueues > c.MaxQueuesPerTopic:
		return fmt.Errorf("broker: DefaultQueues %d must be in [1, MaxQueuesPerTopic=%d]", c.DefaultQueues, c.MaxQueuesPerTopic)
	case c.MaxQueuesPerTopic > store.MaxQueueID+1:
		return fmt.Errorf("broker: MaxQueuesPerTopic %d above %d", c.MaxQueuesPerTopic, store.MaxQueueID+1)
	case c.MaxBatchMessages <= 0 || c.MaxBatchBytes <= 0 || c.MaxCommitOffsets <= 0 || c.ProducePipeline <= 0:
		return fmt.Errorf("broker: batch limits must be positive")
	case c.ApplyTimeout <= 0 || c.MaxFetchWait <= 0:
		return fmt.Errorf("broker: ApplyTimeout and MaxFetchWait must be positive")
	case c.MessageLimits.MaxMessageSize <= 0 || c.MessageLimits.MaxPropertiesSize <= 0:
		return fmt.Errorf("broker: MessageLimits sizes must be positive")
	case c.DefaultFetchMessages <= 0 || c.DefaultFetchMessages > c.MaxFetchMessages || c.DefaultFetchBytes <= 0:
		return fmt.Errorf("broker: fetch limits must be positive, DefaultFetchMessages <= MaxFetchMessages")
	case c.MinSessionTimeout <= 0 || c.MinSessionTimeout > c.MaxSessionTimeout:
		return fmt.Errorf("broker: need 0 < MinSessionTimeout <= MaxSessionTimeout")
	case c.SessionTimeout < c.MinSessionTimeout || c.SessionTimeout > c.MaxSessionTimeout:
		return fmt.Errorf("broker: SessionTimeout %v outside [%v, %v]", c.SessionTimeout, c.MinSessionTimeout, c.MaxSessionTimeout)
	}
	return nil
}

// MaxRequestBytes is the largest Produce request the broker accepts, in
// encoded record bytes: the API layer sizes its receive limit from it.
func (c Config) MaxRequestBytes() int {
	one := c.MessageLimits.MaxMessageSize + c.MessageLimits.MaxPropertiesSize + store.MaxTopicLen + 128
	return max(c.MaxBatchBytes, one)
}
