package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/raftmq/raftmq/store"
)

// watchApply is the leader's apply watchdog, run by its own goroutine
// until b.stop. While this node leads, an FSM that has been inside one
// apply of committed entries for ApplyStallTimeout is stuck, most likely
// on a stalled disk under the store. Raft's heartbeats go on, so no
// election would ever depose such a leader, and every produce would wait
// for the disk. The watchdog hands the leadership to another voter
// instead (what an operator would do with mqctl cluster transfer-leader),
// and tries again at most once per ApplyStallTimeout while it stays stuck
// (the transfer may fail: no other voter, none reachable). It picks the
// working follower of its term that applied the most and whose disk has
// room, asking the voters for their status within half the timeout; when
// none answers so, it leaves the choice to Raft (the most up-to-date
// voter), as before.
//
// It asks how long the current apply has run (Status.ApplyingFor), not
// whether the commit index is ahead of the applied index: a new leader's
// first entry is a no-op the FSM is never given, so on an idle group the
// commit index stays one past the applied index with nothing stuck, and
// the older rule handed the leadership round every few seconds.
func (b *Broker) watchApply() {
	limit := b.cfg.ApplyStallTimeout
	tick := time.NewTicker(limit / 4)
	defer tick.Stop()
	var tried time.Time // the last hand-over attempt
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
		if !b.rep.IsLeader() {
			continue
		}
		st := b.rep.Status()
		if st.ApplyingFor < limit || time.Since(tried) < limit {
			continue // not stuck, or a hand-over was tried a moment ago
		}
		tried = time.Now()
		target, why, _ := b.roomyVoter(st.Term, "", limit/2, mostApplied)
		b.log.Warn("the FSM has been stuck in one apply; handing leadership to another voter",
			"applied_index", st.AppliedIndex, "commit_index", st.CommitIndex, "stuck_for", st.ApplyingFor.Round(time.Millisecond),
			"target", target)
		if target == "" {
			b.log.Warn("no voter answered as a working follower with room; Raft picks the target", "why", why)
		}
		if err := b.rep.TransferLeadership(target); err != nil {
			b.log.Warn("leadership transfer after a stuck apply failed", "target", target, "err", err)
		}
	}
}

// watchDisk is the disk watchdog, run by its own goroutine until b.stop.
// Every DiskFullCheck it checks this node's store disk (so that its
// status, which the leader asks below, is fresh on every node). A leader
// whose disk is used above the hard limit refuses every produce with
// ErrDiskFull, although another voter of its group may well have room: the
// nodes' disks fill together only when they are the same size and hold
// nothing else. Such a leader asks the other voters for their status and
// hands the leadership to the one that answers as a working follower of
// its term with room, the least used first (then the one that applied the
// most). With none it stays leader (and keeps refusing: retention or an
// operator must free space) and asks again at the next check; a target
// whose transfer failed is passed over once.
func (b *Broker) watchDisk() {
	tick := time.NewTicker(b.cfg.DiskFullCheck)
	defer tick.Stop()
	var (
		said   string // the last reason logged for staying, so it is logged once
		failed string // the target whose transfer failed last, passed over once
	)
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
		if err := b.rep.CheckDisk(); err != nil && !errors.Is(err, store.ErrDiskFull) {
			b.log.Debug("disk check", "err", err)
		}
		if !b.rep.IsLeader() {
			said, failed = "", ""
			continue
		}
		st := b.rep.Status()
		if !st.DiskFull {
			said, failed = "", ""
			continue
		}
		target, why, _ := b.roomyVoter(st.Term, failed, b.cfg.DiskFullCheck, leastUsed)
		failed = ""
		if target == "" {
			if why != said {
				b.log.Warn("this leader's disk is above its hard limit and no other voter can lead; produces are refused until space is freed", "why", why)
			}
			said = why
			continue
		}
		said = ""
		b.log.Warn("this leader's disk is above its hard limit; handing leadership to a voter with room", "target", target)
		if err := b.rep.TransferLeadership(target); err != nil {
			b.log.Warn("leadership transfer off a full disk failed", "target", target, "err", err)
			failed = target
		}
	}
}

// handOffWait bounds HandOffLeadership's questions to the other voters.
const handOffWait = time.Second

