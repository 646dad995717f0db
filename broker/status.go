package broker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// NodeStatus is one node's view of itself and its group.
type NodeStatus struct {
	NodeID, Group, GRPCAddr, RaftAddr string
	// Role is leader, follower, candidate or unknown.
	Role                      string
	Term                      uint64
	AppliedIndex, CommitIndex uint64
	// CommitLogEnd is the end offset of this replica's CommitLog.
	CommitLogEnd int64
	// LeaderID and LeaderAddr name the group's leader as this node sees
	// it (LeaderAddr is its gRPC address); "" if unknown.
	LeaderID, LeaderAddr string
	// DiskFull is set while this node's store disk is used above its hard
	// limit: as leader it refuses produces (store.ErrDiskFull) and hands
	// the leadership to a voter with room (watchDisk). DiskUsed is the
	// fraction of that disk in use (0: unknown).
	DiskFull bool
	DiskUsed float64
	// Error says why this node stopped serving (its store or Raft log
	// failed: it shut Raft down and must be restarted); "" while it works.
	Error string
}

// NodeAddr names one node and its broker group.
type NodeAddr struct {
	ID, Group, GRPCAddr string
}

// Status returns this node's own status (the API layer asks the other
// nodes of the group for theirs).
func (b *Broker) Status() NodeStatus {
	st := b.rep.Status()
	role := strings.ToLower(st.Role)
	if role == "" {
		role = "unknown"
	}
	leaderAddr := ""
	if st.LeaderID != "" {
		leaderAddr = b.dir.GRPCAddr(st.LeaderID)
	}
	return NodeStatus{
		NodeID:       b.cfg.NodeID,
		Group:        b.cfg.GroupID,
		GRPCAddr:     b.cfg.GRPCAddr,
		RaftAddr:     st.RaftAddr,
		Role:         role,
		Term:         st.Term,
		AppliedIndex: st.AppliedIndex,
		CommitIndex:  st.CommitIndex,
		CommitLogEnd: st.CommitLogEnd,
		LeaderID:     st.LeaderID,
		LeaderAddr:   leaderAddr,
		DiskFull:     st.DiskFull,
		DiskUsed:     st.DiskUsed,
		Error:        st.Err,
	}
}

// GroupNodes returns the nodes of this group, sorted by id: the voters of
// the current Raft configuration plus the directory's members of the
// group, with their gRPC addresses ("" when unknown).
func (b *Broker) GroupNodes() []NodeAddr {
	ids := b.dir.Members(b.cfg.GroupID)
	if servers, err := b.rep.Servers(); err == nil {
		for _, s := range servers {
			ids = append(ids, s.ID)
		}
	} else {
		b.log.Debug("raft configuration unavailable", "err", err)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make([]NodeAddr, len(ids))
	for i, id := range ids {
		out[i] = NodeAddr{ID: id, Group: b.cfg.GroupID, GRPCAddr: b.dir.GRPCAddr(id)}
	}
	return out
}

// GroupMembers returns the nodes the directory knows in broker group g,
// sorted by id; for this node's own group, GroupNodes.
func (b *Broker) GroupMembers(g string) []NodeAddr {
	if g == b.cfg.GroupID {
		return b.GroupNodes()
	}
	ids := b.dir.Members(g)
	out := make([]NodeAddr, len(ids))
	for i, id := range ids {
		out[i] = NodeAddr{ID: id, Group: g, GRPCAddr: b.dir.GRPCAddr(id)}
	}
	return out
}

// ClusterNodes returns the nodes of every known broker group: this
// group's first, then the others by group name.
func (b *Broker) ClusterNodes() []NodeAddr {
	out := b.GroupNodes()
	for _, g := range b.dir.Groups() {
		if g != b.cfg.GroupID {
			out = append(out, b.GroupMembers(g)...)
		}
	}
	return out
}

// OtherGroups returns the known broker groups other than this node's,
// sorted, when they can be reached (an api server is installed).
func (b *Broker) OtherGroups() []string { return b.otherGroups() }

// leaderPoll is how often TransferLeadership checks for the new leader.
const leaderPoll = 10 * time.Millisecond

// TransferLeadership hands leadership to target ("" = the most
// up-to-date voter) and returns the new leader's id once one is known.
// Leader only.
func (b *Broker) TransferLeadership(ctx context.Context, target string) (string, error) {
	if err := b.checkLeader(); err != nil {
		return "", err
	}
	if target == b.cfg.NodeID {
		return target, nil
	}
	if err := b.rep.TransferLeadership(target); err != nil {
		return "", b.writeErr(err)
	}
	b.log.Info("leadership transferred", "target", target)
	// Raft settles the new leader asynchronously; wait until this node
	// learns who it is, bounded by ctx and ApplyTimeout.
	ctx, cancel := b.applyCtx(ctx)
	defer cancel()
	tick := time.NewTicker(leaderPoll)
	defer tick.Stop()
	for {
		if id, _ := b.rep.Leader(); id != "" && id != b.cfg.NodeID {
			return id, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return "", fmt.Errorf("broker: leadership transfer started, new leader unknown: %w", ctx.Err())
		}
	}
}
