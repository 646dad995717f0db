package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

// ConsumeMode is how a consumer group shares a topic.
type ConsumeMode int

const (
	// Clustering: each queue is owned by one member of the group; the
	// group leader assigns them.
	Clustering ConsumeMode = iota
	// Broadcasting: every member reads every queue and keeps its own
	// offsets; the broker only answers the route.
	Broadcasting
)

// StartPosition is where a group with no committed offset for a queue
// starts reading it.
type StartPosition int

const (
	// StartEarliest starts at the queue's earliest available offset.
	StartEarliest StartPosition = iota
	// StartLatest starts at the queue's end (only new messages).
	StartLatest
	// StartTimestamp starts at the first message stored at or after
	// HeartbeatRequest.StartTimestamp.
	StartTimestamp
)

// HeartbeatRequest registers a consumer group member.
type HeartbeatRequest struct {
	Group, MemberID string
	Topics          []string
	Mode            ConsumeMode
	Start           StartPosition
	StartTimestamp  int64 // unix ms, for StartTimestamp
	// SessionTimeout is how long the member lives without a heartbeat; 0
	// means Config.SessionTimeout. It is clamped to the configured range.
	SessionTimeout time.Duration
}

// Assignment is one queue a member should consume and where to start.
type Assignment struct {
	Topic   string
	QueueID uint32
	// Offset is the group's committed offset, or the start position for a
	// queue with none (committed at assignment in clustering mode).
	Offset uint64
}

// HeartbeatResult is a member's assignment.
type HeartbeatResult struct {
	// Generation increases on every change of the group's assignment; 0 in
	// broadcasting mode.
	Generation  uint64
	Assignments []Assignment
}

// Heartbeat registers or refreshes a member and returns its queues. In
// clustering mode only the group leader answers (a follower returns
// *NotLeaderError): queues are split over the sorted members subscribed to
// each topic as RocketMQ's AllocateMessageQueueAveragely does. A queue the
// group has no committed offset for gets the start position, committed
// through Raft before the answer, so that a failover does not move it. In
// broadcasting mode any node answers with every queue and nothing is
// stored. Missing topics are auto-created if configured (on the leader);
// in a cluster of several broker groups a topic this group does not hold
// is skipped.
func (b *Broker) Heartbeat(ctx context.Context, req HeartbeatRequest) (HeartbeatResult, error) {
	topics, timeout, err := b.checkHeartbeat(&req)
	if err != nil {
		return HeartbeatResult{}, err
	}
	if req.Mode == Broadcasting {
		return b.broadcastRoute(ctx, req, topics)
	}
	if err := b.checkLeader(); err != nil {
		return HeartbeatResult{}, err
	}
	held := topics[:0:0]
	for _, t := range topics {
		_, err := b.topicForWrite(ctx, t)
		switch {
		case err == nil:
			held = append(held, t)
		case errors.Is(err, ErrTopicNotFound) && len(b.otherGroups()) > 0:
			// With several broker groups a topic may live in others only
			// (clients send each group only the topics it holds; an unknown
			// topic fails their route lookup instead).
		default:
			return HeartbeatResult{}, err
		}
	}
	topics = held
	term := b.rep.Term()
	gen, refs := b.coord.join(term, req.Group, req.MemberID, topics, timeout, func(t string) raftfsm.Topic {
		top, _ := b.rep.Topic(t)
		return top
	})
	as, err := b.startOffsets(ctx, req, refs, true)
	if err != nil {
		return HeartbeatResult{}, err
	}
	return HeartbeatResult{Generation: gen, Assignments: as}, nil
}

// checkHeartbeat validates a heartbeat and returns its sorted topics and
// clamped session timeout.
// MaxSubscribedTopics bounds the topics one consumer group member may
// subscribe to: a heartbeat may auto-create each of them.
const MaxSubscribedTopics = 256

func (b *Broker) checkHeartbeat(req *HeartbeatRequest) ([]string, time.Duration, error) {
	if err := b.checkOpen(); err != nil {
		return nil, 0, err
	}
	if err := validateName("consumer group", req.Group); err != nil {
		return nil, 0, err
	}
	if err := validateMember(req.MemberID); err != nil {
		return nil, 0, err
	}
	if len(req.Topics) > MaxSubscribedTopics {
		return nil, 0, invalid("%d topics in one heartbeat, at most %d", len(req.Topics), MaxSubscribedTopics)
	}
	topics := slices.Clone(req.Topics)
	slices.Sort(topics)
	topics = slices.Compact(topics)
	for _, t := range topics {
		if err := validateUserTopic(t); err != nil {
			return nil, 0, err
		}
	}
	switch {
	case req.Mode != Clustering && req.Mode != Broadcasting:
		return nil, 0, invalid("unknown consume mode %d", req.Mode)
	case req.Start < StartEarliest || req.Start > StartTimestamp:
		return nil, 0, invalid("unknown start position %d", req.Start)
	case req.SessionTimeout < 0:
		return nil, 0, invalid("negative session timeout")
	}
	timeout := req.SessionTimeout
	if timeout == 0 {
		timeout = b.cfg.SessionTimeout
	}
	timeout = min(max(timeout, b.cfg.MinSessionTimeout), b.cfg.MaxSessionTimeout)
	return topics, timeout, nil
}

// broadcastRoute answers a broadcasting member: every queue of its topics
// with its start offset; nothing is stored or committed.
func (b *Broker) broadcastRoute(ctx context.Context, req HeartbeatRequest, topics []string) (HeartbeatResult, error) {
	var refs []queueRef
	for _, name := range topics {
		t, ok := b.rep.Topic(name)
		if !ok && b.cfg.AutoCreateTopics && b.rep.IsLeader() {
			var err error
			if t, err = b.topicForWrite(ctx, name); err != nil {
				return HeartbeatResult{}, err
			}
			ok = true
		}
		if !ok {
			return HeartbeatResult{}, fmt.Errorf("%w: %s", ErrTopicNotFound, name)
		}
		for _, q := range t.QueueIDs() {
			refs = append(refs, queueRef{Topic: name, QueueID: q})
		}
	}
	as, err := b.startOffsets(ctx, req, refs, false)
	return HeartbeatResult{Assignments: as}, err
}

// LeaveGroup removes a member at once, so its queues go to the others at
// their next heartbeat. Removing an unknown member succeeds. Leader only.
func (b *Broker) LeaveGroup(_ context.Context, group, memberID string) error {
	if err := validateName("consumer group", group); err != nil {
		return err
	}
	if err := validateMember(memberID); err != nil {
		return err
	}
	if err := b.checkLeader(); err != nil {
		return err
	}
	if b.coord.leave(group, memberID) {
		b.log.Info("consumer left", "consumer_group", group, "member", memberID)
	}
	return nil
}

// validateName checks a group name (broker group or consumer group): the
// topic rules, [%|a-zA-Z0-9_-]{1,127}.
func validateName(what, name string) error {
	if err := store.ValidateTopic(name); err != nil {
		return invalid("%s %q: 1 to %d characters from [%%|a-zA-Z0-9_-]", what, name, store.MaxTopicLen)
	}
	return nil
}

// maxMemberLen bounds a member id (RocketMQ client ids look like
// "10.0.0.1@12345").
const maxMemberLen = 255

// validateMember checks a member id: 1 to 255 printable ASCII characters.
func validateMember(id string) error {
	if id == "" || len(id) > maxMemberLen {
		return invalid("member id must have 1 to %d characters", maxMemberLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= 0x20 || c >= 0x7f {
			return invalid("member id %q has a character outside printable ASCII", id)
		}
	}
	return nil
}
