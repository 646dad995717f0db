package broker

import (
	"errors"
	"fmt"
)

// Errors returned by the broker. Each says when it is returned and whether
// retrying can succeed. The broker also passes through, wrapped, the
// errors of package raftfsm (ErrUnknownOutcome, ErrTopicExists, ...) and
// package store (validation errors, ErrDiskFull, ErrNotFound): the API
// layer maps all of them to gRPC codes in one table (api/errors.go).
var (
	// ErrClosed is returned by every call once Close has begun. Retry on
	// another node of the group.
	ErrClosed = errors.New("broker: closed")

	// ErrNotLeader is returned (as a *NotLeaderError carrying the leader's
	// gRPC address) by writes and group-membership calls on a node that
	// is not its group's Raft leader. Retry on the leader; nothing was
	// written.
	ErrNotLeader = errors.New("broker: not the group leader")

	// ErrNoLeader is returned by writes while the group has no known
	// leader (an election is in progress or a majority is down). Nothing
	// was written; retry after a short back-off.
	ErrNoLeader = errors.New("broker: no leader elected")

	// ErrInvalidArgument is returned for malformed requests that the store
	// does not judge itself: a queue id outside the topic, a bad group or
	// member name, a queue count out of range, a malformed message id, an
	// empty produce or commit. Not retryable.
	ErrInvalidArgument = errors.New("broker: invalid argument")

	// ErrTopicNotFound is returned for a topic that does not exist (and is
	// not auto-created). Retryable once the topic is created.
	ErrTopicNotFound = errors.New("broker: topic not found")

	// ErrGroupNotFound is returned by GroupLag and GetOffsets for a
	// consumer group that has never committed an offset. Not retryable.
	ErrGroupNotFound = errors.New("broker: consumer group not found")

	// ErrMessageNotFound is returned by GetMessage for an id that names no
	// stored message (never written, deleted by retention, or of another
	// group). Not retryable.
	ErrMessageNotFound = errors.New("broker: message not found")

	// ErrRequestTooLarge is returned by Produce when a request holds more
	// messages or bytes than one Raft entry may carry (Config.MaxBatch*),
	// and by CommitOffsets when it holds more than MaxCommitOffsets. Not
	// retryable as is; split the request.
	ErrRequestTooLarge = errors.New("broker: request too large")

	// ErrGroupUnavailable is returned by the cluster-wide topic calls
	// (CreateTopic, DeleteTopic, DescribeTopic) when a node of another
	// broker group cannot be reached or that group has no leader. Parts
	// done in other groups stay; the calls are safe to repeat after a
	// back-off.
	ErrGroupUnavailable = errors.New("broker: broker group unavailable")
)

// NotLeaderError is the error returned when a write reaches a follower. It
// matches ErrNotLeader with errors.Is. LeaderAddr is the gRPC address of
// the current leader, which the API layer forwards the call to or reports
// to the client.
type NotLeaderError struct {
	// LeaderID is the leader's node id.
	LeaderID string
	// LeaderAddr is the leader's advertised gRPC address.
	LeaderAddr string
}

func (e *NotLeaderError) Error() string {
	return fmt.Sprintf("broker: not the group leader; leader is %s at %s", e.LeaderID, e.LeaderAddr)
}

// Is makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// notAppliedError marks an error returned before a produce request
// reached Raft: none of its messages was stored, whatever the error's
// code (UNAVAILABLE for a group without a leader, say).
type notAppliedError struct{ error }

func (e notAppliedError) Unwrap() error { return e.error }

// NotApplied reports whether err refused a produce request before it
// reached Raft, so that none of it was stored and sending it again cannot
// store it twice.
func NotApplied(err error) bool {
	var n notAppliedError
	return errors.As(err, &n)
}

// invalid wraps ErrInvalidArgument with a formatted reason.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
}
