// Package fakerepl is an in-memory stand-in for *raftfsm.Node, for unit
// tests of package broker: a real store.Store in a test directory, topic
// and offset tables in maps, a leader flag the test sets, and hooks to hold
// Produce calls in flight and to count the batches that reach it. There is
// no Raft: every write is "applied" at once, in the calling goroutine.
package fakerepl

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

type offsetKey struct {
	group, topic string
	queue        uint32
}

// Fake implements broker.Replicator in memory.
type Fake struct {
	id, raftAddr string

	// mu guards every field below.
	mu            sync.Mutex
	st            *store.Store
	leader        bool
	leaderID      string
	term          uint64
	index         uint64
	topics        map[string]raftfsm.Topic
	offsets       map[offsetKey]uint64
	seqs          map[seqKey]seqResult // idempotent requests applied
	applied       chan struct{}
	hold          chan struct{} // non-nil: Produce waits for it to close
	entered       chan struct{} // receives once per Produce that reached hold
	produces      []int         // messages per Produce call
	commitBatches []int         // commits per CommitOffsets call
	servers       []raftfsm.Peer
	closed        bool
	commitAhead   uint64        // Status reports CommitIndex this far past applied
	applyingFor   time.Duration // Status reports the FSM this long in one apply
	transferErr   error         // TransferLeadership fails with it
	produceErr    error         // Produce fails with it
	transfers     int           // TransferLeadership calls
	targets       []string      // the voters leadership went to
	requested     []string      // the targets TransferLeadership was asked for
	statusCalls   int
}

// New opens a fake replica with its store in dir. It starts as the leader
// of a one-node group named by id.
func New(id, dir string, opts store.Options) (*Fake, error) {
	st, err := store.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	return &Fake{
		id: id, raftAddr: id + ":raft",
		st: st, leader: true, leaderID: id, term: 1,
		topics:  make(map[string]raftfsm.Topic),
		offsets: make(map[offsetKey]uint64),
		seqs:    make(map[seqKey]seqResult),
		applied: make(chan struct{}),
		entered: make(chan struct{}, 1024),
		servers: []raftfsm.Peer{{ID: id, RaftAddr: id + ":raft"}},
	}, nil
}

// SetLeader makes this node the leader, or a follower of leaderID ("" for
// none). Becoming leader starts a new term.
func (f *Fake) SetLeader(leader bool, leaderID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if leader && !f.leader {
		f.term++
	}
	f.leader, f.leaderID = leader, leaderID
	if leader {
		f.leaderID = f.id
	}
}

// SetCommitAhead makes Status report a commit index n entries past the
// applied index, as a leader whose last entries the FSM is never given
// (a new leader's no-op) or has not applied yet would.
func (f *Fake) SetCommitAhead(n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commitAhead = n
}

// FailTransfers makes TransferLeadership fail with err (nil: succeed).
func (f *Fake) FailTransfers(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.transferErr = err
}

// Transfers counts the TransferLeadership calls so far.
func (f *Fake) Transfers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.transfers
}

// TransferRequests returns the targets TransferLeadership was called with,
// failed calls included, in order.
func (f *Fake) TransferRequests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requested)
}

// CheckDisk implements broker.Replicator over the fake's store.
func (f *Fake) CheckDisk() error { return f.st.CheckDisk() }

// TransferTargets returns the voters successful TransferLeadership calls
// handed the leadership to, in order.
func (f *Fake) TransferTargets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.targets)
}

// Err implements broker.Replicator: the fake never fails for good.
func (f *Fake) Err() error { return nil }

// SetApplyingFor makes Status report the FSM inside one apply for d, as a
// leader whose FSM is stuck on its disk would.
func (f *Fake) SetApplyingFor(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applyingFor = d
}

// StatusCalls counts the Status calls so far.
func (f *Fake) StatusCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statusCalls
}

// SetServers sets the Raft configuration Servers reports.
func (f *Fake) SetServers(peers []raftfsm.Peer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.servers = slices.Clone(peers)
}

// Hold makes Produce and CommitOffsets calls wait until release is
// called; Entered receives once for every call that started waiting.
func (f *Fake) Hold() (release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := make(chan struct{})
	f.hold = h
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			f.hold = nil
			f.mu.Unlock()
			close(h)
		})
	}
}

// Entered receives once for every Produce call held by Hold.
func (f *Fake) Entered() <-chan struct{} { return f.entered }

