package client

import (
	"context"
	"time"

	"google.golang.org/grpc"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// Admin calls are thin wrappers over the RPCs of the same names. Calls
// without a topic route go to a seed (the last one that answered first),
// follow "not the leader" redirects and move to the next seed when one is
// unavailable.

// CreateTopic creates topic name with queues queues in each broker group
// of the cluster (each group's queue ids are unique within the topic).
// Creating an existing topic with the same queue count succeeds; with a
// different count it fails with ErrAlreadyExists.
func (c *Client) CreateTopic(ctx context.Context, name string, queues uint32) error {
	return c.CreateTopicIn(ctx, name, queues, nil)
}

// CreateTopicIn is CreateTopic over the named broker groups only (nil
// means all). Naming a group that does not hold the topic yet extends the
// topic onto it.
func (c *Client) CreateTopicIn(ctx context.Context, name string, queues uint32, groups []string) error {
	_, err := invoke(ctx, c, callSpec{method: "CreateTopic"},
		func(ctx context.Context, b pb.BrokerClient, opts []grpc.CallOption) (*pb.CreateTopicResponse, error) {
			return b.CreateTopic(ctx, &pb.CreateTopicRequest{Topic: &pb.TopicConfig{Name: name, Queues: queues}, Groups: groups}, opts...)
		})
	c.routes.invalidate(name)
	return err
}

// DeleteTopic deletes topic name and forgets its route.
func (c *Client) DeleteTopic(ctx context.Context, name string) error {
	_, err := invoke(ctx, c, callSpec{method: "DeleteTopic"},
		func(ctx context.Context, b pb.BrokerClient, opts []grpc.CallOption) (*pb.DeleteTopicResponse, error) {
			return b.DeleteTopic(ctx, &pb.DeleteTopicRequest{Name: name}, opts...)
		})
	c.routes.invalidate(name)
	return err
}

// DescribeTopic returns topic name's config and route (queue -> broker
// group -> leader and replicas), and refreshes the cached route.
func (c *Client) DescribeTopic(ctx context.Context, name string) (*pb.DescribeTopicResponse, error) {
	resp, _, err := c.describe(ctx, name)
	return resp, err
}

// ListTopics returns every topic of the cluster.
func (c *Client) ListTopics(ctx context.Context) ([]*pb.TopicConfig, error) {
	resp, err := invoke(ctx, c, callSpec{method: "ListTopics"},
		func(ctx context.Context, b pb.BrokerClient, opts []grpc.CallOption) (*pb.ListTopicsResponse, error) {
			return b.ListTopics(ctx, &pb.ListTopicsRequest{}, opts...)
		})
	return resp.GetTopics(), err
}

// GroupLag returns consumer group's committed offset, max offset and lag
// per queue of topic.
func (c *Client) GroupLag(ctx context.Context, group, topic string) (*pb.GroupLagResponse, error) {
	return invoke(ctx, c, callSpec{method: "GroupLag"},
		func(ctx context.Context, b pb.BrokerClient, opts []grpc.CallOption) (*pb.GroupLagResponse, error) {
			return b.GroupLag(ctx, &pb.GroupLagRequest{Group: group, Topic: topic}, opts...)
		})
}

// GetOffsets returns consumer group's committed offsets for topic.
func (c *Client) GetOffsets(ctx context.Context, group, topic string) ([]*pb.OffsetCommit, error) {
	resp, err := invoke(ctx, c, callSpec{method: "GetOffsets"},
		func(ctx context.Context, b pb.BrokerClient, opts []grpc.CallOption) (*pb.GetOffsetsResponse, error) {
			return b.GetOffsets(ctx, &pb.GetOffsetsRequest{Group: group, Topic: topic}, opts...)
		})
	return resp.GetOffsets(), err
}

// GetMessage reads one message by its id.
func (c *Client) GetMessage(ctx context.Context, msgID string) (*Message, error) {
	resp, err := invoke(ctx, c, callSpec{method: "GetMessage"},
		func(ctx context.Context, b pb.BrokerClient, opts []grpc.CallOption) (*pb.GetMessageResponse, error) {
			return b.GetMessage(ctx, &pb.GetMessageRequest{MsgId: msgID}, opts...)
		})
	if err != nil {
		return nil, err
	}
	return fromPB(resp.GetMessage()), nil
}

// QueryByKey returns up to limit messages of topic with key stored in
// [begin, end]; a zero end means now, a zero limit means the broker's
// default (32).
func (c *Client) QueryByKey(ctx context.Context, topic, key string, begin, end time.Time, limit uint32) ([]*Message, error) {
	req := &pb.QueryByKeyRequest{Topic: topic, Key: key, Limit: limit}
	if !begin.IsZero() {
		req.BeginMs = begin.UnixMilli()
	}
	if !end.IsZero() {
		req.EndMs = end.UnixMilli()
	}
	resp, err := invoke(ctx, c, callSpec{method: "QueryByKey"},
		func(ctx context.Context, b pb.BrokerClient, opts []grpc.CallOption) (*pb.QueryByKeyResponse, error) {
			return b.QueryByKey(ctx, req, opts...)
		})
	if err != nil {
		return nil, err
	}
	return fromPBs(resp.GetMessages()), nil
}

// ClusterStatus returns the status of every node of every broker group, as
// the node at addr (a seed if addr is empty).
func (c *Client) ClusterStatus(ctx context.Context, addr string) ([]*pb.NodeStatus, error) {
	resp, err := invoke(ctx, c, callSpec{method: "ClusterStatus", addr: addr},
		func(ctx context.Context, b pb.BrokerClient, opts []grpc.CallOption) (*pb.ClusterStatusResponse, error) {
			return b.ClusterStatus(ctx, &pb.ClusterStatusRequest{}, opts...)
		})
	return resp.GetNodes(), err
}

// TransferLeadership asks the leader of the broker group of the node at
// addr (a seed if addr is empty) to hand leadership to targetNodeID (any
// voter if empty) and returns the new leader's node id.
func (c *Client) TransferLeadership(ctx context.Context, addr, targetNodeID string) (string, error) {
	resp, err := invoke(ctx, c, callSpec{method: "TransferLeadership", addr: addr},
		func(ctx context.Context, b pb.BrokerClient, opts []grpc.CallOption) (*pb.TransferLeadershipResponse, error) {
			return b.TransferLeadership(ctx, &pb.TransferLeadershipRequest{TargetNodeId: targetNodeID}, opts...)
		})
	return resp.GetNewLeaderId(), err
}
