package raftfsm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/store"
	"github.com/raftmq/raftmq/store/record"
)

// ProduceResult is the outcome of one ProduceRequest.
type ProduceResult struct {
	// Results says where each message went, in request order; the
	// request's messages are updated the same way (StoreTimestamp,
	// QueueOffset, CommitLogOffset, and QueueID for a duplicate).
	Results []store.AppendResult
	// Duplicate: the request had been applied before (same producer id
	// and sequence); Results are the original's and nothing was stored.
	Duplicate bool
	// Err is why this request alone was refused (a message over the
	// store's limits once marked, ErrTopicNotFound, ErrSequenceTooOld,
	// ErrSequenceReused); the other requests of the entry are not
	// affected.
	Err error
}

// Produce replicates reqs as ONE Raft entry and returns, once the entry
// is committed and applied here, one result per request. Each request is
// stored wholly or refused on its own (ProduceResult.Err); an error
// return concerns the whole entry. Only the leader accepts it. The leader
// stamps the entry with its clock (never earlier than the last stamp), so
// every replica writes the same store timestamp.
func (n *Node) Produce(ctx context.Context, reqs []ProduceRequest) ([]ProduceResult, error) {
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%w: empty batch", store.ErrInvalidMessage)
	}
	st := n.Store()
	out := make([]ProduceResult, len(reqs))
	// A request that fails validation (the producer mark can push a
	// message over the properties limit) fails alone, like one the FSM
	// refuses; the others still go into the entry.
	marked := markRequests(reqs)
	valid := make([]int, 0, len(reqs))
	for i, r := range marked {
		if out[i].Err = validateRequest(r, st.Options()); out[i].Err == nil {
			valid = append(valid, i)
		}
	}
	if len(valid) == 0 {
		return out, nil
	}
	entry := marked
	if len(valid) < len(marked) {
		entry = make([]ProduceRequest, len(valid))
		for k, i := range valid {
			entry[k] = marked[i]
		}
	}
	if err := st.CheckDisk(); err != nil {
		return nil, err
	}
	ts := time.Now().UnixMilli()
	for {
		last := n.lastTS.Load()
		ts = max(ts, last, st.LastStoreTimestamp())
		if n.lastTS.CompareAndSwap(last, ts) {
			break
		}
	}
	resp, err := n.apply(ctx, encodeProduce(ts, entry))
	if err != nil {
		return nil, err
	}
	outs, ok := resp.([]reqOutcome)
	if !ok || len(outs) != len(entry) {
		return nil, fmt.Errorf("raftfsm: unexpected produce response %T", resp)
	}
	for k, i := range valid {
		out[i] = n.produceResult(reqs[i], ts, outs[k])
	}
	return out, nil
}

func validateRequest(r ProduceRequest, o store.Options) error {
	if len(r.Msgs) == 0 {
		return fmt.Errorf("%w: empty request", store.ErrInvalidMessage)
	}
	for _, m := range r.Msgs {
		if err := store.ValidateMessage(m, o); err != nil {
			return err
		}
	}
	return nil
}

// produceResult turns the FSM's outcome of one request into its result,
// reading a duplicate's original messages back from the store.
func (n *Node) produceResult(r ProduceRequest, ts int64, o reqOutcome) ProduceResult {
	switch {
	case o.err != nil:
		return ProduceResult{Err: o.err}
	case o.dup.count > 0:
		orig, err := readRequest(n.Store(), o.dup.first, int(o.dup.count))
		if err != nil {
			return ProduceResult{Err: fmt.Errorf("raftfsm: producer %x sequence %d was stored before, but reading it back failed: %w", r.ProducerID, r.Seq, err)}
		}
		res := make([]store.AppendResult, len(r.Msgs))
		for i, m := range r.Msgs {
			om := &orig[i]
			m.QueueID, m.StoreTimestamp, m.QueueOffset, m.CommitLogOffset = om.QueueID, om.StoreTimestamp, om.QueueOffset, om.CommitLogOffset
			res[i] = store.AppendResult{CommitLogOffset: om.CommitLogOffset, QueueOffset: om.QueueOffset, Size: int32(record.Size(om))}
		}
		return ProduceResult{Results: res, Duplicate: true}
	}
	if len(o.res) == len(r.Msgs) {
		for i, m := range r.Msgs {
			m.StoreTimestamp, m.QueueOffset, m.CommitLogOffset = ts, o.res[i].QueueOffset, o.res[i].CommitLogOffset
		}
	}
	return ProduceResult{Results: o.res}
}

