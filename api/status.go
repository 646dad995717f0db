package api

import (
	"context"
	"fmt"
	"sync"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
)

// ClusterStatus implements raftmqpb.BrokerServer. With local_only it
// reports this node; otherwise it also asks every other node of every
// broker group (concurrently, with local_only, each bounded by
// Options.PeerTimeout) and reports the ones it cannot reach as
// unreachable with the error. This group's nodes come first.
func (s *Server) ClusterStatus(ctx context.Context, req *raftmqpb.ClusterStatusRequest) (*raftmqpb.ClusterStatusResponse, error) {
	self := toPBNodeStatus(s.b.Status())
	if req.GetLocalOnly() {
		return &raftmqpb.ClusterStatusResponse{Nodes: []*raftmqpb.NodeStatus{self}}, nil
	}
	nodes := s.b.ClusterNodes()
	out := make([]*raftmqpb.NodeStatus, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		if n.ID == s.b.NodeID() {
			out[i] = self
			continue
		}
		wg.Go(func() { out[i] = s.peerStatus(ctx, n) })
	}
	wg.Wait()
	return &raftmqpb.ClusterStatusResponse{Nodes: out}, nil
}

// peerStatus asks one node for its own status.
func (s *Server) peerStatus(ctx context.Context, n broker.NodeAddr) *raftmqpb.NodeStatus {
	down := &raftmqpb.NodeStatus{NodeId: n.ID, Group: n.Group, GrpcAddr: n.GRPCAddr, Role: "unknown"}
	if n.GRPCAddr == "" {
		down.Error = "gRPC address unknown"
		return down
	}
	st, err := s.ownStatus(ctx, n.GRPCAddr)
	if err != nil {
		down.Error = err.Error()
		return down
	}
	return st
}

// ownStatus asks the node at addr for its own status, bounded by
// PeerTimeout.
func (s *Server) ownStatus(ctx context.Context, addr string) (*raftmqpb.NodeStatus, error) {
	c, err := s.client(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.PeerTimeout)
	defer cancel()
	resp, err := c.ClusterStatus(ctx, &raftmqpb.ClusterStatusRequest{LocalOnly: true})
	if err != nil {
		return nil, err
	}
	if len(resp.GetNodes()) != 1 {
		return nil, fmt.Errorf("node at %s returned %d statuses, want its own", addr, len(resp.GetNodes()))
	}
	return resp.GetNodes()[0], nil
}
