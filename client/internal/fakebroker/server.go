package fakebroker

import (
	"context"
	"net"
	"path"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/internal/prodstream"
)

// LeaderTrailer is the trailer naming the leader in a FAILED_PRECONDITION
// answer.
const LeaderTrailer = "raftmq-leader"

// writes are the methods a follower refuses.
var writes = map[string]bool{
	"Produce": true, "CreateTopic": true, "DeleteTopic": true, "Heartbeat": true,
	"LeaveGroup": true, "CommitOffsets": true, "TransferLeadership": true,
}

// Fault is an error a Server returns instead of its answer.
type Fault struct {
	Code codes.Code
	Msg  string
	// After runs the call first (it takes effect) and fails only the answer.
	After bool
	// NotApplied sends the trailer a broker sends with a produce it
	// refused before Raft (raftmq-outcome: not-applied).
	NotApplied bool
}

// Server is one fake node serving a Broker on 127.0.0.1.
type Server struct {
	b     *Broker
	group string
	gs    *grpc.Server
	addr  string
	done  chan struct{} // closed when Serve returned

	mu sync.Mutex // guards leader, faults, gates and calls
	// leader, when set, makes this node a follower: writes fail with
	// FAILED_PRECONDITION and leader in the trailer ("-" sends no trailer).
	leader string
	faults map[string][]Fault
	// gates holds calls of a method until the channel is closed.
	gates map[string]chan struct{}
	calls map[string]int
	// noStream makes ProduceStream UNIMPLEMENTED, as on an older broker.
	noStream bool
}

// Serve starts a node of broker group group serving b on 127.0.0.1:0.
func Serve(b *Broker, group string) (*Server, error) {
	return ServeAt(b, group, "127.0.0.1:0")
}

// ServeAt is Serve on the address addr (to restart a stopped node where
// clients know it).
func ServeAt(b *Broker, group, addr string) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		b: b, group: group, addr: lis.Addr().String(), done: make(chan struct{}),
		faults: make(map[string][]Fault), gates: make(map[string]chan struct{}), calls: make(map[string]int),
	}
	s.gs = grpc.NewServer(grpc.UnaryInterceptor(s.intercept), grpc.StreamInterceptor(s.interceptStream))
	pb.RegisterBrokerServer(s.gs, b)
	go func() {
		defer close(s.done)
		_ = s.gs.Serve(lis)
	}()
	return s, nil
}

// Addr returns the node's host:port.
func (s *Server) Addr() string { return s.addr }

// Stop stops the node at once and waits for its goroutines.
func (s *Server) Stop() {
	s.gs.Stop()
	<-s.done
}

// SetFollower makes the node refuse writes, naming leader in the trailer
// ("" makes it a leader again, "-" refuses without a trailer).
func (s *Server) SetFollower(leader string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leader = leader
}

// Inject queues faults for the next calls of method (one call each).
func (s *Server) Inject(method string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], faults...)
}

// Block makes calls of method wait (after being counted) until release is
// called or the call's context ends.
func (s *Server) Block(method string) (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.gates[method] = gate
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.gates[method] == gate {
				delete(s.gates, method)
			}
			s.mu.Unlock()
			close(gate)
		})
	}
}

// Calls returns how many calls of method the node received.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// SetProduceStream(false) makes the node answer ProduceStream with
// UNIMPLEMENTED, like a broker that predates it; true serves it again.
func (s *Server) SetProduceStream(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noStream = !on
}

// interceptStream serves ProduceStream: every request goes through
// intercept as a Produce call, so faults, gates, follower mode and call
// counts apply to streamed requests alike. Calls("ProduceStream") counts
// the streams opened.
func (s *Server) interceptStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if info.FullMethod != pb.Broker_ProduceStream_FullMethodName {
		return handler(srv, ss)
	}
	s.mu.Lock()
	s.calls["ProduceStream"]++
	off := s.noStream
	s.mu.Unlock()
	if off {
		return status.Error(codes.Unimplemented, "unknown method ProduceStream for service raftmq.v1.Broker")
	}
	unary := &grpc.UnaryServerInfo{Server: srv, FullMethod: pb.Broker_Produce_FullMethodName}
	stream := &grpc.GenericServerStream[pb.ProduceStreamRequest, pb.ProduceStreamResponse]{ServerStream: ss}
	return prodstream.Serve(stream, pb.Broker_Produce_FullMethodName, func(ctx context.Context, req *pb.ProduceRequest) (*pb.ProduceResponse, error) {
		resp, err := s.intercept(ctx, req, unary, func(ctx context.Context, req any) (any, error) {
			return s.b.Produce(ctx, req.(*pb.ProduceRequest))
		})
		if err != nil {
			return nil, err
		}
		return resp.(*pb.ProduceResponse), nil
	}, nil)
}

func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := path.Base(info.FullMethod)
	s.mu.Lock()
	s.calls[method]++
	leader := s.leader
	gate := s.gates[method]
	var f *Fault
	if q := s.faults[method]; len(q) > 0 {
		f = &q[0]
		s.faults[method] = q[1:]
	}
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if f != nil && !f.After {
		if f.NotApplied {
			_ = grpc.SetTrailer(ctx, metadata.Pairs("raftmq-outcome", "not-applied"))
		}
		return nil, status.Error(f.Code, f.Msg)
	}
	if leader != "" && writes[method] {
		if leader != "-" {
			_ = grpc.SetTrailer(ctx, metadata.Pairs(LeaderTrailer, leader))
		}
		return nil, status.Errorf(codes.FailedPrecondition, "node %s is not the leader", s.addr)
	}
	resp, err := handler(context.WithValue(context.WithValue(ctx, nodeGroupKey{}, s.group), nodeAddrKey{}, s.addr), req)
	if f != nil && err == nil {
		return nil, status.Error(f.Code, f.Msg)
	}
	return resp, err
}