// CommitOffsets replicates consumer group positions as one Raft entry.
func (n *Node) CommitOffsets(ctx context.Context, commits []OffsetCommit) error {
	if len(commits) == 0 {
		return nil
	}
	for _, c := range commits {
		if c.Group == "" || len(c.Group) > 255 {
			return fmt.Errorf("%w: group name %q", store.ErrInvalidMessage, c.Group)
		}
		if err := store.ValidateTopic(c.Topic); err != nil {
			return err
		}
	}
	// One Raft entry per chunk that fits a system record; commits are
	// independent positions, so splitting changes nothing for readers.
	for len(commits) > 0 {
		k, size := 0, 2+4
		for k < len(commits) {
			c := commits[k]
			sz := 2 + len(c.Group) + 1 + len(c.Topic) + 4 + 8
			if k > 0 && size+sz > store.MaxSystemBodySize {
				break
			}
			size += sz
			k++
		}
		if _, err := n.apply(ctx, encodeCommitOffsets(commits[:k])); err != nil {
			return err
		}
		commits = commits[k:]
	}
	return nil
}

// CreateTopic creates this group's part of a topic: t.Queues queues from
// id t.FirstQueue. Creating an identical topic again succeeds; another
// queue count or first queue is ErrTopicExists.
func (n *Node) CreateTopic(ctx context.Context, t Topic) error {
	if err := store.ValidateTopic(t.Name); err != nil {
		return err
	}
	if !validSpan(t) {
		return fmt.Errorf("%w: %d queues from %d", store.ErrInvalidTopic, t.Queues, t.FirstQueue)
	}
	_, err := n.apply(ctx, encodeCreateTopic(t))
	return err
}

// DeleteTopic removes a topic and its consumer offsets from the tables.
// Its messages stay in the CommitLog until retention deletes them.
func (n *Node) DeleteTopic(ctx context.Context, name string) error {
	if err := store.ValidateTopic(name); err != nil {
		return err
	}
	_, err := n.apply(ctx, encodeDeleteTopic(name))
	return err
}

// apply hands a command to Raft and waits for its result, the caller's
// deadline, or the loss of leadership.
func (n *Node) apply(ctx context.Context, cmd []byte) (any, error) {
	if err := n.failedErr(); err != nil {
		return nil, err
	}
	if n.raft.State() != raft.Leader {
		return nil, n.notLeader()
	}
	timeout := n.cfg.ApplyTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	f := n.raft.Apply(cmd, timeout)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		if err != nil {
			return nil, n.mapRaftErr(err)
		}
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())
	}
	resp := f.Response()
	if err, ok := resp.(error); ok {
		if errors.Is(err, ErrFailed) {
			// Committed in Raft (the other replicas apply it) but this
			// node's store failed: from the caller's side the outcome is
			// unknown, and a retry elsewhere could duplicate it.
			return nil, fmt.Errorf("%w: committed, but this node failed applying it: %v", ErrUnknownOutcome, err)
		}
		return nil, err
	}
	return resp, nil
}