// ProduceCalls returns the message count of every Produce call so far.
func (f *Fake) ProduceCalls() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.produces)
}

// CommitCalls returns the commit count of every CommitOffsets call so far.
func (f *Fake) CommitCalls() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.commitBatches)
}

// wait blocks while a Hold is active.
func (f *Fake) wait(ctx context.Context) error {
	f.mu.Lock()
	hold, ok := f.hold, f.leader
	f.mu.Unlock()
	if !ok {
		return raftfsm.ErrNotLeader
	}
	if hold != nil {
		f.entered <- struct{}{}
		select {
		case <-hold:
		case <-ctx.Done():
			return raftfsm.ErrUnknownOutcome
		}
	}
	return nil
}

// FailProduces makes Produce fail with err, as the real replica does with
// the errors it maps from Raft (nil: succeed).
func (f *Fake) FailProduces(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.produceErr = err
}

// Produce implements broker.Replicator. Like the real FSM, it checks each
// request on its own: a request naming a missing topic or queue fails
// alone, and an idempotent request seen before returns the original's
// results without storing anything (the fake remembers every sequence).
func (f *Fake) Produce(ctx context.Context, reqs []raftfsm.ProduceRequest) ([]raftfsm.ProduceResult, error) {
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.leader {
		return nil, raftfsm.ErrNotLeader
	}
	if f.produceErr != nil {
		return nil, f.produceErr
	}
	f.index++
	now := time.Now().UnixMilli()
	out := make([]raftfsm.ProduceResult, len(reqs))
	var msgs []*store.Message
	var fresh []int
	for i, r := range reqs {
		if err := f.checkTopicsLocked(r.Msgs); err != nil {
			out[i].Err = err
			continue
		}
		if r.Idempotent {
			if orig, ok := f.seqs[seqKey{r.ProducerID, r.Seq}]; ok {
				for k, m := range r.Msgs {
					m.QueueID, m.QueueOffset, m.CommitLogOffset = orig.queues[k], orig.res[k].QueueOffset, orig.res[k].CommitLogOffset
				}
				out[i] = raftfsm.ProduceResult{Results: orig.res, Duplicate: true}
				continue
			}
		}
		for _, m := range r.Msgs {
			m.StoreTimestamp, m.RaftIndex = now, f.index
		}
		msgs = append(msgs, r.Msgs...)
		fresh = append(fresh, i)
	}
	if len(msgs) == 0 {
		return out, nil
	}
	res, err := f.st.Append(msgs)
	if err != nil {
		return nil, err
	}
	for _, i := range fresh {
		r := reqs[i]
		out[i].Results, res = res[:len(r.Msgs):len(r.Msgs)], res[len(r.Msgs):]
		if r.Idempotent {
			qs := make([]uint32, len(r.Msgs))
			for k, m := range r.Msgs {
				qs[k] = m.QueueID
			}
			f.seqs[seqKey{r.ProducerID, r.Seq}] = seqResult{res: out[i].Results, queues: qs}
		}
	}
	f.produces = append(f.produces, len(msgs))
	f.appliedLocked()
	return out, nil
}

type seqKey struct{ producer, seq uint64 }

type seqResult struct {
	res    []store.AppendResult
	queues []uint32
}

// checkTopicsLocked refuses messages to unknown topics or queues.
func (f *Fake) checkTopicsLocked(msgs []*store.Message) error {
	for _, m := range msgs {
		if t, ok := f.topics[m.Topic]; !ok || !t.HasQueue(m.QueueID) {
			return raftfsm.ErrTopicNotFound
		}
	}
	return nil
}

// Append writes messages directly, as a replicated entry would on a
// follower, and wakes long polls.
func (f *Fake) Append(msgs []*store.Message) ([]store.AppendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	for _, m := range msgs {
		m.StoreTimestamp, m.RaftIndex = time.Now().UnixMilli(), f.index
	}
	res, err := f.st.Append(msgs)
	if err == nil {
		f.appliedLocked()
	}
	return res, err
}

// Tick simulates an FSM apply that touches no queue (wakes long polls).
func (f *Fake) Tick() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	f.appliedLocked()
}

func (f *Fake) appliedLocked() {
	close(f.applied)
	f.applied = make(chan struct{})
}

