package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftmq/raftmq/membership"
	"github.com/raftmq/raftmq/raftfsm"
)

// Gossip timings, variables so that tests can tighten them.
var (
	// membershipDefaults returns the membership configuration the daemon
	// starts from (tests use membership.TestConfig).
	membershipDefaults = membership.DefaultConfig
	// reconcileEvery is how often the leader loop runs without events.
	reconcileEvery = 2 * time.Second
	// bootstrapPoll is how often a founding node re-reads the gossip view.
	bootstrapPoll = 200 * time.Millisecond
	// bootstrapLogEvery spaces the "waiting for founders" progress logs.
	bootstrapLogEvery = 5 * time.Second
	// leaveTimeout bounds the gossip leave on shutdown.
	leaveTimeout = 3 * time.Second
)

// gossip is the daemon's side of membership: it starts it, decides how
// Raft is opened (bootstrap-expect), and runs the leader loop that adds
// the group's new members as voters.
type gossip struct {
	cfg Config
	log *slog.Logger
	m   *membership.Membership
	// hasState is the HasRaftState answer gossiped in this node's
	// metadata; it turns true once, after Raft has state.
	hasState atomic.Bool

	cancel context.CancelFunc // stops the leader loop
	wg     sync.WaitGroup     // the leader loop
}

// startGossip starts membership for a node whose Raft advertise address is
// raftAdv (resolved) and which has Raft state or not.
func startGossip(ctx context.Context, cfg Config, version, raftAdv string, hasState bool, log *slog.Logger) (*gossip, error) {
	g := &gossip{cfg: cfg, log: log.With("component", "gossip")}
	g.hasState.Store(hasState)
	mc := membershipDefaults()
	mc.NodeID, mc.Group, mc.Version = cfg.NodeID, cfg.Group, version
	mc.GRPCAddr, mc.RaftAddr = cfg.grpcAdvertise(), raftAdv
	mc.BindAddr, mc.Join = cfg.gossipBind(), cfg.Join
	mc.SecretKey, _ = cfg.gossipKey() // validated
	mc.HasRaftState = g.hasState.Load
	mc.Logger = log.With("component", "membership")
	if cfg.GossipAdvertise != "" {
		adv, err := resolveHostPort(ctx, cfg.GossipAdvertise, log)
		if err != nil {
			return nil, fmt.Errorf("gossip advertise address: %w", err)
		}
		mc.AdvertiseAddr = adv
	}
	m, err := membership.New(mc)
	if err != nil {
		return nil, fmt.Errorf("start membership: %w", err)
	}
	g.m = m
	g.log.Info("membership started", "gossip", m.Local().GossipAddr, "join", cfg.Join,
		"has_raft_state", hasState, "bootstrap_expect", cfg.BootstrapExpect, "encrypted", len(mc.SecretKey) > 0)
	return g, nil
}

// awaitBootstrap decides how a node without Raft state opens Raft under
// --bootstrap-expect N. It polls the gossip view until either this node
// is one of the N founders (it returns them: bootstrap with these voters),
// or the group exists already / other nodes found it (it returns nil:
// open without bootstrapping and wait for the leader to add this node).
// It returns ctx's error if ctx ends first.
func (g *gossip) awaitBootstrap(ctx context.Context) ([]raftfsm.Peer, error) {
	expect := g.cfg.BootstrapExpect
	tick := time.NewTicker(bootstrapPoll)
	defer tick.Stop()
	var lastLog time.Time
	for {
		members := g.m.Members()
		voters, ok := membership.BootstrapPeers(members, g.cfg.Group, expect, g.cfg.NodeID)
		switch {
		case ok:
			peers := make([]raftfsm.Peer, len(voters))
			for i, v := range voters {
				peers[i] = raftfsm.Peer{ID: v.ID, RaftAddr: v.RaftAddr}
			}
			g.log.Info("bootstrapping the group", "expect", expect, "voters", peers)
			return peers, nil
		case voters != nil:
			g.log.Info("not among the founding voters; waiting to be added by the leader", "founders", memberIDs(voters))
			return nil, nil
		case groupHasState(members, g.cfg.Group):
			g.log.Info("the group exists; waiting to be added by the leader")
			return nil, nil
		}
		if time.Since(lastLog) >= bootstrapLogEvery {
			lastLog = time.Now()
			alive := g.m.Alive(g.cfg.Group)
			g.log.Info("waiting for the group's founding nodes", "expect", expect, "alive", len(alive), "members", memberIDs(alive))
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-tick.C:
		}
	}
}

func groupHasState(members []membership.Member, group string) bool {
	for _, m := range members {
		if m.Group == group && m.HasRaftState {
			return true
		}
	}
	return false
}

func memberIDs(ms []membership.Member) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

// directory returns the broker's Directory: gossip, then the static peers.
func (g *gossip) directory(peers []peer) *gossipDirectory {
	static := make(map[string]string, len(peers))
	for _, p := range peers {
		static[p.ID] = p.GRPCAddr
	}
	return newGossipDirectory(g.m, g.cfg.Group, static)
}

// start runs the leader loop over node until stop.
func (g *gossip) start(node *raftfsm.Node) {
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	g.wg.Go(func() { g.loop(ctx, node) })
}

// stopLoop ends the leader loop if it was started; nil-safe.
func (g *gossip) stopLoop() {
	if g == nil || g.cancel == nil {
		return
	}
	g.cancel()
	g.wg.Wait()
}

// close stops the leader loop, announces the leave and closes membership;
// nil-safe (no gossip).
func (g *gossip) close() error {
	if g == nil {
		return nil
	}
	g.stopLoop()
	var errLeave error
	if err := g.m.Leave(leaveTimeout); errors.Is(err, membership.ErrBroadcastTimeout) {
		g.log.Warn("gossip leave not confirmed", "err", err)
	} else {
		errLeave = err
	}
	return errors.Join(errLeave, g.m.Close())
}
