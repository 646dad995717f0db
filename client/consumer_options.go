package client

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Mode is how a consumer group shares a topic's queues.
type Mode int

const (
	// Clustering gives each queue to one member of the group at a time; the
	// broker assigns queues through heartbeats and keeps committed offsets.
	Clustering Mode = iota
	// Broadcasting gives every queue to every member, each reading from its
	// own offsets, which are kept in memory only.
	Broadcasting
)

// String returns "clustering" or "broadcasting".
func (m Mode) String() string {
	switch m {
	case Clustering:
		return "clustering"
	case Broadcasting:
		return "broadcasting"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// StartPosition is where a group without committed offsets starts.
type StartPosition int

const (
	// StartEarliest starts at the oldest message still stored.
	StartEarliest StartPosition = iota
	// StartLatest starts after the newest message.
	StartLatest
	// StartTimestamp starts at the first message stored at or after the
	// time given to WithStartTimestamp.
	StartTimestamp
)

// ConsumerOption configures a Consumer.
type ConsumerOption func(*consumerConfig)

// consumerConfig is a Consumer's complete configuration.
type consumerConfig struct {
	mode      Mode
	start     StartPosition
	startTime time.Time // with StartTimestamp
	// tags filters messages by tag; empty means all.
	tags []string
	// heartbeatInterval is the time between heartbeats (clustering).
	heartbeatInterval time.Duration
	// sessionTimeout is how long the broker keeps a silent member, and how
	// long this member keeps its queues when heartbeats fail.
	sessionTimeout time.Duration
	// commitInterval is the time between offset commits (clustering).
	commitInterval time.Duration
	// maxWait is the long-poll wait of one Fetch.
	maxWait time.Duration
	// fetchMaxMessages bounds the messages of one Fetch.
	fetchMaxMessages uint32
	// redeliverInitial and redeliverMax bound the backoff before a message
	// whose handler failed is handed to it again.
	redeliverInitial, redeliverMax time.Duration
	// memberID names this member in its group.
	memberID string
}

func defaultConsumerConfig() consumerConfig {
	return consumerConfig{
		heartbeatInterval: time.Second,
		sessionTimeout:    10 * time.Second,
		commitInterval:    time.Second,
		maxWait:           5 * time.Second,
		fetchMaxMessages:  32,
		redeliverInitial:  100 * time.Millisecond,
		redeliverMax:      5 * time.Second,
	}
}

func (c *consumerConfig) validate() error {
	var errs []error
	if c.mode != Clustering && c.mode != Broadcasting {
		errs = append(errs, fmt.Errorf("unknown mode %v", c.mode))
	}
	if c.start < StartEarliest || c.start > StartTimestamp {
		errs = append(errs, fmt.Errorf("unknown start position %d", c.start))
	}
	if c.heartbeatInterval <= 0 || c.sessionTimeout <= c.heartbeatInterval {
		errs = append(errs, fmt.Errorf("heartbeat interval %v and session timeout %v: need 0 < interval < timeout",
			c.heartbeatInterval, c.sessionTimeout))
	}
	if c.sessionTimeout > math.MaxUint32*time.Millisecond || c.maxWait > math.MaxUint32*time.Millisecond {
		errs = append(errs, errors.New("session timeout and max wait must fit in uint32 milliseconds"))
	}
	if c.commitInterval <= 0 {
		errs = append(errs, fmt.Errorf("commit interval %v must be positive", c.commitInterval))
	}
	if c.maxWait < 0 {
		errs = append(errs, fmt.Errorf("max wait %v must not be negative", c.maxWait))
	}
	if c.fetchMaxMessages == 0 {
		errs = append(errs, errors.New("fetch max messages must be at least 1"))
	}
	if c.redeliverInitial <= 0 || c.redeliverMax < c.redeliverInitial {
		errs = append(errs, fmt.Errorf("redelivery backoff %v..%v: need 0 < initial <= max", c.redeliverInitial, c.redeliverMax))
	}
	return errors.Join(errs...)
}

// WithMode sets Clustering (the default) or Broadcasting.
func WithMode(m Mode) ConsumerOption {
	return func(c *consumerConfig) { c.mode = m }
}

// WithStartPosition sets where a group without committed offsets starts
// (default StartEarliest). Use WithStartTimestamp for StartTimestamp.
func WithStartPosition(p StartPosition) ConsumerOption {
	return func(c *consumerConfig) { c.start = p }
}

// WithStartTimestamp starts a group without committed offsets at the first
// message stored at or after t.
func WithStartTimestamp(t time.Time) ConsumerOption {
	return func(c *consumerConfig) { c.start, c.startTime = StartTimestamp, t }
}

// WithTags delivers only messages whose tag is one of tags (default: all).
func WithTags(tags ...string) ConsumerOption {
	return func(c *consumerConfig) { c.tags = append([]string(nil), tags...) }
}

// WithHeartbeatInterval sets the time between heartbeats (default 1s).
func WithHeartbeatInterval(d time.Duration) ConsumerOption {
	return func(c *consumerConfig) { c.heartbeatInterval = d }
}

// WithSessionTimeout sets how long the broker keeps a member that stopped
// heartbeating (default 10s).
func WithSessionTimeout(d time.Duration) ConsumerOption {
	return func(c *consumerConfig) { c.sessionTimeout = d }
}

// WithCommitInterval sets the time between offset commits (default 1s).
func WithCommitInterval(d time.Duration) ConsumerOption {
	return func(c *consumerConfig) { c.commitInterval = d }
}

// WithMaxWait sets the long-poll wait of one Fetch (default 5s).
func WithMaxWait(d time.Duration) ConsumerOption {
	return func(c *consumerConfig) { c.maxWait = d }
}

// WithFetchMaxMessages bounds the messages of one Fetch (default 32).
func WithFetchMaxMessages(n uint32) ConsumerOption {
	return func(c *consumerConfig) { c.fetchMaxMessages = n }
}

// WithRedeliveryBackoff sets the first and largest wait before a message
// whose handler failed is handed to it again (default 100ms and 5s).
func WithRedeliveryBackoff(initial, maxWait time.Duration) ConsumerOption {
	return func(c *consumerConfig) { c.redeliverInitial, c.redeliverMax = initial, maxWait }
}

// WithMemberID names this member (default: host name, process id and a
// random suffix). Ids must be unique within a group.
func WithMemberID(id string) ConsumerOption {
	return func(c *consumerConfig) { c.memberID = id }
}
