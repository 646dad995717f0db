package api

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/internal/grpcbuf"
	"github.com/raftmq/raftmq/internal/prodstream"
)

// Options configures a Server.
type Options struct {
	// DialOptions are used for the connections this node opens to other
	// nodes (forwarding to the leader, cluster status). Nil means plain
	// TCP without TLS.
	DialOptions []grpc.DialOption
	// PeerTimeout bounds one ClusterStatus call to a peer; 0 means 2s.
	PeerTimeout time.Duration
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
}

// Server adapts a broker.Broker to the raftmq.v1.Broker gRPC service. It
// forwards writes that reach a follower to the leader (one hop) and maps
// errors to gRPC codes (errors.go).
type Server struct {
	raftmqpb.UnimplementedBrokerServer

	b      *broker.Broker
	opts   Options
	log    *slog.Logger
	health *health.Server
	maxMsg int

	failOnce sync.Once // the health service turns NOT_SERVING once the node failed

	mu     sync.Mutex // guards conns and closed
	conns  map[string]*grpc.ClientConn
	closed bool
	// stopStreams is closed by Close: ProduceStreams stop reading.
	stopStreams chan struct{}
}

var _ raftmqpb.BrokerServer = (*Server)(nil)

// New returns the gRPC service over b and installs it as b's transport to
// the other broker groups (broker.Peers). Register it on a grpc.Server
// built with ServerOptions.
func New(b *broker.Broker, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PeerTimeout <= 0 {
		opts.PeerTimeout = 2 * time.Second
	}
	if opts.DialOptions == nil {
		opts.DialOptions = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	s := &Server{
		b:           b,
		opts:        opts,
		log:         opts.Logger.With("node", b.NodeID()),
		health:      health.NewServer(),
		maxMsg:      MaxMessageBytes(b.Config()),
		conns:       make(map[string]*grpc.ClientConn),
		stopStreams: make(chan struct{}),
	}
	b.SetPeers(peers{s})
	return s
}

// NewServer builds a grpc.Server sized for the broker's limits with the
// Broker, health and reflection services registered. Serve it, and on
// shutdown call Server.Close, then GracefulStop.
func NewServer(b *broker.Broker, opts Options, extra ...grpc.ServerOption) (*grpc.Server, *Server) {
	s := New(b, opts)
	o := append(ServerOptions(b.Config()), grpc.ChainUnaryInterceptor(s.refuseUnaryWhenFailed), grpc.ChainStreamInterceptor(s.refuseStreamWhenFailed))
	gs := grpc.NewServer(append(o, extra...)...)
	s.Register(gs)
	return gs, s
}

// MaxMessageBytes is the largest gRPC message the service needs to
// receive or send: the largest Produce request the broker accepts plus
// per-message framing, and the largest Fetch response.
func MaxMessageBytes(cfg broker.Config) int {
	framing := cfg.MaxBatchMessages*64 + 1<<20
	return max(cfg.MaxRequestBytes(), cfg.DefaultFetchBytes+cfg.MessageLimits.MaxMessageSize+cfg.MessageLimits.MaxPropertiesSize) + framing
}

// StreamWindow and ConnWindow are the fixed HTTP/2 flow-control windows
// of the broker's connections (see prodstream.StreamWindow).
const (
	StreamWindow = prodstream.StreamWindow
	ConnWindow   = prodstream.ConnWindow
)

// ServerOptions returns the grpc.Server options the service needs: its
// receive and send limits.
func ServerOptions(cfg broker.Config) []grpc.ServerOption {
	n := MaxMessageBytes(cfg)
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(n), grpc.MaxSendMsgSize(n),
		grpc.InitialWindowSize(StreamWindow), grpc.InitialConnWindowSize(ConnWindow),
		experimental.BufferPool(grpcbuf.Pool)}
}

// Register registers the Broker service, the gRPC health service (serving
// status for "" and "raftmq.v1.Broker") and server reflection on gs.
func (s *Server) Register(gs *grpc.Server) {
	raftmqpb.RegisterBrokerServer(gs, s)
	healthpb.RegisterHealthServer(gs, s.health)
	reflection.Register(gs)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(raftmqpb.Broker_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
}

// Close reports NOT_SERVING on the health service, ends every
// ProduceStream once the requests it read are answered (the client sends
// the rest elsewhere), and closes the connections to other nodes. It does
// not close the broker.
func (s *Server) Close() error {
	s.health.Shutdown()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		close(s.stopStreams)
	}
	s.closed = true
	var errs []error
	for addr, c := range s.conns {
		errs = append(errs, c.Close())
		delete(s.conns, addr)
	}
	return errors.Join(errs...)
}

// client returns a Broker client for a peer's address, reusing one
// connection per address.
func (s *Server) client(addr string) (raftmqpb.BrokerClient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, broker.ErrClosed
	}
	c := s.conns[addr]
	if c == nil {
		opts := append([]grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(s.maxMsg), grpc.MaxCallSendMsgSize(s.maxMsg)),
			grpc.WithInitialWindowSize(StreamWindow), grpc.WithInitialConnWindowSize(ConnWindow),
			experimental.WithBufferPool(grpcbuf.Pool)}, s.opts.DialOptions...)
		var err error
		if c, err = grpc.NewClient(addr, opts...); err != nil {
			return nil, err
		}
		s.conns[addr] = c
	}
	return raftmqpb.NewBrokerClient(c), nil
}
