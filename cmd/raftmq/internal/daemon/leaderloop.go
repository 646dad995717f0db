package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/raftmq/raftmq/membership"
	"github.com/raftmq/raftmq/raftfsm"
)

// loop runs until ctx ends. On every membership event, and every
// reconcileEvery, it gossips HasRaftState once Raft has state, and, while
// this node leads its group, reconciles the Raft configuration with the
// gossip view: alive members of the group are added as voters; servers
// missing from gossip are logged, and removed only when
// --dead-node-timeout is set and they have been missing that long.
func (g *gossip) loop(ctx context.Context, node *raftfsm.Node) {
	events, cancel := g.m.Subscribe()
	defer cancel()
	tick := time.NewTicker(reconcileEvery)
	defer tick.Stop()
	rec := membership.NewReconciler(g.cfg.Group, nil)
	warned := map[string]string{} // server or member id -> last warning, to log changes only
	for {
		g.announceState(node)
		if node.IsLeader() {
			g.reconcile(rec, node, warned)
		}
		select {
		case <-ctx.Done():
			return
		case _, ok := <-events:
			if !ok {
				events = nil // membership closed; keep ticking until stopped
			}
		case <-tick.C:
		}
	}
}

// announceState flips the gossiped HasRaftState once this node's Raft has
// log entries (it bootstrapped, or the leader added it and replicated to
// it), so that nodes starting later do not try to found the group.
func (g *gossip) announceState(node *raftfsm.Node) {
	if g.hasState.Load() {
		return
	}
	st := node.Status()
	if st.LastLog == 0 && st.AppliedIndex == 0 {
		return
	}
	g.hasState.Store(true)
	if err := g.m.UpdateMeta(); err != nil {
		g.log.Warn("gossiping Raft state", "err", err)
		return
	}
	g.log.Info("gossiping that this node has Raft state")
}

// reconcile makes one pass of the leader loop.
func (g *gossip) reconcile(rec *membership.Reconciler, node *raftfsm.Node, warned map[string]string) {
	peers, err := node.Servers()
	if err != nil {
		g.log.Warn("reading the Raft configuration", "err", err)
		return
	}
	servers := make([]membership.Server, len(peers))
	for i, p := range peers {
		servers[i] = membership.Server{ID: p.ID, Address: p.RaftAddr}
	}
	plan := rec.Plan(g.m.Members(), servers)
	for _, s := range plan.Add {
		g.log.Info("adding voter", "id", s.ID, "raft", s.Address)
		if err := node.AddVoter(raftfsm.Peer{ID: s.ID, RaftAddr: s.Address}); err != nil {
			g.log.Warn("add voter failed; will retry", "id", s.ID, "err", err)
		}
	}
	for _, c := range plan.Conflicts {
		msg := fmt.Sprintf("conflict %s", c.RaftAddr)
		if warned[c.ID] != msg {
			warned[c.ID] = msg
			g.log.Warn("member not added: its Raft address belongs to another server id; remove the old id (mqctl cluster remove-node)",
				"id", c.ID, "raft", c.RaftAddr)
		}
	}
	for _, ms := range plan.Missing {
		if ms.ID == g.cfg.NodeID {
			continue
		}
		msg := fmt.Sprintf("missing %s", ms.State)
		if warned[ms.ID] != msg {
			warned[ms.ID] = msg
			g.log.Warn("Raft server not alive in gossip", "id", ms.ID, "raft", ms.Address, "state", ms.State,
				"known", ms.Known, "auto_remove_after", g.cfg.DeadNodeTimeout)
		}
		g.maybeRemove(rec, node, ms)
	}
	forgetResolved(warned, plan)
}

// forgetResolved drops the warnings of servers and members that are no
// longer missing or conflicting, so a relapse is logged again.
func forgetResolved(warned map[string]string, plan membership.Plan) {
	current := map[string]bool{}
	for _, ms := range plan.Missing {
		current[ms.ID] = true
	}
	for _, c := range plan.Conflicts {
		current[c.ID] = true
	}
	for id := range warned {
		if !current[id] {
			delete(warned, id)
		}
	}
}

// maybeRemove removes a missing server once --dead-node-timeout has passed.
func (g *gossip) maybeRemove(rec *membership.Reconciler, node *raftfsm.Node, ms membership.Missing) {
	if g.cfg.DeadNodeTimeout <= 0 {
		return
	}
	dead := rec.DeadFor(ms.ID)
	if dead < g.cfg.DeadNodeTimeout {
		return
	}
	g.log.Error("REMOVING Raft server: gone from gossip longer than --dead-node-timeout", "id", ms.ID,
		"raft", ms.Address, "state", ms.State, "missing_for", dead.Round(time.Second), "dead_node_timeout", g.cfg.DeadNodeTimeout)
	if err := node.RemoveServer(ms.ID); err != nil {
		g.log.Error("removing Raft server failed; will retry", "id", ms.ID, "err", err)
	}
}
