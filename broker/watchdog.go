package broker

import (
	"context"
	"sync"
	"time"
)

// watchApply is the leader's apply watchdog, run by its own goroutine
// until b.stop. While this node leads, an FSM that has been inside one
// apply of committed entries for ApplyStallTimeout is stuck, most likely
// on a stalled disk under the store. Raft's heartbeats go on, so no
// election would ever depose such a leader, and every produce would wait
// for the disk. The watchdog hands the leadership to another voter
// instead (what an operator would do with mqctl cluster transfer-leader),
// and tries again at most once per ApplyStallTimeout while it stays stuck
// (the transfer may fail: no other voter, none reachable).
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
		b.log.Warn("the FSM has been stuck in one apply; handing leadership to another voter",
			"applied_index", st.AppliedIndex, "commit_index", st.CommitIndex, "stuck_for", st.ApplyingFor.Round(time.Millisecond))
		if err := b.rep.TransferLeadership(""); err != nil {
			b.log.Warn("leadership transfer after a stuck apply failed", "err", err)
		}
	}
}

// watchDisk is the leader's disk watchdog, run by its own goroutine until
// b.stop. A leader whose store disk is used above the hard limit refuses
// every produce with ErrDiskFull, although another voter of its group may
// well have room: the nodes' disks fill together only when they are the
// same size and hold nothing else. So every DiskFullCheck a leader whose
// disk is full asks the other voters for their status and hands the
// leadership to the one that has applied the most among those that answer
// as working followers with room. When none has room it stays leader (and
// keeps refusing: retention or an operator must free space) and asks
// again at the next check.
func (b *Broker) watchDisk() {
	tick := time.NewTicker(b.cfg.DiskFullCheck)
	defer tick.Stop()
	stuck := false // the last check found no voter with room (logged once)
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
		if !b.rep.IsLeader() || !b.rep.Status().DiskFull {
			stuck = false
			continue
		}
		target, ok := b.roomyVoter()
		if !ok {
			if !stuck {
				b.log.Warn("this leader's disk is above its hard limit and no other voter answered with room; produces are refused until space is freed")
			}
			stuck = true
			continue
		}
		stuck = false
		b.log.Warn("this leader's disk is above its hard limit; handing leadership to a voter with room", "target", target)
		if err := b.rep.TransferLeadership(target); err != nil {
			b.log.Warn("leadership transfer off a full disk failed", "target", target, "err", err)
		}
	}
}

// roomyVoter returns the other voter that answers, within one
// DiskFullCheck, as a working follower whose disk has room, preferring the
// one that has applied the most; false if there is none.
func (b *Broker) roomyVoter() (string, bool) {
	p := b.peersOf()
	servers, err := b.rep.Servers()
	if p == nil || err != nil {
		return "", false
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.DiskFullCheck)
	defer cancel()
	var (
		mu      sync.Mutex
		best    string
		applied uint64
		wg      sync.WaitGroup
	)
	for _, s := range servers {
		addr := b.dir.GRPCAddr(s.ID)
		if s.ID == b.cfg.NodeID || addr == "" {
			continue
		}
		wg.Go(func() {
			st, err := p.NodeStatus(ctx, addr)
			if err != nil || st.NodeID != s.ID || st.Role != "follower" || st.DiskFull || st.Error != "" {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if best == "" || st.AppliedIndex > applied || st.AppliedIndex == applied && s.ID < best {
				best, applied = s.ID, st.AppliedIndex
			}
		})
	}
	wg.Wait()
	return best, best != ""
}
