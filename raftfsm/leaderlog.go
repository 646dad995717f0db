package raftfsm

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// leaderLog lets the leader write its own copy of new Raft entries in
// parallel with replicating them, instead of before (the Raft thesis,
// section 10.2.1). hashicorp/raft stores the leader's entries (StoreLogs,
// with its fsync) and only then sends them to the followers, so a
// synchronous produce waits for two fsyncs in a row. Here the leader's
// StoreLogs queues the entries for a writer goroutine and returns at once;
// the followers' fsyncs overlap the leader's.
//
// hashicorp/raft then counts the leader in the commitment before its copy
// is durable, so "committed" inside the library can mean "fsynced on one
// follower and written but not yet fsynced by the leader". Two guards keep
// that from ever becoming visible:
//
//   - the leader's FSM applies an entry only once it is durable on a
//     quorum (waitDurable, called by ApplyBatch): the leader's own copy
//     counts once its fsync has ended, the followers' once they have
//     acknowledged it (followerAcks), so a client never gets an OK for an
//     entry fsynced on fewer than a majority; and
//   - the commit index the leader sends to followers is clamped to its
//     durable index (clampTransport), so no follower applies an entry
//     before the leader's copy is durable (conservative: followers'
//     apply is not on the path of an answer).
//
// If the leader loses its unsynced copy (power loss) before the fsync
// ends, either a quorum of followers holds the entry durably (it was
// perhaps acknowledged; any new leader has it, and the old leader gets it
// back), or it was applied nowhere and acknowledged to nobody: it is like
// an uncommitted entry, which a later leader may keep or overwrite.
//
// Only the leader's own appends take this path. Every other call (a
// follower storing replicated entries, whose success reply promises that
// they are durable; truncation; bootstrap) first waits for the writer to
// finish and then runs synchronously. Leader and follower appends both run
// on hashicorp/raft's main goroutine, which sets the node's state, so a
// leader that receives an AppendEntries from a newer leader is a follower
// before it stores anything. (A heartbeat can also make it a follower
// from the transport's goroutine; then a leader's append may take the
// synchronous path, which is only slower.)
//
// A failed background write is fatal to the node (onFail): hashicorp/raft
// already believes the entries are stored, so the only safe answer is to
// stop Raft; nothing was acknowledged, and the replicas hold the entries
// that were committed.
type leaderLog struct {
	raft.LogStore
	leading atomic.Pointer[func() bool] // nil: never the leader path
	onFail  func(error)

	// quorum, when set, says whether followers alone hold an index
	// durably on a quorum (followerAcks.quorumHolds); waitDurable then
	// need not wait for the leader's own copy.
	quorum atomic.Pointer[func(index uint64) bool]

	mu sync.Mutex
	// work wakes the writer (queue grew, or closed); progress wakes the
	// callers of waitDurable and drain (writing, durable, err or closed
	// changed, or a follower acknowledged). Two conditions, so that a
	// follower's append or an acknowledgement does not wake the idle
	// writer for nothing.
	work     *sync.Cond
	progress *sync.Cond
	queue    []*raft.Log // queued for the writer, ascending contiguous indexes
	writing  []*raft.Log // being written now, just below queue
	err      error       // sticky failure of a background write
	closed   bool
	done     chan struct{} // closed when the writer has returned
	drains   int           // callers waiting in drain (tests watch it)

	durable atomic.Uint64 // every entry at or below it is durable in LogStore

	// early counts waitDurable calls released by the followers' quorum
	// before the leader's own copy was durable.
	early atomic.Int64
	// lastConfig is the index of the newest configuration entry queued on
	// the leader path (quorumReleases).
	lastConfig atomic.Uint64
	// snapIdx is the index of the last snapshot installed from the leader
	// (restored); a log emptied after it is durable up to there.
	snapIdx atomic.Uint64
	// unsynced is the size of the entries queued or being written;
	// maxUnsynced bounds it for the followers' quorum (quorumReleases).
	unsynced    atomic.Int64
	maxUnsynced int64
}

// maxUnsyncedBytes is how far the leader's own log may fall behind what
// the followers' quorum releases: past it, entries wait for the leader's
// copy again, the produces in flight wait with them, and a leader whose
// disk stalls stops taking new writes (and its apply watchdog hands the
// leadership over) instead of queueing them in memory without bound.
const maxUnsyncedBytes = 64 << 20

