package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/raftmq/raftmq/api"
	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

// Exit statuses of Run.
const (
	ExitOK    = 0
	ExitError = 1 // the daemon failed to start or stopped with an error
	ExitUsage = 2 // bad flags or configuration
)

// Run runs the daemon with args (without the program name) until ctx ends
// or SIGINT/SIGTERM arrives, then shuts down gracefully. It returns the
// process exit status.
func Run(ctx context.Context, version string, args []string, stdout, stderr io.Writer) int {
	cfg, showVersion, err := parseConfig(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case err != nil:
		fmt.Fprintf(stderr, "raftmq: %v\n", err)
		return ExitUsage
	case showVersion:
		fmt.Fprintf(stdout, "raftmq %s\n", version)
		return ExitOK
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, version, log); err != nil {
		log.Error("raftmq stopped", "err", err)
		return ExitError
	}
	return ExitOK
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	lvl, _ := cfg.level() // validated
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve starts the node and serves until ctx ends, then shuts down.
func serve(ctx context.Context, cfg Config, version string, log *slog.Logger) error {
	peers, _ := cfg.peers() // validated
	node, err := raftfsm.Open(raftConfig(cfg, peers, log))
	if err != nil {
		return fmt.Errorf("open raft node: %w", err)
	}
	b, err := broker.New(brokerConfig(cfg, peers, log), node)
	if err != nil {
		return errors.Join(fmt.Errorf("start broker: %w", err), node.Close())
	}
	lis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return errors.Join(fmt.Errorf("listen for gRPC: %w", err), b.Close())
	}
	gs, srv := api.NewServer(b, api.Options{Logger: log})
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	log.Info("raftmq started", "version", version, "node", cfg.NodeID, "group", cfg.Group,
		"grpc", lis.Addr().String(), "raft", node.RaftAddr(), "data_dir", cfg.DataDir,
		"bootstrap", cfg.bootstrap(), "peers", len(peers), "auto_create_topics", cfg.AutoCreateTopics)

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "cause", context.Cause(ctx))
	case serveErr = <-served:
		log.Error("gRPC server stopped", "err", serveErr)
	}
	return errors.Join(serveErr, shutdown(cfg, gs, srv, b, log))
}

// shutdown stops in this order: health NOT_SERVING and peer connections
// closed; the broker (long polls return, the Raft node hands leadership
// to another voter and closes); then gRPC drains in-flight calls for up
// to ShutdownTimeout before it is stopped hard.
func shutdown(cfg Config, gs *grpc.Server, srv *api.Server, b *broker.Broker, log *slog.Logger) error {
	errSrv := srv.Close()
	errBroker := b.Close()
	drained := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(drained)
	}()
	timer := time.NewTimer(cfg.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-drained:
	case <-timer.C:
		log.Warn("gRPC drain timed out; stopping", "timeout", cfg.ShutdownTimeout)
		gs.Stop()
		<-drained
	}
	log.Info("raftmq stopped")
	return errors.Join(errSrv, errBroker)
}

// raftConfig maps the daemon configuration onto the Raft node's.
func raftConfig(cfg Config, peers []peer, log *slog.Logger) raftfsm.Config {
	rc := raftfsm.DefaultConfig()
	rc.NodeID, rc.Dir = cfg.NodeID, cfg.DataDir
	rc.RaftBind, rc.RaftAdvertise = cfg.RaftAddr, cfg.RaftAdvertise
	rc.Bootstrap = cfg.bootstrap()
	for _, p := range peers {
		rc.Peers = append(rc.Peers, raftfsm.Peer{ID: p.ID, RaftAddr: p.RaftAddr})
	}
	rc.Store.FlushMode, _ = store.ParseFlushMode(cfg.Flush) // validated
	rc.Store.RetentionTime = cfg.Retention
	rc.Logger = log
	return rc
}

// brokerConfig maps the daemon configuration onto the broker's.
func brokerConfig(cfg Config, peers []peer, log *slog.Logger) broker.Config {
	bc := broker.DefaultConfig()
	bc.GroupID, bc.NodeID, bc.GRPCAddr = cfg.Group, cfg.NodeID, cfg.grpcAdvertise()
	bc.Peers = map[string]string{cfg.NodeID: cfg.grpcAdvertise()}
	for _, p := range peers {
		bc.Peers[p.ID] = p.GRPCAddr
	}
	bc.AutoCreateTopics = cfg.AutoCreateTopics
	bc.MessageLimits = raftfsm.DefaultConfig().Store
	bc.Logger = log
	return bc
}
