package broker

import (
	"context"
	"fmt"
	"slices"

	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

// QueueOffset is a consumer group's position in one queue: the next
// offset to consume.
type QueueOffset struct {
	Topic   string
	QueueID uint32
	Offset  uint64
}

// QueueLag is a group's progress on one queue.
type QueueLag struct {
	QueueID uint32
	// Committed is the committed offset (0 with HasCommitted false).
	Committed    uint64
	HasCommitted bool
	// MaxOffset is the queue's next unwritten offset on this replica.
	MaxOffset uint64
	// Lag is MaxOffset minus the committed offset (or the earliest
	// available offset, whichever is larger: messages deleted by
	// retention are not lag).
	Lag uint64
}

// CommitOffsets records a group's offsets through Raft. Concurrent
// commits are batched into one Raft entry, like produce. Leader only.
func (b *Broker) CommitOffsets(ctx context.Context, group string, offsets []QueueOffset) error {
	if err := b.checkOpen(); err != nil {
		return err
	}
	if err := validateName("consumer group", group); err != nil {
		return err
	}
	switch {
	case len(offsets) == 0:
		return invalid("no offsets")
	case len(offsets) > b.cfg.MaxCommitOffsets:
		return fmt.Errorf("%w: %d offsets, at most %d per request", ErrRequestTooLarge, len(offsets), b.cfg.MaxCommitOffsets)
	}
	commits := make([]raftfsm.OffsetCommit, len(offsets))
	for i, o := range offsets {
		t, ok := b.rep.Topic(o.Topic)
		if !ok {
			if err := validateUserTopic(o.Topic); err != nil {
				return err
			}
			return fmt.Errorf("%w: %s", ErrTopicNotFound, o.Topic)
		}
		if !t.HasQueue(o.QueueID) {
			return queueOutside(t, o.QueueID)
		}
		commits[i] = raftfsm.OffsetCommit{Group: group, Topic: o.Topic, QueueID: o.QueueID, Offset: o.Offset}
	}
	if err := b.checkLeader(); err != nil {
		return err
	}
	return b.commit(ctx, commits)
}

// commit submits offset commits to the commit batcher.
func (b *Broker) commit(ctx context.Context, commits []raftfsm.OffsetCommit) error {
	_, err := b.commits.submit(ctx, commits)
	return b.writeErr(err)
}

// commitSize measures one commit request for the batcher.
func commitSize(c []raftfsm.OffsetCommit) (count, bytes int) { return len(c), 0 }

// applyCommits writes the commit requests of one batch as one Raft entry.
func (b *Broker) applyCommits(reqs [][]raftfsm.OffsetCommit) ([]struct{}, error) {
	var all []raftfsm.OffsetCommit
	for _, r := range reqs {
		all = append(all, r...)
	}
	ctx, cancel := b.applyCtx(context.Background())
	defer cancel()
	if err := b.rep.CommitOffsets(ctx, all); err != nil {
		return nil, err
	}
	return make([]struct{}, len(reqs)), nil
}

// GetOffsets returns a group's committed offsets for the queues of topic
// that have one, by queue id. Any replica answers.
func (b *Broker) GetOffsets(group, topic string) ([]QueueOffset, error) {
	t, err := b.checkGroupTopic(group, topic)
	if err != nil {
		return nil, err
	}
	var out []QueueOffset
	for _, q := range t.QueueIDs() {
		if off, ok := b.rep.Offset(group, topic, q); ok {
			out = append(out, QueueOffset{Topic: topic, QueueID: q, Offset: off})
		}
	}
	return out, nil
}

// GroupLag returns a group's lag on every queue of topic and the total.
// Any replica answers (with its own view of the queues' ends).
func (b *Broker) GroupLag(group, topic string) ([]QueueLag, uint64, error) {
	t, err := b.checkGroupTopic(group, topic)
	if err != nil {
		return nil, 0, err
	}
	out := make([]QueueLag, t.Queues)
	var total uint64
	err = b.withStore(func(s *store.Store) error {
		total = 0
		for i, q := range t.QueueIDs() {
			l := QueueLag{QueueID: q, MaxOffset: s.MaxOffset(topic, q)}
			l.Committed, l.HasCommitted = b.rep.Offset(group, topic, q)
			if from := max(l.Committed, s.MinOffset(topic, q)); from < l.MaxOffset {
				l.Lag = l.MaxOffset - from
			}
			out[i] = l
			total += l.Lag
		}
		return nil
	})
	return out, total, err
}

// checkGroupTopic validates a group and topic that must both exist.
func (b *Broker) checkGroupTopic(group, topic string) (raftfsm.Topic, error) {
	if err := b.checkOpen(); err != nil {
		return raftfsm.Topic{}, err
	}
	if err := validateName("consumer group", group); err != nil {
		return raftfsm.Topic{}, err
	}
	if err := store.ValidateTopic(topic); err != nil {
		return raftfsm.Topic{}, err
	}
	t, ok := b.rep.Topic(topic)
	if !ok {
		return raftfsm.Topic{}, fmt.Errorf("%w: %s", ErrTopicNotFound, topic)
	}
	if !slices.Contains(b.rep.Groups(), group) {
		return raftfsm.Topic{}, fmt.Errorf("%w: %s", ErrGroupNotFound, group)
	}
	return t, nil
}

// startOffsets resolves where each queue starts: the committed offset if
// there is one, else the start position. With commit set, the start
// positions computed are committed through Raft (one entry) before
// returning, so a failover cannot move them.
func (b *Broker) startOffsets(ctx context.Context, req HeartbeatRequest, refs []queueRef, commit bool) ([]Assignment, error) {
	out := make([]Assignment, len(refs))
	var fresh []raftfsm.OffsetCommit
	err := b.withStore(func(s *store.Store) error {
		fresh = fresh[:0]
		for i, r := range refs {
			out[i] = Assignment{Topic: r.Topic, QueueID: r.QueueID}
			if commit {
				if off, ok := b.rep.Offset(req.Group, r.Topic, r.QueueID); ok {
					out[i].Offset = off
					continue
				}
			}
			off, err := startOffset(s, r, req)
			if err != nil {
				return err
			}
			out[i].Offset = off
			fresh = append(fresh, raftfsm.OffsetCommit{Group: req.Group, Topic: r.Topic, QueueID: r.QueueID, Offset: off})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if commit && len(fresh) > 0 {
		if err := b.commit(ctx, fresh); err != nil {
			return nil, err
		}
		b.log.Info("start offsets committed", "consumer_group", req.Group, "queues", len(fresh), "start", req.Start)
	}
	return out, nil
}

// startOffset computes a start position on one queue.
func startOffset(s *store.Store, r queueRef, req HeartbeatRequest) (uint64, error) {
	switch req.Start {
	case StartLatest:
		return s.MaxOffset(r.Topic, r.QueueID), nil
	case StartTimestamp:
		return s.OffsetForTimestamp(r.Topic, r.QueueID, req.StartTimestamp)
	}
	return s.MinOffset(r.Topic, r.QueueID), nil
}