func logBytes(logs []*raft.Log) int64 {
	var n int64
	for _, e := range logs {
		n += int64(len(e.Data))
	}
	return n
}

var errLogClosed = errors.New("raftfsm: raft log closed")

func newLeaderLog(s raft.LogStore, onFail func(error)) (*leaderLog, error) {
	last, err := s.LastIndex()
	if err != nil {
		return nil, err
	}
	l := &leaderLog{LogStore: s, onFail: onFail, done: make(chan struct{}), maxUnsynced: maxUnsyncedBytes}
	l.work, l.progress = sync.NewCond(&l.mu), sync.NewCond(&l.mu)
	l.durable.Store(last)
	go l.writer()
	return l, nil
}

// setRaft tells the log whose state decides the leader path.
func (l *leaderLog) setRaft(r *raft.Raft) {
	f := func() bool { return r.State() == raft.Leader }
	l.leading.Store(&f)
}

func (l *leaderLog) isLeader() bool {
	f := l.leading.Load()
	return f != nil && (*f)()
}

// Durable returns the highest index at or below which every entry is
// durable in the log store.
func (l *leaderLog) Durable() uint64 { return l.durable.Load() }

// waitDurable blocks until the entry at index is durable here or on a
// quorum of followers (see followerAcks), or the log failed or closed.
func (l *leaderLog) waitDurable(index uint64) error { return l.wait(index, true) }

// waitOwn blocks until the entry at index is durable here, or the log
// failed or closed.
func (l *leaderLog) waitOwn(index uint64) error { return l.wait(index, false) }

func (l *leaderLog) wait(index uint64, quorum bool) error {
	if l.durable.Load() >= index {
		return nil
	}
	if quorum && l.quorumReleases(index) {
		l.early.Add(1)
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.durable.Load() < index {
		if quorum && l.quorumReleases(index) {
			l.early.Add(1)
			return nil
		}
		if l.err != nil {
			return l.err
		}
		if l.closed && len(l.queue) == 0 && len(l.writing) == 0 {
			return errLogClosed
		}
		l.progress.Wait()
	}
	return nil
}

// quorumReleases reports whether the followers alone may release index:
// they hold it on a quorum, every configuration entry the leader queued is
// durable here, and the leader's unsynced entries are within maxUnsynced.
// A configuration entry is committed by
// hashicorp/raft with the leader's unsynced copy counted, after which the
// next change may start; if the leader then lost its copy, nodes still
// on the older configuration could elect a leader without the followers
// that acknowledged, so the quorum of the newer one must not decide
// before the change is durable here.
func (l *leaderLog) quorumReleases(index uint64) bool {
	return l.durable.Load() >= l.lastConfig.Load() && l.unsynced.Load() <= l.maxUnsynced && l.quorumHolds(index)
}

func (l *leaderLog) writer() {
	defer close(l.done)
	for {
		l.mu.Lock()
		for len(l.queue) == 0 && !l.closed && l.err == nil {
			l.work.Wait()
		}
		if len(l.queue) == 0 || l.err != nil {
			l.mu.Unlock()
			return
		}
		batch := l.queue
		l.queue, l.writing = nil, batch
		l.mu.Unlock()
		size := logBytes(batch)

		err := l.LogStore.StoreLogs(batch)

		l.mu.Lock()
		l.writing = nil
		l.unsynced.Add(-size)
		if err != nil {
			l.err = fmt.Errorf("raftfsm: write leader's raft log entries %d-%d: %w", batch[0].Index, batch[len(batch)-1].Index, err)
			l.queue = nil
			l.unsynced.Store(0)
		} else {
			l.durable.Store(batch[len(batch)-1].Index)
		}
		l.progress.Broadcast()
		ferr := l.err
		l.mu.Unlock()
		if ferr != nil {
			l.onFail(ferr)
			return
		}
	}
}

func (l *leaderLog) quorumHolds(index uint64) bool {
	f := l.quorum.Load()
	return f != nil && (*f)(index)
}

// wake re-evaluates waitDurable's callers (a follower acknowledged).
func (l *leaderLog) wake() {
	l.mu.Lock()
	l.progress.Broadcast()
	l.mu.Unlock()
}

// drain waits until the writer has written everything queued; the caller
// holds l.mu.
func (l *leaderLog) drain() error {
	l.drains++
	for (len(l.queue) > 0 || len(l.writing) > 0) && l.err == nil {
		l.progress.Wait()
	}
	l.drains--
	return l.err
}

// StoreLogs queues the leader's own new entries for the writer; any other
// append is synchronous.
func (l *leaderLog) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	leading := l.isLeader()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errLogClosed
	}
	if leading && l.err == nil {
		for _, e := range logs {
			if e.Type == raft.LogConfiguration {
				l.lastConfig.Store(e.Index)
			}
		}
		l.queue = append(l.queue, logs...)
		l.unsynced.Add(logBytes(logs))
		l.work.Signal()
		return nil
	}
	if err := l.drain(); err != nil {
		return err
	}
	if err := l.LogStore.StoreLogs(logs); err != nil {
		return err // the node has failed (appendFailure, under this log)
	}
	l.durable.Store(logs[len(logs)-1].Index)
	l.progress.Broadcast()
	return nil
}

