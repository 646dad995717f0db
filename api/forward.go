package api

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
)

// ForwardedHeader is the request metadata key a node sets (to its node
// id) when it forwards a call to its leader. A node that receives a
// forwarded call and is not the leader either refuses it with
// FAILED_PRECONDITION and the LeaderTrailer instead of forwarding again:
// forwarding is one hop at most, so a stale view cannot loop.
const ForwardedHeader = "raftmq-forwarded"

// isForwarded reports whether the incoming call was forwarded by a node.
func isForwarded(ctx context.Context) bool {
	md, ok := metadata.FromIncomingContext(ctx)
	return ok && len(md.Get(ForwardedHeader)) > 0
}

// forward handles a broker error of a write: a *broker.NotLeaderError is
// answered by calling the leader (same request, same context, so the
// deadline and cancellation carry over) and relaying its answer, trailer
// included; every other error, a call that was already forwarded, or a
// leader address that is our own becomes a status error here.
func forward[Req, Resp any](ctx context.Context, s *Server, err error, req Req,
	call func(raftmqpb.BrokerClient, context.Context, Req, ...grpc.CallOption) (Resp, error)) (Resp, error) {
	var zero Resp
	var nl *broker.NotLeaderError
	if !errors.As(err, &nl) || isForwarded(ctx) || nl.LeaderAddr == s.b.Config().GRPCAddr {
		return zero, s.toStatus(ctx, err)
	}
	c, cerr := s.client(nl.LeaderAddr)
	if cerr != nil {
		s.log.Warn("cannot reach leader to forward", "leader", nl.LeaderAddr, "err", cerr)
		return zero, s.toStatus(ctx, err)
	}
	var trailer metadata.MD
	octx := metadata.AppendToOutgoingContext(ctx, ForwardedHeader, s.b.NodeID())
	resp, ferr := call(c, octx, req, grpc.Trailer(&trailer))
	if ferr != nil {
		var md metadata.MD
		for _, k := range []string{LeaderTrailer, OutcomeTrailer} {
			if v := trailer.Get(k); len(v) > 0 {
				md = metadata.Join(md, metadata.Pairs(k, v[0]))
			}
		}
		if md != nil {
			if terr := grpc.SetTrailer(ctx, md); terr != nil {
				s.log.Debug("cannot relay trailer", "err", terr)
			}
		}
		return zero, ferr
	}
	return resp, nil
}
