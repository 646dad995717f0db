package fakebroker

import (
	"context"
	"slices"
	"sync"
	"time"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// Group is one broker group of the fake cluster.
type Group struct {
	Name     string
	Leader   string   // advertised leader address; may be empty
	Replicas []string // advertised voter addresses
}

// Broker is the shared state of a fake cluster. It is safe for concurrent
// use.
type Broker struct {
	pb.UnimplementedBrokerServer

	mu sync.Mutex // guards every field below
	// groups are the broker groups, in queue-id order.
	groups []Group
	topics map[string]*topic
	// byID indexes every stored message by id.
	byID map[string]*pb.Message
	// logEnd is the fake CommitLog end, the next message id's offset.
	logEnd uint64
	// appended is closed (and replaced) on every append, waking long polls.
	appended chan struct{}
	cgroups  map[string]*cgroup
	// seqs holds the response to every idempotent request stored;
	// seqCalls counts the calls per producer id and sequence.
	seqs     map[seqKey]*pb.ProduceResponse
	seqCalls map[seqKey]int
}

var _ pb.BrokerServer = (*Broker)(nil)

// topic is one topic and its queues.
type topic struct {
	perGroup uint32
	queues   [][]*pb.Message // by queue id
	rr       map[string]uint32
}

// New returns an empty Broker with one broker group "g0" and no leader;
// call SetGroup once its Servers listen.
func New() *Broker {
	return &Broker{
		groups:   []Group{{Name: "g0"}},
		topics:   make(map[string]*topic),
		byID:     make(map[string]*pb.Message),
		appended: make(chan struct{}),
		cgroups:  make(map[string]*cgroup),
		seqs:     make(map[seqKey]*pb.ProduceResponse),
		seqCalls: make(map[seqKey]int),
	}
}

// SetGroup adds broker group g, or replaces the group of the same name.
// Adding a group gives existing topics no new queues.
func (b *Broker) SetGroup(g Group) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g.Replicas = slices.Clone(g.Replicas)
	for i := range b.groups {
		if b.groups[i].Name == g.Name {
			b.groups[i] = g
			return
		}
	}
	b.groups = append(b.groups, g)
}

// Messages returns a copy of what queue of topic holds.
func (b *Broker) Messages(topicName string, queue uint32) []*pb.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[topicName]
	if t == nil || int(queue) >= len(t.queues) {
		return nil
	}
	return slices.Clone(t.queues[queue])
}

// Count returns how many messages topic holds in all its queues.
func (b *Broker) Count(topicName string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	if t := b.topics[topicName]; t != nil {
		for _, q := range t.queues {
			n += len(q)
		}
	}
	return n
}

// groupIndexLocked returns the index of the group named name (0 if none).
func (b *Broker) groupIndexLocked(name string) int {
	for i, g := range b.groups {
		if g.Name == name {
			return i
		}
	}
	return 0
}

// groupOfQueueLocked returns the group owning queue q of t.
func (b *Broker) groupOfQueueLocked(t *topic, q uint32) Group {
	i := int(q / t.perGroup)
	if i >= len(b.groups) {
		i = len(b.groups) - 1
	}
	return b.groups[i]
}

// waitLocked returns a channel closed by the next append.
func (b *Broker) waitLocked() <-chan struct{} { return b.appended }

// wakeLocked wakes every long poll.
func (b *Broker) wakeLocked() {
	close(b.appended)
	b.appended = make(chan struct{})
}

// nodeGroupKey carries the serving node's broker group in a call's context.
type nodeGroupKey struct{}

// nodeGroup returns the broker group of the node serving ctx's call.
func nodeGroup(ctx context.Context) string {
	g, _ := ctx.Value(nodeGroupKey{}).(string)
	return g
}

// nodeAddrKey carries the serving node's address in a call's context.
type nodeAddrKey struct{}

// nodeAddr returns the address of the node serving ctx's call.
func nodeAddr(ctx context.Context) string {
	a, _ := ctx.Value(nodeAddrKey{}).(string)
	return a
}

func nowMs() int64 { return time.Now().UnixMilli() }