// StoreLog stores one entry (see StoreLogs).
func (l *leaderLog) StoreLog(log *raft.Log) error { return l.StoreLogs([]*raft.Log{log}) }

// pending returns the not yet durable entry at index; the caller holds l.mu.
func (l *leaderLog) pending(index uint64) *raft.Log {
	for _, s := range [][]*raft.Log{l.writing, l.queue} {
		if len(s) > 0 && index >= s[0].Index && index <= s[len(s)-1].Index {
			return s[index-s[0].Index]
		}
	}
	return nil
}

// GetLog serves entries still queued or being written from memory to the
// leader. A node that is no longer the leader first waits for them to be
// written: a follower that finds an entry of an AppendEntries request
// already in its log (GetLog) acknowledges it without storing it, and the
// leader counts that acknowledgement as durable (followerAcks).
func (l *leaderLog) GetLog(index uint64, out *raft.Log) error {
	leading := l.isLeader()
	l.mu.Lock()
	p := l.pending(index)
	if p != nil && !leading {
		err := l.drain()
		l.mu.Unlock()
		if err != nil {
			return err
		}
		return l.LogStore.GetLog(index, out)
	}
	l.mu.Unlock()
	if p != nil {
		*out = *p
		return nil
	}
	return l.LogStore.GetLog(index, out)
}

// lastPending returns the newest queued or in-write entry; the caller
// holds l.mu.
func (l *leaderLog) lastPending() *raft.Log {
	switch {
	case len(l.queue) > 0:
		return l.queue[len(l.queue)-1]
	case len(l.writing) > 0:
		return l.writing[len(l.writing)-1]
	}
	return nil
}

// LastIndex counts entries not yet written.
func (l *leaderLog) LastIndex() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.lastPending(); p != nil {
		return p.Index, nil
	}
	return l.LogStore.LastIndex()
}

// FirstIndex counts entries not yet written when the store is empty.
func (l *leaderLog) FirstIndex() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first, err := l.LogStore.FirstIndex()
	if err != nil || first != 0 {
		return first, err
	}
	for _, s := range [][]*raft.Log{l.writing, l.queue} {
		if len(s) > 0 {
			return s[0].Index, nil
		}
	}
	return 0, nil
}

// restored records a snapshot installed from the leader, which covers
// every entry up to index durably: the durable index rises to it, so
// waitOwn (a later snapshot of this node) does not wait for entries the
// log will never hold.
func (l *leaderLog) restored(index uint64) error {
	l.snapIdx.Store(index)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.drain(); err != nil {
		return err
	}
	if l.durable.Load() < index {
		l.durable.Store(index)
	}
	l.progress.Broadcast()
	return nil
}

// emptied lowers the durable index to the installed snapshot's when a
// deletion has left the store empty (hashicorp/raft empties it after an
// install; its own compaction keeps TrailingLogs >= 1 entries): a durable
// index left above it would vouch for entries this node does not hold.
func (l *leaderLog) emptied() {
	if last, err := l.LogStore.LastIndex(); err == nil && last == 0 {
		if si := l.snapIdx.Load(); si > 0 && l.durable.Load() > si {
			l.durable.Store(si)
		}
	}
}

