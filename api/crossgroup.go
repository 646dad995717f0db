package api

import (
	"cmp"
	"context"
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
		return askPeers(ctx, s, group, func(ctx context.Context, c raftmqpb.BrokerClient) (*raftmqpb.GetMessageResponse, error) {
			return c.GetMessage(ctx, req)
		})
	}
	m, err := s.b.GetMessage(req.GetMsgId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &raftmqpb.GetMessageResponse{Message: toPBMessage(&m, s.b.MessageID(m.CommitLogOffset))}, nil
}

// QueryByKey implements raftmqpb.BrokerServer. Any node serves it: unless
// local_only, every other broker group is searched too (acrossGroups) and
// the answers are merged, newest first, up to the limit.
func (s *Server) QueryByKey(ctx context.Context, req *raftmqpb.QueryByKeyRequest) (*raftmqpb.QueryByKeyResponse, error) {
	local := func() (*raftmqpb.QueryByKeyResponse, error) {
		ms, err := s.b.QueryByKey(req.GetTopic(), req.GetKey(), req.GetBeginMs(), req.GetEndMs(), int(req.GetLimit()))
		if err != nil {
			return nil, s.toStatus(ctx, err)
		}
		return &raftmqpb.QueryByKeyResponse{Messages: s.toPBMessages(ms)}, nil
	}
	lreq := &raftmqpb.QueryByKeyRequest{Topic: req.GetTopic(), Key: req.GetKey(), BeginMs: req.GetBeginMs(),
		EndMs: req.GetEndMs(), Limit: req.GetLimit(), LocalOnly: true}
	parts, err := acrossGroups(ctx, s, req.GetLocalOnly(), local,
		func(ctx context.Context, c raftmqpb.BrokerClient) (*raftmqpb.QueryByKeyResponse, error) {
			return c.QueryByKey(ctx, lreq)
		})
	if err != nil {
		return nil, err
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	var out []*raftmqpb.Message
	for _, p := range parts {
		out = append(out, p.GetMessages()...)
	}
	slices.SortStableFunc(out, func(a, b *raftmqpb.Message) int {
		return cmp.Compare(b.GetStoreTimestampMs(), a.GetStoreTimestampMs())
	})
	limit := int(req.GetLimit())
	if limit == 0 {
		limit = s.b.Config().DefaultFetchMessages
	}
	return &raftmqpb.QueryByKeyResponse{Messages: out[:min(len(out), limit)]}, nil
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
// other than UNAVAILABLE, DEADLINE_EXCEEDED or CANCELED (retryOnPeer).
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

// retryOnPeer reports whether a peer's error is about that node rather
// than the request, so another node of its group may answer.
func retryOnPeer(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return true
	}
	return false
}
