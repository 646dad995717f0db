package broker

import "time"

// watchApply is the leader's apply watchdog, run by its own goroutine
// until b.stop. While this node leads and Raft has committed entries its
// FSM has not applied, an applied index that does not move for
// ApplyStallTimeout means the FSM is stuck, most likely on a stalled disk
// under the store. Raft's log lives elsewhere and its heartbeats go on,
// so no election would ever depose such a leader, and every produce
// would wait for the disk. The watchdog hands the leadership to another
// voter instead (what an operator would do with mqctl cluster
// transfer-leader), then watches again from scratch.
func (b *Broker) watchApply() {
	limit := b.cfg.ApplyStallTimeout
	tick := time.NewTicker(limit / 4)
	defer tick.Stop()
	var applied uint64
	var since time.Time // when applied was last seen to move; zero: reset
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
		if !b.rep.IsLeader() {
			since = time.Time{}
			continue
		}
		st := b.rep.Status()
		if since.IsZero() || st.AppliedIndex != applied || st.CommitIndex <= st.AppliedIndex {
			applied, since = st.AppliedIndex, time.Now()
			continue
		}
		if stuck := time.Since(since); stuck >= limit {
			b.log.Warn("the FSM applies nothing while entries are committed; handing leadership to another voter",
				"applied_index", st.AppliedIndex, "commit_index", st.CommitIndex, "stuck_for", stuck.Round(time.Millisecond))
			if err := b.rep.TransferLeadership(""); err != nil {
				b.log.Warn("leadership transfer after stalled applies failed", "err", err)
			}
			since = time.Time{}
		}
	}
}
