package broker

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

// Topic is a topic's configuration: its name and queue count per group.
// In one group's part of a topic, FirstQueue is the part's first queue id
// (the part holds [FirstQueue, FirstQueue+Queues)); cluster-wide calls
// ignore it and place each group's part themselves.
type Topic struct {
	Name       string
	Queues     uint32
	FirstQueue uint32
}

func (t Topic) fsm() raftfsm.Topic {
	return raftfsm.Topic{Name: t.Name, Queues: t.Queues, FirstQueue: t.FirstQueue}
}

func fromFSMTopic(t raftfsm.Topic) Topic {
	return Topic{Name: t.Name, Queues: t.Queues, FirstQueue: t.FirstQueue}
}

// QueueRoute says where one queue of a topic lives.
type QueueRoute struct {
	QueueID uint32
	// Group is the broker group holding the queue.
	Group string
	// LeaderAddr is the gRPC address of the group's leader; "" if none.
	LeaderAddr string
	// ReplicaAddrs are the gRPC addresses of the group's voters, sorted.
	ReplicaAddrs []string
}

// TopicRoute is a topic and the route of each of its queues, sorted by
// queue id.
type TopicRoute struct {
	Topic  Topic
	Routes []QueueRoute
	// Incomplete: a broker group could not be asked, so queues it may
	// hold are missing from Routes.
	Incomplete bool
}

// CreateTopicPart creates this group's part of a topic through Raft:
// t.Queues queues from id t.FirstQueue. Creating an identical part again
// succeeds; another queue count or first queue gives
// raftfsm.ErrTopicExists. Leader only.
func (b *Broker) CreateTopicPart(ctx context.Context, t Topic) error {
	if err := validateUserTopic(t.Name); err != nil {
		return err
	}
	if t.Queues == 0 || t.Queues > b.cfg.MaxQueuesPerTopic {
		return invalid("queue count %d outside [1, %d]", t.Queues, b.cfg.MaxQueuesPerTopic)
	}
	if uint64(t.FirstQueue)+uint64(t.Queues) > uint64(store.MaxQueueID)+1 {
		return invalid("queues %d from %d exceed the largest queue id %d", t.Queues, t.FirstQueue, store.MaxQueueID)
	}
	if err := b.checkLeader(); err != nil {
		return err
	}
	actx, cancel := b.applyCtx(ctx)
	defer cancel()
	if err := b.rep.CreateTopic(actx, t.fsm()); err != nil {
		return b.writeErr(err)
	}
	b.log.Info("topic created", "topic", t.Name, "queues", t.Queues, "first_queue", t.FirstQueue)
	return nil
}

// DeleteTopicPart deletes this group's part of a topic through Raft; its
// stored messages age out with retention. A missing topic gives
// raftfsm.ErrTopicNotFound. Leader only.
func (b *Broker) DeleteTopicPart(ctx context.Context, name string) error {
	if err := validateUserTopic(name); err != nil {
		return err
	}
	if err := b.checkLeader(); err != nil {
		return err
	}
	actx, cancel := b.applyCtx(ctx)
	defer cancel()
	if err := b.rep.DeleteTopic(actx, name); err != nil {
		return b.writeErr(err)
	}
	b.log.Info("topic deleted", "topic", name)
	return nil
}

// TopicPart returns this group's part of a topic and its routes. Any
// replica answers.
func (b *Broker) TopicPart(name string) (TopicRoute, error) {
	if err := b.checkOpen(); err != nil {
		return TopicRoute{}, err
	}
	if err := store.ValidateTopic(name); err != nil {
		return TopicRoute{}, err
	}
	t, ok := b.rep.Topic(name)
	if !ok {
		return TopicRoute{}, fmt.Errorf("%w: %s", ErrTopicNotFound, name)
	}
	leader, replicas := b.groupAddrs()
	r := TopicRoute{Topic: fromFSMTopic(t), Routes: make([]QueueRoute, 0, t.Queues)}
	for _, q := range t.QueueIDs() {
		r.Routes = append(r.Routes, QueueRoute{QueueID: q, Group: b.cfg.GroupID, LeaderAddr: leader, ReplicaAddrs: slices.Clone(replicas)})
	}
	return r, nil
}

// TopicPartAtLeader is TopicPart answered by the group leader only
// (placement reads): a follower returns *NotLeaderError.
func (b *Broker) TopicPartAtLeader(name string) (TopicRoute, error) {
	if err := b.checkLeader(); err != nil {
		return TopicRoute{}, err
	}
	return b.TopicPart(name)
}

// TopicParts returns this group's topics, sorted by name. Any replica
// answers.
func (b *Broker) TopicParts() ([]Topic, error) {
	if err := b.checkOpen(); err != nil {
		return nil, err
	}
	ts := b.rep.Topics()
	out := make([]Topic, len(ts))
	for i, t := range ts {
		out[i] = fromFSMTopic(t)
	}
	slices.SortFunc(out, func(a, b Topic) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// groupAddrs returns the gRPC addresses of the group's leader ("" if
// unknown) and of its voters, sorted.
func (b *Broker) groupAddrs() (leader string, replicas []string) {
	if id, _ := b.rep.Leader(); id != "" {
		leader = b.dir.GRPCAddr(id)
	}
	for _, n := range b.GroupNodes() {
		if n.GRPCAddr != "" {
			replicas = append(replicas, n.GRPCAddr)
		}
	}
	slices.Sort(replicas)
	return leader, replicas
}

// SystemTopicPrefix starts the names of the topics the FSM writes itself
// (%SYS%TOPIC, %SYS%OFFSET); clients may not produce to, create, delete or
// subscribe to them.
const SystemTopicPrefix = "%SYS%"

// validateUserTopic checks a topic name a client may write or subscribe
// to: the store's rules, and not a system topic.
func validateUserTopic(name string) error {
	if err := store.ValidateTopic(name); err != nil {
		return err
	}
	if strings.HasPrefix(name, SystemTopicPrefix) {
		return fmt.Errorf("%w: %q is a reserved system topic", store.ErrInvalidTopic, name)
	}
	return nil
}
