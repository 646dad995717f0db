package fakebroker

import (
	"context"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// CreateTopic creates a topic with queues queues per broker group.
func (b *Broker) CreateTopic(_ context.Context, req *pb.CreateTopicRequest) (*pb.CreateTopicResponse, error) {
	cfg := req.GetTopic()
	if cfg.GetName() == "" || strings.ContainsAny(cfg.GetName(), " /") || cfg.GetQueues() == 0 {
		return nil, status.Errorf(codes.InvalidArgument, "bad topic %q with %d queues", cfg.GetName(), cfg.GetQueues())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.topics[cfg.GetName()]; t != nil {
		if t.perGroup != cfg.GetQueues() {
			return nil, status.Errorf(codes.AlreadyExists, "topic %q exists with %d queues", cfg.GetName(), t.perGroup)
		}
		return &pb.CreateTopicResponse{}, nil
	}
	b.topics[cfg.GetName()] = &topic{
		perGroup: cfg.GetQueues(),
		queues:   make([][]*pb.Message, int(cfg.GetQueues())*len(b.groups)),
		rr:       make(map[string]uint32),
	}
	return &pb.CreateTopicResponse{}, nil
}

// DeleteTopic deletes a topic and its messages.
func (b *Broker) DeleteTopic(_ context.Context, req *pb.DeleteTopicRequest) (*pb.DeleteTopicResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.topics[req.GetName()] == nil {
		return nil, status.Errorf(codes.NotFound, "topic %q not found", req.GetName())
	}
	delete(b.topics, req.GetName())
	return &pb.DeleteTopicResponse{}, nil
}

// DescribeTopic returns a topic's route.
func (b *Broker) DescribeTopic(_ context.Context, req *pb.DescribeTopicRequest) (*pb.DescribeTopicResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[req.GetName()]
	if t == nil {
		return nil, status.Errorf(codes.NotFound, "topic %q not found", req.GetName())
	}
	resp := &pb.DescribeTopicResponse{Topic: &pb.TopicConfig{Name: req.GetName(), Queues: t.perGroup}}
	for q := range t.queues {
		g := b.groupOfQueueLocked(t, uint32(q))
		resp.Routes = append(resp.Routes, &pb.QueueRoute{
			QueueId:      uint32(q),
			Group:        g.Name,
			LeaderAddr:   g.Leader,
			ReplicaAddrs: slices.Clone(g.Replicas),
		})
	}
	return resp, nil
}

// ListTopics lists topics by name.
func (b *Broker) ListTopics(context.Context, *pb.ListTopicsRequest) (*pb.ListTopicsResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	resp := &pb.ListTopicsResponse{}
	for name, t := range b.topics {
		resp.Topics = append(resp.Topics, &pb.TopicConfig{Name: name, Queues: t.perGroup})
	}
	slices.SortFunc(resp.Topics, func(a, c *pb.TopicConfig) int { return strings.Compare(a.GetName(), c.GetName()) })
	return resp, nil
}
