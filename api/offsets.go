package api

import (
	"cmp"
	"context"
	"slices"

	"github.com/raftmq/raftmq/api/raftmqpb"
)

// GetOffsets implements raftmqpb.BrokerServer. Any node serves it: unless
// local_only, every other broker group is asked too and the offsets of
// all the topic's queues are merged.
func (s *Server) GetOffsets(ctx context.Context, req *raftmqpb.GetOffsetsRequest) (*raftmqpb.GetOffsetsResponse, error) {
	local := func() (*raftmqpb.GetOffsetsResponse, error) {
		offs, err := s.b.GetOffsets(req.GetGroup(), req.GetTopic())
		if err != nil {
			return nil, s.toStatus(ctx, err)
		}
		out := &raftmqpb.GetOffsetsResponse{Offsets: make([]*raftmqpb.OffsetCommit, len(offs))}
		for i, o := range offs {
			out.Offsets[i] = &raftmqpb.OffsetCommit{Topic: o.Topic, QueueId: o.QueueID, Offset: o.Offset}
		}
		return out, nil
	}
	lreq := &raftmqpb.GetOffsetsRequest{Group: req.GetGroup(), Topic: req.GetTopic(), LocalOnly: true}
	parts, err := acrossGroups(ctx, s, req.GetLocalOnly(), local,
		func(ctx context.Context, c raftmqpb.BrokerClient) (*raftmqpb.GetOffsetsResponse, error) {
			return c.GetOffsets(ctx, lreq)
		})
	if err != nil {
		return nil, err
	}
	out := &raftmqpb.GetOffsetsResponse{}
	for _, p := range parts {
		out.Offsets = append(out.Offsets, p.GetOffsets()...)
	}
	slices.SortFunc(out.Offsets, func(a, b *raftmqpb.OffsetCommit) int { return cmp.Compare(a.GetQueueId(), b.GetQueueId()) })
	return out, nil
}

// GroupLag implements raftmqpb.BrokerServer, merging every group's queues
// like GetOffsets.
func (s *Server) GroupLag(ctx context.Context, req *raftmqpb.GroupLagRequest) (*raftmqpb.GroupLagResponse, error) {
	local := func() (*raftmqpb.GroupLagResponse, error) {
		lags, total, err := s.b.GroupLag(req.GetGroup(), req.GetTopic())
		if err != nil {
			return nil, s.toStatus(ctx, err)
		}
		out := &raftmqpb.GroupLagResponse{TotalLag: total, Queues: make([]*raftmqpb.QueueLag, len(lags))}
		for i, l := range lags {
			out.Queues[i] = &raftmqpb.QueueLag{QueueId: l.QueueID, Committed: l.Committed, MaxOffset: l.MaxOffset, Lag: l.Lag}
		}
		return out, nil
	}
	lreq := &raftmqpb.GroupLagRequest{Group: req.GetGroup(), Topic: req.GetTopic(), LocalOnly: true}
	parts, err := acrossGroups(ctx, s, req.GetLocalOnly(), local,
		func(ctx context.Context, c raftmqpb.BrokerClient) (*raftmqpb.GroupLagResponse, error) {
			return c.GroupLag(ctx, lreq)
		})
	if err != nil {
		return nil, err
	}
	out := &raftmqpb.GroupLagResponse{}
	for _, p := range parts {
		out.Queues = append(out.Queues, p.GetQueues()...)
		out.TotalLag += p.GetTotalLag()
	}
	slices.SortFunc(out.Queues, func(a, b *raftmqpb.QueueLag) int { return cmp.Compare(a.GetQueueId(), b.GetQueueId()) })
	return out, nil
}
