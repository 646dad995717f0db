package fakebroker

import (
	"context"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// GetMessage reads one message by id.
func (b *Broker) GetMessage(_ context.Context, req *pb.GetMessageRequest) (*pb.GetMessageResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.byID[req.GetMsgId()]
	if m == nil {
		return nil, status.Errorf(codes.NotFound, "message %q not found", req.GetMsgId())
	}
	return &pb.GetMessageResponse{Message: m}, nil
}

// QueryByKey scans a topic for messages with a key stored in a time range.
func (b *Broker) QueryByKey(_ context.Context, req *pb.QueryByKeyRequest) (*pb.QueryByKeyResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[req.GetTopic()]
	if t == nil {
		return nil, status.Errorf(codes.NotFound, "topic %q not found", req.GetTopic())
	}
	limit := int(req.GetLimit())
	if limit == 0 {
		limit = 32
	}
	end := req.GetEndMs()
	if end == 0 {
		end = nowMs()
	}
	resp := &pb.QueryByKeyResponse{}
	for _, q := range t.queues {
		for _, m := range q {
			ts := m.GetStoreTimestampMs()
			if len(resp.Messages) < limit && slices.Contains(m.GetKeys(), req.GetKey()) && ts >= req.GetBeginMs() && ts <= end {
				resp.Messages = append(resp.Messages, m)
			}
		}
	}
	return resp, nil
}

// ClusterStatus reports the nodes of the serving node's broker group, or
// with local_only the serving node alone.
func (b *Broker) ClusterStatus(ctx context.Context, req *pb.ClusterStatusRequest) (*pb.ClusterStatusResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g := b.groups[b.groupIndexLocked(nodeGroup(ctx))]
	resp := &pb.ClusterStatusResponse{}
	for _, addr := range g.Replicas {
		if req.GetLocalOnly() && addr != nodeAddr(ctx) {
			continue
		}
		role := "follower"
		if addr == g.Leader {
			role = "leader"
		}
		resp.Nodes = append(resp.Nodes, &pb.NodeStatus{
			NodeId: addr, Group: g.Name, GrpcAddr: addr, Role: role, Reachable: true,
		})
	}
	return resp, nil
}

// TransferLeadership makes another replica of the serving node's group the
// advertised leader (the target if given); node ids are addresses.
func (b *Broker) TransferLeadership(ctx context.Context, req *pb.TransferLeadershipRequest) (*pb.TransferLeadershipResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g := &b.groups[b.groupIndexLocked(nodeGroup(ctx))]
	target := req.GetTargetNodeId()
	if target == "" {
		for _, r := range g.Replicas {
			if r != g.Leader {
				target = r
				break
			}
		}
	}
	if target == "" || !slices.Contains(g.Replicas, target) {
		return nil, status.Errorf(codes.FailedPrecondition, "no voter %q to transfer leadership to", target)
	}
	g.Leader = target
	return &pb.TransferLeadershipResponse{NewLeaderId: target}, nil
}
