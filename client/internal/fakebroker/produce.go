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
// is stored. An idempotent request (producer id and sequence) seen before
// gets the first attempt's response and stores nothing, as on a broker.
func (b *Broker) Produce(ctx context.Context, req *pb.ProduceRequest) (*pb.ProduceResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var key seqKey
	if req.ProducerId != nil && req.Sequence != nil {
		key = seqKey{req.GetProducerId(), req.GetSequence()}
		b.seqCalls[key]++
		if resp := b.seqs[key]; resp != nil {
			return resp, nil
		}
	}
	resp, err := b.produceLocked(ctx, req)
	if err == nil && req.ProducerId != nil && req.Sequence != nil {
		b.seqs[key] = resp
	}
	return resp, err
}

type seqKey struct{ producer, seq uint64 }

// SequenceCalls returns, for each (producer id, sequence) pair seen, how
// many Produce calls carried it.
func (b *Broker) SequenceCalls() map[[2]uint64]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[[2]uint64]int, len(b.seqCalls))
	for k, n := range b.seqCalls {
		out[[2]uint64{k.producer, k.seq}] = n
	}
	return out
}

func (b *Broker) produceLocked(ctx context.Context, req *pb.ProduceRequest) (*pb.ProduceResponse, error) {
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
