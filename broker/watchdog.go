package broker

import "time"

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
