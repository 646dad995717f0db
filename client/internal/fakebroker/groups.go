package fakebroker

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// cgroup is one consumer group.
type cgroup struct {
	members    map[string]*member
	generation uint64
	committed  map[queueKey]uint64
}

type member struct {
	topics   []string
	lastSeen time.Time
	timeout  time.Duration
}

type queueKey struct {
	topic string
	queue uint32
}

func (b *Broker) cgroupLocked(name string) *cgroup {
	cg := b.cgroups[name]
	if cg == nil {
		cg = &cgroup{members: make(map[string]*member), committed: make(map[queueKey]uint64)}
		b.cgroups[name] = cg
	}
	return cg
}

// Heartbeat registers a member and returns its assignment.
func (b *Broker) Heartbeat(_ context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	if req.GetGroup() == "" || req.GetMemberId() == "" {
		return nil, status.Error(codes.InvalidArgument, "empty group or member id")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range req.GetTopics() {
		if b.topics[t] == nil {
			return nil, status.Errorf(codes.NotFound, "topic %q not found", t)
		}
	}
	cg := b.cgroupLocked(req.GetGroup())
	now := time.Now()
	for id, m := range cg.members {
		if now.Sub(m.lastSeen) > m.timeout {
			delete(cg.members, id)
			cg.generation++
		}
	}
	timeout := time.Duration(req.GetSessionTimeoutMs()) * time.Millisecond
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	m := cg.members[req.GetMemberId()]
	if m == nil || !slices.Equal(m.topics, req.GetTopics()) {
		cg.generation++
	}
	cg.members[req.GetMemberId()] = &member{topics: slices.Clone(req.GetTopics()), lastSeen: now, timeout: timeout}
	resp := &pb.HeartbeatResponse{Generation: cg.generation}
	for _, t := range req.GetTopics() {
		resp.Assignments = append(resp.Assignments, b.assignLocked(cg, t, req)...)
	}
	return resp, nil
}

// assignLocked deals topic's queues round robin over the members subscribed
// to it and returns req's member's share.
func (b *Broker) assignLocked(cg *cgroup, topicName string, req *pb.HeartbeatRequest) []*pb.QueueAssignment {
	var subs []string
	for id, m := range cg.members {
		if slices.Contains(m.topics, topicName) {
			subs = append(subs, id)
		}
	}
	slices.Sort(subs)
	t := b.topics[topicName]
	var out []*pb.QueueAssignment
	for q := range t.queues {
		if subs[q%len(subs)] != req.GetMemberId() {
			continue
		}
		key := queueKey{topicName, uint32(q)}
		off, ok := cg.committed[key]
		if !ok {
			off = startOffset(t.queues[q], req)
			cg.committed[key] = off
		}
		out = append(out, &pb.QueueAssignment{Topic: topicName, QueueId: uint32(q), Offset: off})
	}
	return out
}

func startOffset(q []*pb.Message, req *pb.HeartbeatRequest) uint64 {
	switch req.GetStart() {
	case pb.StartPosition_START_POSITION_LATEST:
		return uint64(len(q))
	case pb.StartPosition_START_POSITION_TIMESTAMP:
		i, _ := slices.BinarySearchFunc(q, req.GetStartTimestampMs(), func(m *pb.Message, ts int64) int {
			if m.GetStoreTimestampMs() < ts {
				return -1
			}
			return 1
		})
		return uint64(i)
	}
	return 0
}

// LeaveGroup removes a member at once.
func (b *Broker) LeaveGroup(_ context.Context, req *pb.LeaveGroupRequest) (*pb.LeaveGroupResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cg := b.cgroups[req.GetGroup()]
	if cg == nil {
		return nil, status.Errorf(codes.NotFound, "group %q not found", req.GetGroup())
	}
	if _, ok := cg.members[req.GetMemberId()]; ok {
		delete(cg.members, req.GetMemberId())
		cg.generation++
	}
	return &pb.LeaveGroupResponse{}, nil
}

// CommitOffsets records offsets.
func (b *Broker) CommitOffsets(_ context.Context, req *pb.CommitOffsetsRequest) (*pb.CommitOffsetsResponse, error) {
	if req.GetGroup() == "" {
		return nil, status.Error(codes.InvalidArgument, "empty group")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cg := b.cgroupLocked(req.GetGroup())
	for _, o := range req.GetOffsets() {
		cg.committed[queueKey{o.GetTopic(), o.GetQueueId()}] = o.GetOffset()
	}
	return &pb.CommitOffsetsResponse{}, nil
}

// GetOffsets returns a group's committed offsets for a topic.
func (b *Broker) GetOffsets(_ context.Context, req *pb.GetOffsetsRequest) (*pb.GetOffsetsResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cg := b.cgroups[req.GetGroup()]
	if cg == nil {
		return nil, status.Errorf(codes.NotFound, "group %q not found", req.GetGroup())
	}
	resp := &pb.GetOffsetsResponse{}
	for k, off := range cg.committed {
		if k.topic == req.GetTopic() {
			resp.Offsets = append(resp.Offsets, &pb.OffsetCommit{Topic: k.topic, QueueId: k.queue, Offset: off})
		}
	}
	slices.SortFunc(resp.Offsets, func(a, c *pb.OffsetCommit) int {
		return cmp.Or(strings.Compare(a.GetTopic(), c.GetTopic()), cmp.Compare(a.GetQueueId(), c.GetQueueId()))
	})
	return resp, nil
}

// GroupLag returns committed offset, max offset and lag per queue.
func (b *Broker) GroupLag(_ context.Context, req *pb.GroupLagRequest) (*pb.GroupLagResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cg, t := b.cgroups[req.GetGroup()], b.topics[req.GetTopic()]
	if cg == nil || t == nil {
		return nil, status.Errorf(codes.NotFound, "group %q or topic %q not found", req.GetGroup(), req.GetTopic())
	}
	resp := &pb.GroupLagResponse{}
	for q := range t.queues {
		c := cg.committed[queueKey{req.GetTopic(), uint32(q)}]
		maxOff := uint64(len(t.queues[q]))
		lag := maxOff - min(c, maxOff)
		resp.Queues = append(resp.Queues, &pb.QueueLag{QueueId: uint32(q), Committed: c, MaxOffset: maxOff, Lag: lag})
		resp.TotalLag += lag
	}
	return resp, nil
}

// Committed returns a group's committed offset of one queue.
func (b *Broker) Committed(group, topicName string, queue uint32) (uint64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cg := b.cgroups[group]
	if cg == nil {
		return 0, false
	}
	off, ok := cg.committed[queueKey{topicName, queue}]
	return off, ok
}

// Members returns the live member ids of a consumer group, sorted.
func (b *Broker) Members(group string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ids []string
	if cg := b.cgroups[group]; cg != nil {
		for id := range cg.members {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}
