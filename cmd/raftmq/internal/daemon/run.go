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
	_, stopPprof, err := startPprof(cfg.PprofAddr, profileRates{block: cfg.PprofBlockRate, mutex: cfg.PprofMutexFraction}, log)
	if err != nil {
		log.Error("raftmq stopped", "err", err)
		return ExitError
	}
	defer stopPprof()
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
	rc := raftConfig(cfg, peers, log)
	hook := startDiskFaultHook(ctx, log)
	defer hook.stop()
	if hook != nil {
		rc.Store.FS = hook.fs
		rc.WrapLogStore = hook.wrapLogStore
	}
	g, err := prepareRaft(ctx, cfg, version, &rc, log)
	if err != nil {
		if ctx.Err() != nil {
			log.Info("raftmq stopped before Raft started", "cause", context.Cause(ctx))
			return nil
		}
		return err
	}
	node, err := raftfsm.Open(rc)
	if err != nil {
		return errors.Join(fmt.Errorf("open raft node: %w", err), g.close())
	}
	bc := brokerConfig(cfg, peers, log)
	if g != nil {
		bc.Directory = g.directory(peers)
	}
	b, err := broker.New(bc, node)
	if err != nil {
		return errors.Join(fmt.Errorf("start broker: %w", err), node.Close(), g.close())
	}
	lis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return errors.Join(fmt.Errorf("listen for gRPC: %w", err), b.Close(), g.close())
	}
	gs, srv := api.NewServer(b, api.Options{Logger: log})
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	if g != nil {
		g.start(node)
	}
	log.Info("raftmq started", "version", version, "node", cfg.NodeID, "group", cfg.Group,
		"grpc", lis.Addr().String(), "raft", node.RaftAddr(), "data_dir", cfg.DataDir,
		"bootstrap", rc.Bootstrap, "peers", len(rc.Peers), "gossip", cfg.gossip(), "auto_create_topics", cfg.AutoCreateTopics)

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "cause", context.Cause(ctx))
	case serveErr = <-served:
		log.Error("gRPC server stopped", "err", serveErr)
	}
	g.stopLoop()
	hook.stop() // a stalled disk would hang the shutdown
	errShutdown := shutdown(cfg, gs, srv, b, log)
	return errors.Join(serveErr, errShutdown, g.close())
}

// prepareRaft resolves the Raft advertise address (retrying while the
// name does not resolve yet) and, with gossip, starts membership and
// decides how Raft is opened: a node that has Raft state reopens it; a
// node without under --bootstrap-expect waits for the founders and
// bootstraps with them, or waits to be added by the leader. It returns
// the started gossip, nil without gossip.
func prepareRaft(ctx context.Context, cfg Config, version string, rc *raftfsm.Config, log *slog.Logger) (*gossip, error) {
	if rc.RaftAdvertise != "" || cfg.gossip() {
		adv, err := resolveHostPort(ctx, cfg.raftAdvertise(), log)
		if err != nil {
			return nil, fmt.Errorf("raft advertise address: %w", err)
		}
		rc.RaftAdvertise = adv
	}
	if !cfg.gossip() {
		return nil, nil
	}
	hasState, err := raftfsm.HasState(*rc)
	if err != nil {
		return nil, fmt.Errorf("read raft state: %w", err)
	}
	g, err := startGossip(ctx, cfg, version, rc.RaftAdvertise, hasState, log)
	if err != nil {
		return nil, err
	}
	if hasState || cfg.BootstrapExpect == 0 {
		return g, nil
	}
	founders, err := g.awaitBootstrap(ctx)
	if err != nil {
		return nil, errors.Join(err, g.close())
	}
	rc.Bootstrap, rc.Peers = len(founders) > 0, founders
	return g, nil
}

// shutdown stops in this order: a leader hands its leadership to a voter
// with room on its disk, asking the voters over the peer connections
// (broker.HandOffLeadership); health NOT_SERVING and peer connections
// closed; the broker (long polls return, the Raft node hands leadership
// to another voter if it still leads, and closes); then gRPC drains
// in-flight calls for up to ShutdownTimeout before it is stopped hard.
func shutdown(cfg Config, gs *grpc.Server, srv *api.Server, b *broker.Broker, log *slog.Logger) error {
	b.HandOffLeadership()
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
	rc.LogStore = cfg.RaftLogStore
	rc.SerialLeaderAppend = cfg.RaftLeaderAppend == "serial"
	rc.LeaderCopyBeforeApply = cfg.RaftLeaderAppend == "own"
	rc.Store.RetentionTime = cfg.Retention
	rc.ScrubInterval = cfg.ScrubInterval
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
