package raftfsm

import (
	"errors"
	"fmt"
)

// Errors returned by Node. Store errors (bad input, disk full) pass through
// wrapped; test with errors.Is.
var (
	// ErrNotLeader: a write reached a node that is not the group leader.
	// Retry at the leader (Node.Leader tells which it is, if known).
	ErrNotLeader = errors.New("raftfsm: not the leader")
	// ErrUnavailable: no leader is known, the node is shutting down, or
	// Raft's queue is full. Retryable after a backoff.
	ErrUnavailable = errors.New("raftfsm: unavailable")
	// ErrTransferInProgress (with ErrUnavailable): the leader is handing
	// its leadership over and refuses commands meanwhile. Nothing was
	// appended, so a retry, here or at the next leader, cannot store the
	// command twice.
	ErrTransferInProgress = errors.New("raftfsm: leadership transfer in progress")
	// ErrUnknownOutcome: the command was handed to Raft but leadership was
	// lost or the caller's deadline passed before it was known whether it
	// committed. It may or may not have been applied; a blind retry may
	// duplicate it.
	ErrUnknownOutcome = errors.New("raftfsm: outcome unknown")
	// ErrTopicExists: CreateTopic for a topic that exists with another
	// queue count. Not retryable.
	ErrTopicExists = errors.New("raftfsm: topic exists")
	// ErrTopicNotFound: a command names a topic that does not exist, or a
	// queue id beyond its queue count. Not retryable until it is created.
	ErrTopicNotFound = errors.New("raftfsm: topic not found")
	// ErrSequenceTooOld: an idempotent produce request whose sequence is
	// older than the window of sequences its producer's entry remembers
	// (or whose producer sent many newer requests since), so the FSM
	// cannot tell whether it was already applied; nothing was stored by
	// this request. Not retryable with the same sequence.
	ErrSequenceTooOld = errors.New("raftfsm: producer sequence too old")
	// ErrSequenceReused: an idempotent produce request whose producer id
	// and sequence were applied before for a request with another number
	// of messages: a producer bug. Not retryable.
	ErrSequenceReused = errors.New("raftfsm: producer sequence reused for another request")
	// ErrNotVoter: a leadership transfer to a server that is not a voter
	// of the group. Not retryable.
	ErrNotVoter = errors.New("raftfsm: not a voter")
	// ErrBadCommand: a Raft entry that does not decode. Never retryable;
	// it means a bug or a version mismatch between nodes.
	ErrBadCommand = errors.New("raftfsm: bad command")
	// errNewerCommand: an entry of a type or version this release does not
	// know, written by a newer one (wraps ErrBadCommand).
	errNewerCommand = fmt.Errorf("%w: type or version unknown to this release", ErrBadCommand)
	// ErrFailed: the node's store failed while applying committed entries;
	// the node stops serving and must be restarted (it then recovers from
	// its store and the Raft log).
	ErrFailed = errors.New("raftfsm: node failed")
)
