package api

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/raftfsm"
)

// peers implements broker.Peers over this server's connections: the
// local_only topic calls on a node of another broker group.
type peers struct{ s *Server }

var _ broker.Peers = peers{}

// readCtx bounds one peer read by PeerTimeout; writeCtx also leaves the
// peer's group the time of one Raft apply.
func (p peers) readCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, p.s.opts.PeerTimeout)
}

func (p peers) writeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, p.s.opts.PeerTimeout+p.s.b.Config().ApplyTimeout)
}

// TopicPart implements broker.Peers.
func (p peers) TopicPart(ctx context.Context, addr, name string, fromLeader bool) (broker.TopicRoute, error) {
	c, err := p.s.client(addr)
	if err != nil {
		return broker.TopicRoute{}, peerErr(addr, err)
	}
	ctx, cancel := p.readCtx(ctx)
	defer cancel()
	resp, err := c.DescribeTopic(ctx, &raftmqpb.DescribeTopicRequest{Name: name, LocalOnly: true, FromLeader: fromLeader})
	if err != nil {
		return broker.TopicRoute{}, peerErr(addr, err)
	}
	r := broker.TopicRoute{Topic: fromPBTopic(resp.GetTopic())}
	for _, q := range resp.GetRoutes() {
		r.Routes = append(r.Routes, broker.QueueRoute{QueueID: q.GetQueueId(), Group: q.GetGroup(),
			LeaderAddr: q.GetLeaderAddr(), ReplicaAddrs: q.GetReplicaAddrs()})
	}
	return r, nil
}

// TopicParts implements broker.Peers.
func (p peers) TopicParts(ctx context.Context, addr string) ([]broker.Topic, error) {
	c, err := p.s.client(addr)
	if err != nil {
		return nil, peerErr(addr, err)
	}
	ctx, cancel := p.readCtx(ctx)
	defer cancel()
	resp, err := c.ListTopics(ctx, &raftmqpb.ListTopicsRequest{LocalOnly: true})
	if err != nil {
		return nil, peerErr(addr, err)
	}
	out := make([]broker.Topic, len(resp.GetTopics()))
	for i, t := range resp.GetTopics() {
		out[i] = fromPBTopic(t)
	}
	return out, nil
}

// CreateTopicPart implements broker.Peers.
func (p peers) CreateTopicPart(ctx context.Context, addr string, t broker.Topic) error {
	c, err := p.s.client(addr)
	if err != nil {
		return peerErr(addr, err)
	}
	ctx, cancel := p.writeCtx(ctx)
	defer cancel()
	_, err = c.CreateTopic(ctx, &raftmqpb.CreateTopicRequest{Topic: toPBTopic(t), LocalOnly: true})
	return peerErr(addr, err)
}

// PlaceTopic implements broker.Peers.
func (p peers) PlaceTopic(ctx context.Context, addr string, r broker.PlaceRequest) error {
	c, err := p.s.client(addr)
	if err != nil {
		return peerErr(addr, err)
	}
	// Placement describes every group and creates a part in each target:
	// allow a few Raft applies.
	ctx, cancel := context.WithTimeout(ctx, 2*p.s.opts.PeerTimeout+3*p.s.b.Config().ApplyTimeout)
	defer cancel()
	_, err = c.CreateTopic(ctx, &raftmqpb.CreateTopicRequest{Topic: toPBTopic(r.Topic), Groups: r.Groups,
		IfAbsent: r.IfAbsent, Placement: r.Placement})
	return peerErr(addr, err)
}

// DeleteTopicPart implements broker.Peers.
func (p peers) DeleteTopicPart(ctx context.Context, addr, name string) error {
	c, err := p.s.client(addr)
	if err != nil {
		return peerErr(addr, err)
	}
	ctx, cancel := p.writeCtx(ctx)
	defer cancel()
	_, err = c.DeleteTopic(ctx, &raftmqpb.DeleteTopicRequest{Name: name, LocalOnly: true})
	return peerErr(addr, err)
}

// NodeStatus implements broker.Peers.
func (p peers) NodeStatus(ctx context.Context, addr string) (broker.NodeStatus, error) {
	st, err := p.s.ownStatus(ctx, addr)
	if err != nil {
		return broker.NodeStatus{}, peerErr(addr, err)
	}
	return fromPBNodeStatus(st), nil
}

// peerErr turns a peer's gRPC error back into the broker error its code
// stands for; anything that does not say "no" about the topic itself
// (unreachable, no leader, timeout, internal) is ErrGroupUnavailable.
func peerErr(addr string, err error) error {
	if err == nil {
		return nil
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("%w: node %s: %s", broker.ErrTopicNotFound, addr, st.Message())
	case codes.AlreadyExists:
		return fmt.Errorf("%w: node %s: %s", raftfsm.ErrTopicExists, addr, st.Message())
	case codes.InvalidArgument:
		return fmt.Errorf("%w: node %s: %s", broker.ErrInvalidArgument, addr, st.Message())
	}
	return fmt.Errorf("%w: node %s: %v", broker.ErrGroupUnavailable, addr, err)
}

func fromPBTopic(t *raftmqpb.TopicConfig) broker.Topic {
	return broker.Topic{Name: t.GetName(), Queues: t.GetQueues(), FirstQueue: t.GetFirstQueueId()}
}

func toPBTopic(t broker.Topic) *raftmqpb.TopicConfig {
	return &raftmqpb.TopicConfig{Name: t.Name, Queues: t.Queues, FirstQueueId: t.FirstQueue}
}