func (n *Node) mapRaftErr(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		return n.notLeader()
	case errors.Is(err, raft.ErrLeadershipTransferInProgress):
		// hashicorp/raft answers so before it does anything with the
		// command (raft.go's leaderLoop): nothing was appended.
		return fmt.Errorf("%w: %w: %w", ErrUnavailable, ErrTransferInProgress, err)
	case errors.Is(err, raft.ErrLeadershipLost):
		return fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
	case errors.Is(err, raft.ErrEnqueueTimeout), errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

func (n *Node) notLeader() error {
	id, addr := n.Leader()
	if id == "" {
		return fmt.Errorf("%w: no leader known", ErrUnavailable)
	}
	return fmt.Errorf("%w: leader is %s at %s", ErrNotLeader, id, addr)
}

// Err is non-nil once the node failed for good (its store or Raft log
// could not be written; see fail): Raft is shut down and the node serves
// nothing until the process restarts.
func (n *Node) Err() error { return n.failedErr() }

func (n *Node) failedErr() error {
	if p := n.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// Topic returns a topic's configuration.
func (n *Node) Topic(name string) (Topic, bool) {
	n.tablesMu.RLock()
	defer n.tablesMu.RUnlock()
	t, ok := n.tables.Topics[name]
	return t, ok
}

// Topics lists every topic, sorted by name.
func (n *Node) Topics() []Topic {
	n.tablesMu.RLock()
	defer n.tablesMu.RUnlock()
	return n.tables.topicList()
}

// Offset returns a group's committed offset for a queue.
func (n *Node) Offset(group, topic string, queueID uint32) (uint64, bool) {
	n.tablesMu.RLock()
	defer n.tablesMu.RUnlock()
	off, ok := n.tables.Offsets[group][topic][queueID]
	return off, ok
}

// Groups lists the consumer groups with committed offsets, sorted.
func (n *Node) Groups() []string {
	n.tablesMu.RLock()
	defer n.tablesMu.RUnlock()
	return slices.Sorted(maps.Keys(n.tables.Offsets))
}

// Store returns the current store, for reads. It changes when a snapshot
// is installed; a read that gets store.ErrClosed may retry with a fresh one.
func (n *Node) Store() *store.Store { return n.st.Load() }

// Applied returns a channel closed at the next FSM apply (or snapshot
// install); call it again for the following one. Long polls wait on it.
func (n *Node) Applied() <-chan struct{} {
	n.appliedMu.Lock()
	defer n.appliedMu.Unlock()
	return n.appliedCh
}

// IsLeader reports whether this node is the group's leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the leader's id and Raft address, empty if unknown.
func (n *Node) Leader() (id, raftAddr string) {
	addr, sid := n.raft.LeaderWithID()
	return string(sid), string(addr)
}

// Term is the current Raft term. Unlike Status it does not go through
// Raft's main loop.
func (n *Node) Term() uint64 { return n.raft.CurrentTerm() }

// RaftAddr is the address this node's Raft transport listens on.
func (n *Node) RaftAddr() string { return string(n.trans.LocalAddr()) }

// Status describes this node for cluster status.
type Status struct {
	ID, RaftAddr, Role   string
	Term, AppliedIndex   uint64
	CommitIndex, LastLog uint64
	CommitLogEnd         int64
	LeaderID, LeaderAddr string
	// ApplyingFor is how long the FSM has been inside its current apply
	// of committed entries (a stalled store disk keeps it there); 0 while
	// it is not applying. Unlike a commit index ahead of AppliedIndex it
	// never points at entries the FSM is never given (the no-op a new
	// leader commits first).
	ApplyingFor time.Duration
	// DiskFull is set while this node's store disk is used above its hard
	// limit (store.Options.DiskHardLimitRatio): as leader it refuses
	// produces with store.ErrDiskFull. DiskUsed is the fraction of that
	// disk in use (0: not checked yet). Both are the latest check's
	// (CheckDisk, and every leader's produce), so Status never waits for
	// the file system.
	DiskFull bool
	DiskUsed float64
	Err      string
}

// Status reports this node's Raft role, term and indexes and its CommitLog end.
func (n *Node) Status() Status {
	stats := n.raft.Stats()
	u := func(k string) uint64 { v, _ := strconv.ParseUint(stats[k], 10, 64); return v }
	lid, laddr := n.Leader()
	s := Status{
		ID: n.cfg.NodeID, RaftAddr: n.RaftAddr(), Role: roleName(n.raft.State()),
		Term: u("term"), AppliedIndex: n.appliedIndex.Load(), CommitIndex: u("commit_index"), LastLog: u("last_log_index"),
		CommitLogEnd: n.Store().MaxCommitLogOffset(), LeaderID: lid, LeaderAddr: laddr,
	}
	s.ApplyingFor = n.applyingFor()
	d := n.Store().LastDiskState()
	s.DiskFull, s.DiskUsed = d.Full, d.Used
	if err := n.failedErr(); err != nil {
		s.Err = err.Error()
	}
	return s
}

func roleName(s raft.RaftState) string {
	switch s {
	case raft.Leader:
		return "leader"
	case raft.Follower:
		return "follower"
	case raft.Candidate:
		return "candidate"
	}
	return "shutdown"
}

// CheckDisk checks the store's disk (store.Store.CheckDisk): ErrDiskFull
// while it is used above the hard limit. Status reports what the latest
// check found.
func (n *Node) CheckDisk() error { return n.Store().CheckDisk() }

// Servers returns the current Raft configuration's voters and non-voters.
func (n *Node) Servers() ([]Peer, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var out []Peer
	for _, s := range f.Configuration().Servers {
		out = append(out, Peer{ID: string(s.ID), RaftAddr: string(s.Address), NonVoter: s.Suffrage != raft.Voter})
	}
	return out, nil
}

// TransferLeadership hands leadership to targetID, or to the most
// up-to-date voter when targetID is empty.
func (n *Node) TransferLeadership(targetID string) error {
	if !n.IsLeader() {
		return n.notLeader()
	}
	if targetID == "" {
		return n.mapRaftErr(n.raft.LeadershipTransfer().Error())
	}
	for _, s := range n.voters() {
		if string(s.ID) == targetID {
			return n.mapRaftErr(n.raft.LeadershipTransferToServer(s.ID, s.Address).Error())
		}
	}
	return fmt.Errorf("%w: %q", ErrNotVoter, targetID)
}

// AddVoter adds (or updates) a voter; only the leader can.
func (n *Node) AddVoter(p Peer) error {
	return n.mapRaftErr(n.raft.AddVoter(raft.ServerID(p.ID), raft.ServerAddress(p.RaftAddr), 0, n.cfg.ApplyTimeout).Error())
}

// RemoveServer removes a server from the group; only the leader can.
func (n *Node) RemoveServer(id string) error {
	return n.mapRaftErr(n.raft.RemoveServer(raft.ServerID(id), 0, n.cfg.ApplyTimeout).Error())
}

// Snapshot takes a Raft snapshot now (tests and operators).
func (n *Node) Snapshot() error { return n.raft.Snapshot().Error() }
