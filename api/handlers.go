package api

import (
	"context"
	"fmt"
	"time"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/internal/prodstream"
)

// Produce implements raftmqpb.BrokerServer; a follower forwards it.
func (s *Server) Produce(ctx context.Context, req *raftmqpb.ProduceRequest) (*raftmqpb.ProduceResponse, error) {
	pr := broker.ProduceRequest{Topic: req.GetTopic(), Messages: fromPBProduce(req.GetMessages())}
	switch {
	case req.ProducerId != nil && req.Sequence != nil:
		pr.Idempotent, pr.ProducerID, pr.Seq = true, req.GetProducerId(), req.GetSequence()
	case req.ProducerId != nil || req.Sequence != nil:
		return nil, s.toStatus(ctx, fmt.Errorf("%w: producer_id and sequence go together", broker.ErrInvalidArgument))
	}
	// A follower forwards req itself, producer id and sequence included.
	res, err := s.b.ProduceRequest(ctx, pr)
	if err != nil {
		return forward(ctx, s, err, req, raftmqpb.BrokerClient.Produce)
	}
	out := &raftmqpb.ProduceResponse{Results: make([]*raftmqpb.SendResult, len(res))}
	vals := make([]raftmqpb.SendResult, len(res)) // one allocation, not one per message
	for i, r := range res {
		v := &vals[i]
		v.MsgId, v.QueueId, v.QueueOffset = r.MsgID, r.QueueID, r.QueueOffset
		out.Results[i] = v
	}
	return out, nil
}

// ProduceStream implements raftmqpb.BrokerServer: each request of the
// stream is answered as a Produce call would be (forwarded by a follower,
// with the same status codes and trailers).
func (s *Server) ProduceStream(stream raftmqpb.Broker_ProduceStreamServer) error {
	return prodstream.Serve(stream, raftmqpb.Broker_Produce_FullMethodName, s.Produce, s.stopStreams)
}

// Fetch implements raftmqpb.BrokerServer; any replica serves it.
func (s *Server) Fetch(ctx context.Context, req *raftmqpb.FetchRequest) (*raftmqpb.FetchResponse, error) {
	res, err := s.b.Fetch(ctx, broker.FetchRequest{
		Topic:       req.GetTopic(),
		QueueID:     req.GetQueueId(),
		Offset:      req.GetOffset(),
		MaxMessages: int(req.GetMaxMessages()),
		MaxBytes:    int(req.GetMaxBytes()),
		MaxWait:     time.Duration(req.GetMaxWaitMs()) * time.Millisecond,
		Tags:        req.GetTags(),
	})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &raftmqpb.FetchResponse{
		Status:     fetchStatuses[res.Status],
		Messages:   s.toPBMessages(res.Messages),
		NextOffset: res.NextOffset,
		MinOffset:  res.MinOffset,
		MaxOffset:  res.MaxOffset,
	}, nil
}

// CreateTopic implements raftmqpb.BrokerServer. Any node accepts a
// cluster-wide creation (the broker hands it to the placement group's
// leader); a placement handed over, and a local_only part, are forwarded
// by a follower to its leader.
func (s *Server) CreateTopic(ctx context.Context, req *raftmqpb.CreateTopicRequest) (*raftmqpb.CreateTopicResponse, error) {
	t := fromPBTopic(req.GetTopic())
	if !req.GetLocalOnly() {
		err := s.b.Place(ctx, broker.PlaceRequest{Topic: t, Groups: req.GetGroups(),
			IfAbsent: req.GetIfAbsent(), Placement: req.GetPlacement()})
		if err != nil {
			return forward(ctx, s, err, req, raftmqpb.BrokerClient.CreateTopic)
		}
		return &raftmqpb.CreateTopicResponse{}, nil
	}
	if err := s.b.CreateTopicPart(ctx, t); err != nil {
		return forward(ctx, s, err, req, raftmqpb.BrokerClient.CreateTopic)
	}
	return &raftmqpb.CreateTopicResponse{}, nil
}

// DeleteTopic implements raftmqpb.BrokerServer, like CreateTopic.
func (s *Server) DeleteTopic(ctx context.Context, req *raftmqpb.DeleteTopicRequest) (*raftmqpb.DeleteTopicResponse, error) {
	if !req.GetLocalOnly() {
		if err := s.b.DeleteTopic(ctx, req.GetName()); err != nil {
			return nil, s.toStatus(ctx, err)
		}
		return &raftmqpb.DeleteTopicResponse{}, nil
	}
	if err := s.b.DeleteTopicPart(ctx, req.GetName()); err != nil {
		return forward(ctx, s, err, req, raftmqpb.BrokerClient.DeleteTopic)
	}
	return &raftmqpb.DeleteTopicResponse{}, nil
}

