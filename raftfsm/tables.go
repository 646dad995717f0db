package raftfsm

import (
	"fmt"
	"maps"
	"slices"

	"github.com/raftmq/raftmq/store"
)

// System topics: every command other than produce is also written to the
// CommitLog as a record of one of these topics, whose body is the encoded
// command. The CommitLog stays each node's single source of truth: the
// tables below are the latest snapshot's copy plus a replay of these
// records after it.
const (
	// SysTopicTopics records topic creations and deletions.
	SysTopicTopics = "%SYS%TOPIC"
	// SysTopicOffsets records consumer offset commits.
	SysTopicOffsets = "%SYS%OFFSET"
)

// tables is the FSM's small state: the topic table and consumer offsets.
// It is owned by the FSM goroutine; readers get copies under Node.mu.
type tables struct {
	Topics  map[string]Topic                        `json:"topics"`
	Offsets map[string]map[string]map[uint32]uint64 `json:"offsets"` // group -> topic -> queue -> offset
}

func newTables() *tables {
	return &tables{Topics: map[string]Topic{}, Offsets: map[string]map[string]map[uint32]uint64{}}
}

func (t *tables) clone() *tables {
	c := newTables()
	maps.Copy(c.Topics, t.Topics)
	for g, topics := range t.Offsets {
		ct := make(map[string]map[uint32]uint64, len(topics))
		for tp, qs := range topics {
			ct[tp] = maps.Clone(qs)
		}
		c.Offsets[g] = ct
	}
	return c
}

// check says whether a non-produce command would be refused. The
// decision depends only on the tables, so every replica decides the same.
func (t *tables) check(c command) error {
	switch c.typ {
	case cmdCreateTopic:
		if !validSpan(c.topic) {
			return fmt.Errorf("%w: %d queues from %d", store.ErrInvalidTopic, c.topic.Queues, c.topic.FirstQueue)
		}
		if old, ok := t.Topics[c.topic.Name]; ok && old != c.topic {
			return ErrTopicExists
		}
	case cmdDeleteTopic:
		if _, ok := t.Topics[c.topic.Name]; !ok {
			return ErrTopicNotFound
		}
	}
	return nil
}

// apply updates the tables with a non-produce command; a refused command
// (see check) changes nothing.
func (t *tables) apply(c command) error {
	if err := t.check(c); err != nil {
		return err
	}
	switch c.typ {
	case cmdCreateTopic:
		t.Topics[c.topic.Name] = c.topic
	case cmdDeleteTopic:
		delete(t.Topics, c.topic.Name)
		for _, topics := range t.Offsets {
			delete(topics, c.topic.Name)
		}
	case cmdCommitOffsets:
		for _, oc := range c.commits {
			g := t.Offsets[oc.Group]
			if g == nil {
				g = map[string]map[uint32]uint64{}
				t.Offsets[oc.Group] = g
			}
			q := g[oc.Topic]
			if q == nil {
				q = map[uint32]uint64{}
				g[oc.Topic] = q
			}
			q[oc.QueueID] = oc.Offset
		}
	}
	return nil
}

// checkProduce refuses messages to unknown topics or queues.
func (t *tables) checkProduce(msgs []*Message) error {
	for _, m := range msgs {
		tp, ok := t.Topics[m.Topic]
		if !ok || !tp.HasQueue(m.QueueID) {
			return ErrTopicNotFound
		}
	}
	return nil
}

func (t *tables) topicList() []Topic {
	out := slices.Collect(maps.Values(t.Topics))
	slices.SortFunc(out, func(a, b Topic) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// validSpan reports whether a topic's queue range is non-empty and fits
// the store's queue ids.
func validSpan(t Topic) bool {
	return t.Queues > 0 && uint64(t.FirstQueue)+uint64(t.Queues) <= uint64(store.MaxQueueID)+1
}
