package api

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
)

// GetMessage implements raftmqpb.BrokerServer. Any node serves it: an id
// of another broker group (the id names its group) is asked of that
// group's nodes in turn.
func (s *Server) GetMessage(ctx context.Context, req *raftmqpb.GetMessageRequest) (*raftmqpb.GetMessageResponse, error) {
	group, _, err := broker.ParseMessageID(req.GetMsgId())
	if err == nil && group != s.b.GroupID() && slices.Contains(s.b.OtherGroups(), group) {
		return s.getRemoteMessage(ctx, group, req)
	}
	m, err := s.b.GetMessage(req.GetMsgId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &raftmqpb.GetMessageResponse{Message: toPBMessage(&m, s.b.MessageID(m.CommitLogOffset))}, nil
}

// getRemoteMessage asks the nodes of group for a message until one
// answers other than UNAVAILABLE or DEADLINE_EXCEEDED.
func (s *Server) getRemoteMessage(ctx context.Context, group string, req *raftmqpb.GetMessageRequest) (*raftmqpb.GetMessageResponse, error) {
	err := status.Errorf(codes.Unavailable, "broker group %s has no node with a known address", group)
	for _, n := range s.b.GroupMembers(group) {
		var c raftmqpb.BrokerClient
		if n.GRPCAddr == "" {
			continue
		}
		if c, err = s.client(n.GRPCAddr); err != nil {
			return nil, s.toStatus(ctx, err)
		}
		pctx, cancel := context.WithTimeout(ctx, s.opts.PeerTimeout)
		resp, cerr := c.GetMessage(pctx, req)
		cancel()
		if cerr == nil {
			return resp, nil
		}
		if err = cerr; !retryOnPeer(cerr) {
			return nil, cerr
		}
	}
	return nil, err
}

// QueryByKey implements raftmqpb.BrokerServer. Any node serves it: unless
// local_only, every other broker group is searched too (concurrently)
// and the answers are merged, newest first, up to the limit. Groups that
// do not hold the topic are skipped; a group that cannot be reached fails
// the query rather than giving a silently partial answer.
func (s *Server) QueryByKey(ctx context.Context, req *raftmqpb.QueryByKeyRequest) (*raftmqpb.QueryByKeyResponse, error) {
	ms, err := s.b.QueryByKey(req.GetTopic(), req.GetKey(), req.GetBeginMs(), req.GetEndMs(), int(req.GetLimit()))
	local := &raftmqpb.QueryByKeyResponse{}
	switch {
	case err == nil:
		local.Messages = s.toPBMessages(ms)
	case req.GetLocalOnly() || !errors.Is(err, broker.ErrTopicNotFound):
		return nil, s.toStatus(ctx, err)
	}
	others := s.b.OtherGroups()
	if req.GetLocalOnly() || len(others) == 0 {
		if err != nil {
			return nil, s.toStatus(ctx, err)
		}
		return local, nil
	}
	found := err == nil
	answers := make([]*raftmqpb.QueryByKeyResponse, len(others))
	errs := make([]error, len(others))
	var wg sync.WaitGroup
	for i, g := range others {
		wg.Go(func() { answers[i], errs[i] = s.queryGroup(ctx, g, req) })
	}
	wg.Wait()
	out := local.Messages
	for i, a := range answers {
		switch {
		case errs[i] == nil:
			found = true
			out = append(out, a.GetMessages()...)
		case status.Code(errs[i]) == codes.NotFound:
		default:
			return nil, errs[i]
		}
	}
	if !found {
		return nil, s.toStatus(ctx, err)
	}
	slices.SortStableFunc(out, func(a, b *raftmqpb.Message) int {
		return cmp.Compare(b.GetStoreTimestampMs(), a.GetStoreTimestampMs())
	})
	limit := int(req.GetLimit())
	if limit == 0 {
		limit = s.b.Config().DefaultFetchMessages
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return &raftmqpb.QueryByKeyResponse{Messages: out}, nil
}

// queryGroup runs a local_only QueryByKey on the nodes of group in turn.
func (s *Server) queryGroup(ctx context.Context, group string, req *raftmqpb.QueryByKeyRequest) (*raftmqpb.QueryByKeyResponse, error) {
	lreq := &raftmqpb.QueryByKeyRequest{Topic: req.GetTopic(), Key: req.GetKey(), BeginMs: req.GetBeginMs(),
		EndMs: req.GetEndMs(), Limit: req.GetLimit(), LocalOnly: true}
	err := status.Errorf(codes.Unavailable, "broker group %s has no node with a known address", group)
	for _, n := range s.b.GroupMembers(group) {
		if n.GRPCAddr == "" {
			continue
		}
		c, cerr := s.client(n.GRPCAddr)
		if cerr != nil {
			return nil, status.Error(codes.Unavailable, cerr.Error())
		}
		pctx, cancel := context.WithTimeout(ctx, s.opts.PeerTimeout)
		resp, qerr := c.QueryByKey(pctx, lreq)
		cancel()
		if qerr == nil {
			return resp, nil
		}
		if err = qerr; !retryOnPeer(qerr) {
			return nil, qerr
		}
	}
	return nil, err
}

// retryOnPeer reports whether a peer's error is about that node rather
// than the request, so another node of its group may answer.
func retryOnPeer(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return true
	}
	return false
}