// HandOffLeadership, on a leader some of whose voters answer (within a
// second) that their disk is full, hands the leadership to the voter
// that answers as a working follower of its term with room, the one that
// applied the most. The daemon calls it first on a graceful shutdown,
// while the peer connections are open: the Replicator's Close would
// otherwise hand the leadership to whichever follower Raft finds
// furthest ahead, which may be the full one; that one refuses every
// produce until its disk watchdog moves the leadership on, up to about a
// second later. When no voter's disk is full it does nothing, and Close
// leaves the choice to Raft as before: Raft's pick is as good then, and
// it knows which followers its own connections reach. It returns the
// voter it handed to, "" when it did not (this node does not lead, no
// voter is full, none has room, or the transfer failed).
func (b *Broker) HandOffLeadership() string {
	if b.closed.Load() || !b.rep.IsLeader() {
		return ""
	}
	st := b.rep.Status()
	target, why, sawFull := b.roomyVoter(st.Term, "", handOffWait, mostApplied)
	if !sawFull {
		return ""
	}
	if target == "" {
		b.log.Info("leadership hand-off before shutdown: a voter's disk is full and no other answered as a follower with room; Raft will pick", "why", why)
		return ""
	}
	if err := b.rep.TransferLeadership(target); err != nil {
		b.log.Warn("leadership hand-off before shutdown failed; Raft will pick", "target", target, "err", err)
		return ""
	}
	leader, _ := b.rep.Leader()
	b.log.Info("leadership handed off before shutdown: a voter's disk is full", "target", target, "leader", leader)
	return target
}

// leastUsed ranks hand-over targets off a full disk: the least used disk
// first (unknown usage last), then the most applied, then by id.
func leastUsed(x, y NodeStatus) bool {
	switch {
	case (x.DiskUsed > 0) != (y.DiskUsed > 0):
		return x.DiskUsed > 0
	case x.DiskUsed != y.DiskUsed:
		return x.DiskUsed < y.DiskUsed
	case x.AppliedIndex != y.AppliedIndex:
		return x.AppliedIndex > y.AppliedIndex
	}
	return x.NodeID < y.NodeID
}

// mostApplied ranks hand-over targets off a stuck apply: the most applied
// first (the least to catch up on), then by id.
func mostApplied(x, y NodeStatus) bool {
	if x.AppliedIndex != y.AppliedIndex {
		return x.AppliedIndex > y.AppliedIndex
	}
	return x.NodeID < y.NodeID
}

// roomyVoter picks the voter other than this node that answers, within
// timeout, as a working follower in term whose disk has room, the best by
// better (whether x beats y). skip is passed over. With none it returns
// "" and why, per voter. sawFull says whether any voter answered that its
// disk is full.
func (b *Broker) roomyVoter(term uint64, skip string, timeout time.Duration, better func(x, y NodeStatus) bool) (target, why string, sawFull bool) {
	p := b.peersOf()
	if p == nil {
		return "", "no transport to the other nodes", false
	}
	servers, err := b.rep.Servers()
	if err != nil {
		return "", "raft configuration unavailable: " + err.Error(), false
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var (
		mu      sync.Mutex
		best    NodeStatus
		reasons []string
		wg      sync.WaitGroup
	)
	for _, s := range servers {
		if s.ID == b.cfg.NodeID || s.NonVoter { // a non-voter cannot lead
			continue
		}
		wg.Go(func() {
			st, why := b.voterStatus(ctx, p, s.ID, term, skip)
			mu.Lock()
			defer mu.Unlock()
			if st.NodeID == s.ID && st.DiskFull {
				sawFull = true
			}
			if why != "" {
				reasons = append(reasons, s.ID+": "+why)
				return
			}
			if best.NodeID == "" || better(st, best) {
				best = st
			}
		})
	}
	wg.Wait()
	if best.NodeID != "" {
		return best.NodeID, "", sawFull
	}
	slices.Sort(reasons)
	if len(reasons) == 0 {
		return "", "no other voter", sawFull
	}
	return "", strings.Join(reasons, "; "), sawFull
}

// voterStatus asks voter id for its status; why says why it cannot take
// the leadership off a full disk ("" if it can).
func (b *Broker) voterStatus(ctx context.Context, p Peers, id string, term uint64, skip string) (NodeStatus, string) {
	if id == skip {
		return NodeStatus{}, "the last transfer to it failed"
	}
	addr := b.dir.GRPCAddr(id)
	if addr == "" {
		return NodeStatus{}, "gRPC address unknown"
	}
	st, err := p.NodeStatus(ctx, addr)
	switch {
	case err != nil:
		return st, "unreachable: " + err.Error()
	case st.NodeID != id:
		return st, fmt.Sprintf("%s answers as %q", addr, st.NodeID)
	case st.Error != "":
		return st, "failed: " + st.Error
	case st.Role != "follower" || st.Term != term:
		return st, fmt.Sprintf("%s in term %d", st.Role, st.Term)
	case st.DiskFull:
		return st, fmt.Sprintf("disk full too (%.0f%% used)", 100*st.DiskUsed)
	}
	return st, ""
}
