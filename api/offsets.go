package api

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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

// acrossGroups answers a read for this broker group with local and,
// unless localOnly, for every other known group with remote on its nodes
// in turn (the first answer other than UNAVAILABLE or DEADLINE_EXCEEDED
// counts). Groups answering NOT_FOUND (they hold no part of the topic or
// know no such consumer group) are skipped; if no group answered, the
// local error is returned. A group that cannot be reached fails the read:
// a partial lag or offset list would look complete.
func acrossGroups[R any](ctx context.Context, s *Server, localOnly bool, local func() (R, error),
	remote func(context.Context, raftmqpb.BrokerClient) (R, error)) ([]R, error) {
	mine, lerr := local()
	others := s.b.OtherGroups()
	if localOnly || len(others) == 0 || (lerr != nil && status.Code(lerr) != codes.NotFound) {
		if lerr != nil {
			return nil, lerr
		}
		return []R{mine}, nil
	}
	answers := make([]R, len(others))
	errs := make([]error, len(others))
	var wg sync.WaitGroup
	for i, g := range others {
		wg.Go(func() { answers[i], errs[i] = askPeers(ctx, s, g, remote) })
	}
	wg.Wait()
	var out []R
	if lerr == nil {
		out = append(out, mine)
	}
	for i, err := range errs {
		switch {
		case err == nil:
			out = append(out, answers[i])
		case status.Code(err) == codes.NotFound:
		default:
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, lerr
	}
	return out, nil
}

// askPeers runs call on the nodes of group g in turn until one answers
// other than UNAVAILABLE or DEADLINE_EXCEEDED.
func askPeers[R any](ctx context.Context, s *Server, g string, call func(context.Context, raftmqpb.BrokerClient) (R, error)) (R, error) {
	var zero R
	err := status.Errorf(codes.Unavailable, "broker group %s has no node with a known address", g)
	for _, n := range s.b.GroupMembers(g) {
		if n.GRPCAddr == "" {
			continue
		}
		c, cerr := s.client(n.GRPCAddr)
		if cerr != nil {
			return zero, status.Error(codes.Unavailable, cerr.Error())
		}
		pctx, cancel := context.WithTimeout(ctx, s.opts.PeerTimeout)
		r, rerr := call(pctx, c)
		cancel()
		if rerr == nil {
			return r, nil
		}
		if err = rerr; !retryOnPeer(rerr) {
			return zero, rerr
		}
	}
	return zero, err
}
