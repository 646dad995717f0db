package fakebroker

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// Produce appends a batch atomically: every message is checked before any
// is stored.
func (b *Broker) Produce(ctx context.Context, req *pb.ProduceRequest) (*pb.ProduceResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[req.GetTopic()]
	if t == nil {
		return nil, status.Errorf(codes.NotFound, "topic %q not found", req.GetTopic())
	}
	if len(req.GetMessages()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "no messages")
	}
	group := b.groups[b.groupIndexLocked(nodeGroup(ctx))]
	first := uint32(b.groupIndexLocked(group.Name)) * t.perGroup
	queues := make([]uint32, len(req.GetMessages()))
	for i, m := range req.GetMessages() {
		switch {
		case m.GetHasQueueId():
			if int(m.GetQueueId()) >= len(t.queues) {
				return nil, status.Errorf(codes.InvalidArgument, "topic %q has no queue %d", req.GetTopic(), m.GetQueueId())
			}
			queues[i] = m.GetQueueId()
		case m.GetShardingKey() != "":
			h := fnv.New32a()
			h.Write([]byte(m.GetShardingKey()))
			queues[i] = first + h.Sum32()%t.perGroup
		default:
			queues[i] = first + t.rr[group.Name]%t.perGroup
			t.rr[group.Name]++
		}
	}
	resp := &pb.ProduceResponse{}
	for i, m := range req.GetMessages() {
		stored := b.appendLocked(req.GetTopic(), t, queues[i], m)
		resp.Results = append(resp.Results, &pb.SendResult{
			MsgId: stored.GetMsgId(), QueueId: stored.GetQueueId(), QueueOffset: stored.GetQueueOffset(),
		})
	}
	b.wakeLocked()
	return resp, nil
}

func (b *Broker) appendLocked(topicName string, t *topic, q uint32, m *pb.ProduceMessage) *pb.Message {
	g := b.groupOfQueueLocked(t, q)
	stored := &pb.Message{
		Topic:            topicName,
		QueueId:          q,
		QueueOffset:      uint64(len(t.queues[q])),
		MsgId:            fmt.Sprintf("%s:%016X", g.Name, b.logEnd),
		Body:             slices.Clone(m.GetBody()),
		Tags:             m.GetTags(),
		Keys:             slices.Clone(m.GetKeys()),
		Properties:       maps.Clone(m.GetProperties()),
		BornTimestampMs:  m.GetBornTimestampMs(),
		StoreTimestampMs: nowMs(),
	}
	b.logEnd += uint64(64 + len(m.GetBody()))
	t.queues[q] = append(t.queues[q], stored)
	b.byID[stored.MsgId] = stored
	return stored
}