// DescribeTopic implements raftmqpb.BrokerServer; any node serves it,
// asking the other groups for their parts unless local_only.
func (s *Server) DescribeTopic(ctx context.Context, req *raftmqpb.DescribeTopicRequest) (*raftmqpb.DescribeTopicResponse, error) {
	var r broker.TopicRoute
	var err error
	switch {
	case req.GetLocalOnly() && req.GetFromLeader():
		if r, err = s.b.TopicPartAtLeader(req.GetName()); err != nil {
			return forward(ctx, s, err, req, raftmqpb.BrokerClient.DescribeTopic)
		}
	case req.GetLocalOnly():
		r, err = s.b.TopicPart(req.GetName())
	default:
		r, err = s.b.DescribeTopic(ctx, req.GetName())
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &raftmqpb.DescribeTopicResponse{
		Topic:      toPBTopic(r.Topic),
		Routes:     make([]*raftmqpb.QueueRoute, len(r.Routes)),
		Incomplete: r.Incomplete,
	}
	for i, q := range r.Routes {
		out.Routes[i] = &raftmqpb.QueueRoute{QueueId: q.QueueID, Group: q.Group, LeaderAddr: q.LeaderAddr, ReplicaAddrs: q.ReplicaAddrs}
	}
	return out, nil
}

// ListTopics implements raftmqpb.BrokerServer; any node serves it,
// merging the other groups' topics unless local_only.
func (s *Server) ListTopics(ctx context.Context, req *raftmqpb.ListTopicsRequest) (*raftmqpb.ListTopicsResponse, error) {
	var ts []broker.Topic
	var err error
	if req.GetLocalOnly() {
		ts, err = s.b.TopicParts()
	} else {
		ts, err = s.b.ListTopics(ctx)
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &raftmqpb.ListTopicsResponse{Topics: make([]*raftmqpb.TopicConfig, len(ts))}
	for i, t := range ts {
		out.Topics[i] = toPBTopic(t)
	}
	return out, nil
}

// Heartbeat implements raftmqpb.BrokerServer; a follower forwards
// clustering-mode heartbeats.
func (s *Server) Heartbeat(ctx context.Context, req *raftmqpb.HeartbeatRequest) (*raftmqpb.HeartbeatResponse, error) {
	res, err := s.b.Heartbeat(ctx, fromPBHeartbeat(req))
	if err != nil {
		return forward(ctx, s, err, req, raftmqpb.BrokerClient.Heartbeat)
	}
	out := &raftmqpb.HeartbeatResponse{Generation: res.Generation, Assignments: make([]*raftmqpb.QueueAssignment, len(res.Assignments))}
	for i, a := range res.Assignments {
		out.Assignments[i] = &raftmqpb.QueueAssignment{Topic: a.Topic, QueueId: a.QueueID, Offset: a.Offset}
	}
	return out, nil
}

// LeaveGroup implements raftmqpb.BrokerServer; a follower forwards it.
func (s *Server) LeaveGroup(ctx context.Context, req *raftmqpb.LeaveGroupRequest) (*raftmqpb.LeaveGroupResponse, error) {
	if err := s.b.LeaveGroup(ctx, req.GetGroup(), req.GetMemberId()); err != nil {
		return forward(ctx, s, err, req, raftmqpb.BrokerClient.LeaveGroup)
	}
	return &raftmqpb.LeaveGroupResponse{}, nil
}

// CommitOffsets implements raftmqpb.BrokerServer; a follower forwards it.
func (s *Server) CommitOffsets(ctx context.Context, req *raftmqpb.CommitOffsetsRequest) (*raftmqpb.CommitOffsetsResponse, error) {
	offs := make([]broker.QueueOffset, len(req.GetOffsets()))
	for i, o := range req.GetOffsets() {
		offs[i] = broker.QueueOffset{Topic: o.GetTopic(), QueueID: o.GetQueueId(), Offset: o.GetOffset()}
	}
	if err := s.b.CommitOffsets(ctx, req.GetGroup(), offs); err != nil {
		return forward(ctx, s, err, req, raftmqpb.BrokerClient.CommitOffsets)
	}
	return &raftmqpb.CommitOffsetsResponse{}, nil
}

// TransferLeadership implements raftmqpb.BrokerServer; a follower
// forwards it.
func (s *Server) TransferLeadership(ctx context.Context, req *raftmqpb.TransferLeadershipRequest) (*raftmqpb.TransferLeadershipResponse, error) {
	id, err := s.b.TransferLeadership(ctx, req.GetTargetNodeId())
	if err != nil {
		return forward(ctx, s, err, req, raftmqpb.BrokerClient.TransferLeadership)
	}
	return &raftmqpb.TransferLeadershipResponse{NewLeaderId: id}, nil
}
