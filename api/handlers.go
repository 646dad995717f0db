package api

import (
	"context"
	"time"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
)

// Produce implements raftmqpb.BrokerServer; a follower forwards it.
func (s *Server) Produce(ctx context.Context, req *raftmqpb.ProduceRequest) (*raftmqpb.ProduceResponse, error) {
	res, err := s.b.Produce(ctx, req.GetTopic(), fromPBProduce(req.GetMessages()))
	if err != nil {
		return forward(ctx, s, err, req, raftmqpb.BrokerClient.Produce)
	}
	out := &raftmqpb.ProduceResponse{Results: make([]*raftmqpb.SendResult, len(res))}
	for i, r := range res {
		out.Results[i] = &raftmqpb.SendResult{MsgId: r.MsgID, QueueId: r.QueueID, QueueOffset: r.QueueOffset}
	}
	return out, nil
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

// CreateTopic implements raftmqpb.BrokerServer; a follower forwards it.
func (s *Server) CreateTopic(ctx context.Context, req *raftmqpb.CreateTopicRequest) (*raftmqpb.CreateTopicResponse, error) {
	t := req.GetTopic()
	if err := s.b.CreateTopic(ctx, broker.Topic{Name: t.GetName(), Queues: t.GetQueues()}); err != nil {
		return forward(ctx, s, err, req, raftmqpb.BrokerClient.CreateTopic)
	}
	return &raftmqpb.CreateTopicResponse{}, nil
}

// DeleteTopic implements raftmqpb.BrokerServer; a follower forwards it.
func (s *Server) DeleteTopic(ctx context.Context, req *raftmqpb.DeleteTopicRequest) (*raftmqpb.DeleteTopicResponse, error) {
	if err := s.b.DeleteTopic(ctx, req.GetName()); err != nil {
		return forward(ctx, s, err, req, raftmqpb.BrokerClient.DeleteTopic)
	}
	return &raftmqpb.DeleteTopicResponse{}, nil
}

// DescribeTopic implements raftmqpb.BrokerServer; any replica serves it.
func (s *Server) DescribeTopic(ctx context.Context, req *raftmqpb.DescribeTopicRequest) (*raftmqpb.DescribeTopicResponse, error) {
	r, err := s.b.DescribeTopic(req.GetName())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &raftmqpb.DescribeTopicResponse{
		Topic:  &raftmqpb.TopicConfig{Name: r.Topic.Name, Queues: r.Topic.Queues},
		Routes: make([]*raftmqpb.QueueRoute, len(r.Routes)),
	}
	for i, q := range r.Routes {
		out.Routes[i] = &raftmqpb.QueueRoute{QueueId: q.QueueID, Group: q.Group, LeaderAddr: q.LeaderAddr, ReplicaAddrs: q.ReplicaAddrs}
	}
	return out, nil
}

// ListTopics implements raftmqpb.BrokerServer; any replica serves it.
func (s *Server) ListTopics(ctx context.Context, _ *raftmqpb.ListTopicsRequest) (*raftmqpb.ListTopicsResponse, error) {
	ts, err := s.b.ListTopics()
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &raftmqpb.ListTopicsResponse{Topics: make([]*raftmqpb.TopicConfig, len(ts))}
	for i, t := range ts {
		out.Topics[i] = &raftmqpb.TopicConfig{Name: t.Name, Queues: t.Queues}
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

// GetOffsets implements raftmqpb.BrokerServer; any replica serves it.
func (s *Server) GetOffsets(ctx context.Context, req *raftmqpb.GetOffsetsRequest) (*raftmqpb.GetOffsetsResponse, error) {
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

// GroupLag implements raftmqpb.BrokerServer; any replica serves it.
func (s *Server) GroupLag(ctx context.Context, req *raftmqpb.GroupLagRequest) (*raftmqpb.GroupLagResponse, error) {
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

// GetMessage implements raftmqpb.BrokerServer; any replica serves it.
func (s *Server) GetMessage(ctx context.Context, req *raftmqpb.GetMessageRequest) (*raftmqpb.GetMessageResponse, error) {
	m, err := s.b.GetMessage(req.GetMsgId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &raftmqpb.GetMessageResponse{Message: toPBMessage(&m, s.b.MessageID(m.CommitLogOffset))}, nil
}

// QueryByKey implements raftmqpb.BrokerServer; any replica serves it.
func (s *Server) QueryByKey(ctx context.Context, req *raftmqpb.QueryByKeyRequest) (*raftmqpb.QueryByKeyResponse, error) {
	ms, err := s.b.QueryByKey(req.GetTopic(), req.GetKey(), req.GetBeginMs(), req.GetEndMs(), int(req.GetLimit()))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &raftmqpb.QueryByKeyResponse{Messages: s.toPBMessages(ms)}, nil
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
