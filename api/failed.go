package api

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/raftmq/raftmq/api/raftmqpb"
)

// A node whose store or Raft log failed for good (broker.Broker.Failed)
// has shut Raft down and serves nothing until it is restarted. Its gRPC
// server stays up, so that cluster status can show why, but every other
// call of the Broker service is refused with UNAVAILABLE and the
// not-applied trailer: a client moves to another node at once and knows
// nothing was stored. Without this a failed node answered route and
// leader lookups with its last view (a group without a leader), which a
// client that had last talked to it kept asking, with backoff, for
// seconds. The health service turns NOT_SERVING at the first call after
// the failure.

// brokerMethodPrefix is the full method name prefix of the Broker service.
var brokerMethodPrefix = "/" + raftmqpb.Broker_ServiceDesc.ServiceName + "/"

// refuses reports whether a failed node refuses method.
func refuses(method string) bool {
	return strings.HasPrefix(method, brokerMethodPrefix) && method != raftmqpb.Broker_ClusterStatus_FullMethodName
}

// failedErr returns the error a failed node answers with, or nil while the
// node works; the first call after the failure turns the health service
// NOT_SERVING.
func (s *Server) failedErr() error {
	err := s.b.Failed()
	if err == nil {
		return nil
	}
	s.failOnce.Do(func() {
		s.log.Error("node failed: refusing every call but ClusterStatus until restarted", "err", err)
		s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
		s.health.SetServingStatus(raftmqpb.Broker_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	})
	return status.Errorf(codes.Unavailable, "node %s failed and serves nothing until it is restarted (ask another node): %v", s.b.NodeID(), err)
}

func (s *Server) refuseUnaryWhenFailed(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := s.failedErr(); err != nil && refuses(info.FullMethod) {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(OutcomeTrailer, OutcomeNotApplied))
		return nil, err
	}
	return handler(ctx, req)
}

func (s *Server) refuseStreamWhenFailed(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := s.failedErr(); err != nil && refuses(info.FullMethod) {
		ss.SetTrailer(metadata.Pairs(OutcomeTrailer, OutcomeNotApplied))
		return err
	}
	return handler(srv, ss)
}
