package api

import (
	"context"

	"github.com/raftmq/raftmq/api/raftmqpb"
)

// RemoveNode implements raftmqpb.BrokerServer; a follower forwards it to
// the leader.
func (s *Server) RemoveNode(ctx context.Context, req *raftmqpb.RemoveNodeRequest) (*raftmqpb.RemoveNodeResponse, error) {
	removed, err := s.b.RemoveNode(ctx, req.GetNodeId())
	if err != nil {
		return forward(ctx, s, err, req, raftmqpb.BrokerClient.RemoveNode)
	}
	return &raftmqpb.RemoveNodeResponse{Removed: removed}, nil
}