// DeleteRange of a durable prefix (compaction after a snapshot: the
// entries are applied, so durable) goes straight to the store, without
// waiting for the writer, which under steady load is never idle. Any
// other range (a follower's conflicting suffix) waits for the writer
// first, so a truncation never races a queued append.
func (l *leaderLog) DeleteRange(min, max uint64) error {
	if first, err := l.LogStore.FirstIndex(); err == nil && min <= first && max <= l.durable.Load() {
		// A durable prefix: pending entries are all above it, and the
		// store serialises this with the writer's appends. A store
		// emptied after a snapshot install is durable up to the
		// snapshot (emptied).
		if err := l.LogStore.DeleteRange(min, max); err != nil {
			return err
		}
		l.emptied()
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.drain(); err != nil {
		return err
	}
	first, err := l.LogStore.FirstIndex()
	if err != nil {
		return err
	}
	if err := l.LogStore.DeleteRange(min, max); err != nil {
		if min > first {
			// A follower that cannot remove its conflicting entries can
			// never take the leader's: hashicorp/raft would log this and
			// take the same entries again forever.
			err = fmt.Errorf("raftfsm: remove conflicting raft log entries %d-%d: %w", min, max, err)
			l.onFail(err)
		}
		return err
	}
	// Removing a suffix (a follower's conflicting entries) lowers the
	// durable index; compacting a prefix does not.
	if min > first && l.durable.Load() >= min {
		l.durable.Store(min - 1)
		l.progress.Broadcast()
	}
	l.emptied()
	return nil
}

// IsMonotonic passes on the store's answer (raft.MonotonicLogStore):
// raft-wal cannot take an append that leaves a gap, so hashicorp/raft must
// empty it rather than compact it after installing a snapshot.
func (l *leaderLog) IsMonotonic() bool {
	m, ok := l.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

// Close writes what is queued and stops the writer; it does not close the
// underlying store.
func (l *leaderLog) Close() error {
	l.mu.Lock()
	l.closed = true
	l.work.Broadcast()
	l.progress.Broadcast()
	l.mu.Unlock()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// appendFailure fails the node (onFail) when its Raft log store cannot
// append, in every append mode and on every path (the leader log's
// writer, a follower's AppendEntries, the serial leader append):
// hashicorp/raft logs a follower's failed append and takes the next
// AppendEntries as if nothing happened, and a replica whose Raft log
// cannot be written is lost and must say so and stop.
type appendFailure struct {
	raft.LogStore
	onFail func(error)
}

func (a *appendFailure) StoreLogs(logs []*raft.Log) error {
	err := a.LogStore.StoreLogs(logs)
	if err != nil && len(logs) > 0 {
		err = fmt.Errorf("raftfsm: write raft log entries %d-%d: %w", logs[0].Index, logs[len(logs)-1].Index, err)
		a.onFail(err)
	}
	return err
}

func (a *appendFailure) StoreLog(l *raft.Log) error { return a.StoreLogs([]*raft.Log{l}) }

// IsMonotonic passes on the store's answer (raft.MonotonicLogStore), as
// every wrapper of the Raft log must: raft-wal refuses a gap, and only a
// monotonic store has all its entries removed after a snapshot install.
func (a *appendFailure) IsMonotonic() bool {
	m, ok := a.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

// clampTransport sends followers a commit index no higher than the
// leader's durable index (see leaderLog), and records the followers'
// acknowledgements (acks, when set). Pipelined replication is refused so
// every AppendEntries passes through here (it is off anyway, see
// startRaft).
type clampTransport struct {
	*raft.NetworkTransport
	log     *leaderLog
	acks    *followerAcks // nil: the leader waits for its own copy
	clamped atomic.Int64  // AppendEntries sent with a lowered commit index

	// answered holds, per follower, when it last accepted an
	// AppendEntries (heartbeats included) of the sender's term, in
	// nanoseconds since epoch (monotonic): a failed leader hands off only
	// to a follower that still follows it. One *atomic.Int64 per follower,
	// so recording is no allocation per AppendEntries.
	answered sync.Map // raft.ServerID -> *atomic.Int64
	epoch    time.Time
}

// noteAnswer records that id accepted an AppendEntries just now.
func (t *clampTransport) noteAnswer(id raft.ServerID) {
	v, ok := t.answered.Load(id)
	if !ok {
		v, _ = t.answered.LoadOrStore(id, new(atomic.Int64))
	}
	v.(*atomic.Int64).Store(int64(time.Since(t.epoch)))
}

// answeredWithin reports whether id accepted an AppendEntries of this
// leader's term within d.
func (t *clampTransport) answeredWithin(id raft.ServerID, d time.Duration) bool {
	v, ok := t.answered.Load(id)
	return ok && time.Since(t.epoch)-time.Duration(v.(*atomic.Int64).Load()) < d
}

func (t *clampTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if d := t.log.Durable(); args.LeaderCommitIndex > d {
		args.LeaderCommitIndex = d
		t.clamped.Add(1)
	}
	err := t.NetworkTransport.AppendEntries(id, target, args, resp)
	if err == nil && resp.Success && resp.Term == args.Term {
		t.noteAnswer(id)
	}
	if err == nil && t.acks != nil && t.acks.record(id, args, resp) {
		t.log.wake()
	}
	return err
}

// Close does nothing. hashicorp/raft closes its transport at the end of
// a shutdown, but a failed leader still sends its hand-off after that
// (Node.shutdownRaft); the Node closes the NetworkTransport itself.
func (t *clampTransport) Close() error { return nil }

// AppendEntriesPipeline refuses pipelined replication, so that every
// AppendEntries passes through AppendEntries above (clamp and record).
func (t *clampTransport) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

// followerAcks lets the leader apply (and answer for) an entry that a
// quorum of followers alone holds durably, without waiting for its own
// copy: with three nodes, whichever two fsyncs end first decide, not the
// leader's plus the faster follower's. Raft needs only a quorum's durable
// copies, whichever servers they are on (the thesis, section 10.2.1).
//
// An acknowledgement counts only if
//   - it answers an AppendEntries of the leader's current term that
//     carried entries, the last of them of that term. A follower answers
//     such a request only after its log holds every one of those entries
//     durably and matches the leader's up to the last (it stores new
//     entries with an fsync, and a former leader's queued entries are
//     written before it answers: leaderLog.GetLog, StoreLogs). A quorum
//     durably holding an entry of the current term is Raft's commit rule,
//     so everything up to it is committed (an older-term entry alone on a
//     quorum is not: the Raft paper, figure 8); and
//   - the follower is a voter in the leader's latest configuration, and
//     the quorum is a majority of those voters (hashicorp/raft counts its
//     commitment over the latest configuration too).
//
// Heartbeats (no entries) never count.
type followerAcks struct {
	raft func() (term uint64, voters []raft.Server) // the leader's current term and voters

	mu    sync.Mutex
	term  uint64
	acked map[raft.ServerID]uint64 // highest durable index acknowledged in term
	held  uint64                   // highest index a quorum of followers holds, in term
}

// record notes a successful AppendEntries; it reports whether the index
// the followers alone hold on a quorum rose (only then is waitDurable
// woken: with three nodes, the first follower's acknowledgement never
// releases anything).
func (a *followerAcks) record(id raft.ServerID, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) bool {
	n := len(args.Entries)
	if !resp.Success || resp.Term != args.Term || n == 0 || args.Entries[n-1].Term != args.Term {
		return false
	}
	last := args.Entries[n-1].Index
	_, voters := a.raft()
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case args.Term < a.term:
		return false
	case args.Term > a.term:
		a.term, a.acked, a.held = args.Term, map[raft.ServerID]uint64{}, 0
	}
	if last <= a.acked[id] {
		return false
	}
	a.acked[id] = last
	if h := a.quorumIndex(voters); h > a.held {
		a.held = h
		return true
	}
	return false
}

// quorumIndex is the highest index that a quorum of voters other than
// this node has acknowledged; the caller holds a.mu.
// ackedIndex is the highest index id acknowledged durable in the current
// term; 0 when unknown (also on a nil followerAcks).
func (a *followerAcks) ackedIndex(id raft.ServerID) uint64 {
	if a == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.acked[id]
}

func (a *followerAcks) quorumIndex(voters []raft.Server) uint64 {
	need := len(voters)/2 + 1
	idx := make([]uint64, 0, len(voters))
	for _, v := range voters {
		if i, ok := a.acked[v.ID]; ok {
			idx = append(idx, i)
		}
	}
	if len(idx) < need {
		return 0
	}
	slices.Sort(idx)
	return idx[len(idx)-need]
}

// quorumHolds reports whether a quorum of voters other than this node has
// acknowledged index durably in the current term.
func (a *followerAcks) quorumHolds(index uint64) bool {
	term, voters := a.raft()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.term == term && a.quorumIndex(voters) >= index
}

// waitDurable holds the FSM back until this node's copy of logs is
// durable (see leaderLog). A failed log write fails the node.
func (n *Node) waitDurable(logs []*raft.Log) error {
	if n.leaderLog == nil || len(logs) == 0 {
		return nil
	}
	err := n.leaderLog.waitDurable(logs[len(logs)-1].Index)
	if err == nil || errors.Is(err, errLogClosed) {
		return err
	}
	return n.fail(err)
}