// writeLocked checks leadership for a write.
func (f *Fake) writeLocked() error {
	if f.closed {
		return raftfsm.ErrUnavailable
	}
	if !f.leader {
		return raftfsm.ErrNotLeader
	}
	f.index++
	f.appliedLocked()
	return nil
}

// CommitOffsets implements broker.Replicator.
func (f *Fake) CommitOffsets(ctx context.Context, commits []raftfsm.OffsetCommit) error {
	if err := f.wait(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.writeLocked(); err != nil {
		return err
	}
	for _, c := range commits {
		f.offsets[offsetKey{c.Group, c.Topic, c.QueueID}] = c.Offset
	}
	f.commitBatches = append(f.commitBatches, len(commits))
	return nil
}

// CreateTopic implements broker.Replicator.
func (f *Fake) CreateTopic(_ context.Context, t raftfsm.Topic) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.topics[t.Name]; ok {
		if old == t {
			return nil
		}
		return raftfsm.ErrTopicExists
	}
	if err := f.writeLocked(); err != nil {
		return err
	}
	f.topics[t.Name] = t
	return nil
}

// DeleteTopic implements broker.Replicator.
func (f *Fake) DeleteTopic(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.writeLocked(); err != nil {
		return err
	}
	if _, ok := f.topics[name]; !ok {
		return raftfsm.ErrTopicNotFound
	}
	delete(f.topics, name)
	return nil
}

// Topic implements broker.Replicator.
func (f *Fake) Topic(name string) (raftfsm.Topic, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.topics[name]
	return t, ok
}

// Topics implements broker.Replicator.
func (f *Fake) Topics() []raftfsm.Topic {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []raftfsm.Topic
	for _, t := range f.topics {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b raftfsm.Topic) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Offset implements broker.Replicator.
func (f *Fake) Offset(group, topic string, queueID uint32) (uint64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	off, ok := f.offsets[offsetKey{group, topic, queueID}]
	return off, ok
}

// Groups implements broker.Replicator.
func (f *Fake) Groups() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.offsets {
		out = append(out, k.group)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Store implements broker.Replicator.
func (f *Fake) Store() *store.Store {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

// Applied implements broker.Replicator.
func (f *Fake) Applied() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// IsLeader implements broker.Replicator.
func (f *Fake) IsLeader() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leader
}

// Leader implements broker.Replicator.
func (f *Fake) Leader() (id, raftAddr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leaderID == "" {
		return "", ""
	}
	return f.leaderID, f.leaderID + ":raft"
}

// Term implements broker.Replicator.
func (f *Fake) Term() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.term
}

// Status implements broker.Replicator.
func (f *Fake) Status() raftfsm.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statusCalls++
	role := "Follower"
	if f.leader {
		role = "Leader"
	}
	disk := f.st.LastDiskState()
	return raftfsm.Status{
		ID: f.id, RaftAddr: f.raftAddr, Role: role, Term: f.term,
		AppliedIndex: f.index, CommitIndex: f.index + f.commitAhead, LastLog: f.index + f.commitAhead,
		CommitLogEnd: f.st.MaxCommitLogOffset(), LeaderID: f.leaderID, ApplyingFor: f.applyingFor,
		DiskFull: disk.Full, DiskUsed: disk.Used,
	}
}

// Servers implements broker.Replicator.
func (f *Fake) Servers() ([]raftfsm.Peer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.servers), nil
}

// TransferLeadership implements broker.Replicator: it makes target (or
// any other server) the leader.
func (f *Fake) TransferLeadership(target string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.transfers++
	f.requested = append(f.requested, target)
	if !f.leader {
		return raftfsm.ErrNotLeader
	}
	if f.transferErr != nil {
		return f.transferErr
	}
	if target == "" {
		for _, s := range f.servers {
			if s.ID != f.id {
				target = s.ID
				break
			}
		}
	}
	if target == "" || target == f.id {
		return errors.New("fakerepl: no other voter")
	}
	f.targets = append(f.targets, target)
	f.leader, f.leaderID = false, target
	return nil
}

// RemoveServer implements broker.Replicator: it drops id from Servers.
func (f *Fake) RemoveServer(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.leader {
		return raftfsm.ErrNotLeader
	}
	f.servers = slices.DeleteFunc(f.servers, func(p raftfsm.Peer) bool { return p.ID == id })
	return nil
}

// Close implements broker.Replicator.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed, f.leader = true, false
	return f.st.Close()
}
