package raftfsm

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/internal/testutil"
)

// gatedStore is a log store whose appends can be held at a gate, and
// counts them.
type gatedStore struct {
	raft.LogStore
	mu     sync.Mutex
	cond   *sync.Cond
	closed bool  // appends wait while closed
	fail   error // appends fail with it when set
	calls  [][]uint64
	parked int // appends waiting at the gate
	// delay, when set, is how long each append sleeps first (a slow disk).
	delay func() time.Duration
}

func newGatedStore(s raft.LogStore) *gatedStore {
	g := &gatedStore{LogStore: s}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gatedStore) StoreLogs(logs []*raft.Log) error {
	if g.delay != nil {
		time.Sleep(g.delay())
	}
	g.mu.Lock()
	g.parked++
	g.cond.Broadcast()
	for g.closed {
		g.cond.Wait()
	}
	g.parked--
	var idx []uint64
	for _, l := range logs {
		idx = append(idx, l.Index)
	}
	g.calls = append(g.calls, idx)
	err := g.fail
	g.mu.Unlock()
	if err != nil {
		return err
	}
	return g.LogStore.StoreLogs(logs)
}

func (g *gatedStore) StoreLog(l *raft.Log) error { return g.StoreLogs([]*raft.Log{l}) }

// IsMonotonic passes on the wrapped store's answer, as leaderLog does.
func (g *gatedStore) IsMonotonic() bool {
	m, ok := g.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

func (g *gatedStore) setClosed(closed bool) {
	g.mu.Lock()
	g.closed = closed
	g.cond.Broadcast()
	g.mu.Unlock()
}

func (g *gatedStore) parkedCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.parked
}

func (g *gatedStore) callList() [][]uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]uint64(nil), g.calls...)
}

func entries(from, to uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte(strconv.FormatUint(i, 10))})
	}
	return out
}

// newTestLeaderLog returns a leader log over a gated in-memory store, on
// the leader path.
func newTestLeaderLog(t *testing.T, g *gatedStore, onFail func(error)) *leaderLog {
	t.Helper()
	l, err := newLeaderLog(g, onFail)
	if err != nil {
		t.Fatal(err)
	}
	setLeading(l, true)
	return l
}

// mustStore appends entries from..to.
func mustStore(t *testing.T, l *leaderLog, from, to uint64) {
	t.Helper()
	if err := l.StoreLogs(entries(from, to)); err != nil {
		t.Fatal(err)
	}
}

func setLeading(l *leaderLog, leading bool) {
	f := func() bool { return leading }
	l.leading.Store(&f)
}

// done reports whether ch is closed now.
func done(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestLeaderLogWritesInBackground(t *testing.T) {
	g := newGatedStore(raft.NewInmemStore())
	var failed []error
	l := newTestLeaderLog(t, g, func(err error) { failed = append(failed, err) })
	defer l.Close()

	g.setClosed(true)
	mustStore(t, l, 1, 3)
	testutil.WaitFor(t, 5*time.Second, "the writer at the gate", func() bool { return g.parkedCount() == 1 })
	// Queued while the first write is held: both go out in one append.
	mustStore(t, l, 4, 4)
	mustStore(t, l, 5, 6)
	if d := l.Durable(); d != 0 {
		t.Fatalf("durable %d before any write finished", d)
	}
	var got raft.Log
	if err := l.GetLog(5, &got); err != nil || string(got.Data) != "5" {
		t.Fatalf("GetLog(5) of a queued entry = %q, %v", got.Data, err)
	}
	if first, _ := l.FirstIndex(); first != 1 {
		t.Fatalf("FirstIndex %d, want 1", first)
	}
	if last, _ := l.LastIndex(); last != 6 {
		t.Fatalf("LastIndex %d, want 6", last)
	}

	waited := make(chan struct{})
	go func() {
		if err := l.waitDurable(4); err != nil {
			t.Error(err)
		}
		close(waited)
	}()
	// A follower append waits for everything queued before it.
	followerDone := make(chan struct{})
	go func() {
		setLeading(l, false)
		if err := l.StoreLogs(entries(7, 7)); err != nil {
			t.Error(err)
		}
		close(followerDone)
	}()
	testutil.WaitFor(t, 5*time.Second, "the follower append to queue behind the writer", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.drains == 1
	})
	if done(waited) || done(followerDone) {
		t.Fatal("an entry counted as durable while its write was held")
	}
	g.setClosed(false)
	<-waited
	<-followerDone
	if d := l.Durable(); d != 7 {
		t.Fatalf("durable %d, want 7", d)
	}
	calls := g.callList()
	want := [][]uint64{{1, 2, 3}, {4, 5, 6}, {7}}
	if len(calls) != len(want) {
		t.Fatalf("appends %v, want %v", calls, want)
	}
	for i := range want {
		if len(calls[i]) != len(want[i]) || calls[i][0] != want[i][0] {
			t.Fatalf("appends %v, want %v", calls, want)
		}
	}
	if len(failed) != 0 {
		t.Fatalf("onFail called: %v", failed)
	}

	// Compacting a prefix keeps the durable index; removing a suffix
	// lowers it.
	if err := l.DeleteRange(1, 2); err != nil {
		t.Fatal(err)
	}
	if d := l.Durable(); d != 7 {
		t.Fatalf("durable %d after prefix compaction, want 7", d)
	}
	if err := l.DeleteRange(6, 7); err != nil {
		t.Fatal(err)
	}
	if d := l.Durable(); d != 5 {
		t.Fatalf("durable %d after removing 6-7, want 5", d)
	}
}

func TestLeaderLogWriteFailureIsSticky(t *testing.T) {
	g := newGatedStore(raft.NewInmemStore())
	boom := errors.New("disk on fire")
	g.fail = boom
	failed := make(chan error, 1)
	l := newTestLeaderLog(t, g, func(err error) { failed <- err })
	defer l.Close()
	mustStore(t, l, 1, 2)
	if err := <-failed; !errors.Is(err, boom) {
		t.Fatalf("onFail got %v", err)
	}
	if err := l.waitDurable(2); !errors.Is(err, boom) {
		t.Fatalf("waitDurable = %v, want the write error", err)
	}
	if err := l.StoreLogs(entries(3, 3)); !errors.Is(err, boom) {
		t.Fatalf("leader append after a failure = %v, want the write error", err)
	}
	setLeading(l, false)
	if err := l.StoreLogs(entries(3, 3)); !errors.Is(err, boom) {
		t.Fatalf("follower append after a failure = %v, want the write error", err)
	}
}

func TestLeaderLogCloseWritesQueued(t *testing.T) {
	g := newGatedStore(raft.NewInmemStore())
	l := newTestLeaderLog(t, g, func(error) {})
	g.setClosed(true)
	mustStore(t, l, 1, 1)
	testutil.WaitFor(t, 5*time.Second, "the writer at the gate", func() bool { return g.parkedCount() == 1 })
	mustStore(t, l, 2, 3)
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	g.setClosed(false)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if last, _ := g.LogStore.LastIndex(); last != 3 {
		t.Fatalf("store holds up to %d after Close, want 3", last)
	}
	if err := l.StoreLogs(entries(4, 4)); !errors.Is(err, errLogClosed) {
		t.Fatalf("append after Close = %v", err)
	}
}

// gatedCluster is a three-node group whose Raft log stores are gated.
func gatedCluster(t *testing.T, tweak func(*Config)) (*cluster, func(id string) *gatedStore) {
	gates := map[string]*gatedStore{}
	var mu sync.Mutex
	c := newCluster(t, 3, func(cfg *Config) {
		id := cfg.NodeID
		cfg.WrapLogStore = func(s raft.LogStore) raft.LogStore {
			g := newGatedStore(s)
			mu.Lock()
			gates[id] = g
			mu.Unlock()
			return g
		}
		if tweak != nil {
			tweak(cfg)
		}
	})
	return c, func(id string) *gatedStore {
		mu.Lock()
		defer mu.Unlock()
		return gates[id]
	}
}

// produceAsync produces one message to queue 0 of topic on n; the result
// arrives on the channel.
func produceAsync(n *Node, topic, body string) <-chan ProduceResult {
	res := make(chan ProduceResult, 1)
	go func() {
		out, err := n.Produce(context.Background(), []ProduceRequest{{Msgs: []*Message{{Topic: topic, QueueID: 0, Body: []byte(body)}}}})
		if err != nil {
			res <- ProduceResult{Err: err}
			return
		}
		res <- out[0]
	}()
	return res
}

// lastLogIndex is the newest entry in n's Raft log.
func lastLogIndex(n *Node) uint64 {
	i, _ := strconv.ParseUint(n.raft.Stats()["last_log_index"], 10, 64)
	return i
}

func commitIndex(n *Node) uint64 {
	i, _ := strconv.ParseUint(n.raft.Stats()["commit_index"], 10, 64)
	return i
}

// heldUntilClamped waits until hashicorp/raft on the leader l counts the
// newest entry committed and has sent several AppendEntries with the
// commit index clamped, then checks that res has no answer and that no
// node applied the entry and no follower learned it was committed.
func heldUntilClamped(t *testing.T, c *cluster, li int, res <-chan ProduceResult) {
	t.Helper()
	l := c.nodes[li]
	index := lastLogIndex(l)
	testutil.WaitFor(t, 5*time.Second, "hashicorp/raft to commit the entry", func() bool { return commitIndex(l) >= index })
	base := l.clamp.clamped.Load()
	testutil.WaitFor(t, 5*time.Second, "clamped AppendEntries", func() bool { return l.clamp.clamped.Load() >= base+4 })
	select {
	case r := <-res:
		t.Fatalf("produce returned (%v) before the entry was durable on a quorum", r.Err)
	default:
	}
	for i, n := range c.nodes {
		if a := n.appliedIndex.Load(); a >= index {
			t.Fatalf("node %d applied index %d, an entry not durable on a quorum", i, a)
		}
		if i != li && commitIndex(n) >= index {
			t.Fatalf("follower %d learned commit index %d >= %d", i, commitIndex(n), index)
		}
	}
}

// TestLeaderCopyGatesCommit (append mode "own") holds the leader's own
// Raft log write: the followers store and acknowledge the entry
// (hashicorp/raft counts it as committed), but no replica may apply it
// and the produce must not return until the leader's copy is durable too.
func TestLeaderCopyGatesCommit(t *testing.T) {
	c, gate := gatedCluster(t, func(cfg *Config) { cfg.LeaderCopyBeforeApply = true })
	li, l := c.leader()
	if err := l.CreateTopic(context.Background(), Topic{Name: "gate", Queues: 1}); err != nil {
		t.Fatal(err)
	}
	produce(t, l, "gate", 0, "before")
	c.sameLogs("gate", 1)

	g := gate(l.cfg.NodeID)
	g.setClosed(true)
	defer g.setClosed(false)
	res := produceAsync(l, "gate", "held")
	testutil.WaitFor(t, 5*time.Second, "the leader's write at the gate", func() bool { return g.parkedCount() == 1 })
	heldUntilClamped(t, c, li, res)
	if e := l.leaderLog.early.Load(); e != 0 {
		t.Fatalf("%d entries released by the followers alone in mode own", e)
	}
	g.setClosed(false)
	if r := <-res; r.Err != nil {
		t.Fatal(r.Err)
	}
	c.sameLogs("gate", 1)
}

// TestFollowerQuorumCommitsWithoutLeaderCopy (the default append mode)
// holds the leader's own write and one follower's: one follower's durable
// copy is not enough, and nothing is answered or applied. Once the second
// follower's copy is durable, the followers alone are a quorum: the
// produce returns although the leader's copy is still not durable. Then
// the leader's write fails (its copy is lost, as in a crash): the node
// stops, a follower takes over with the entry at the offset the client
// was given, and the old leader, restarted, converges without a
// duplicate.
func TestFollowerQuorumCommitsWithoutLeaderCopy(t *testing.T) {
	c, gate := gatedCluster(t, nil)
	li, l := c.leader()
	if err := l.CreateTopic(context.Background(), Topic{Name: "gate", Queues: 1}); err != nil {
		t.Fatal(err)
	}
	produce(t, l, "gate", 0, "before")
	c.sameLogs("gate", 1)

	lg, fg := gate(l.cfg.NodeID), gate(c.nodes[(li+1)%3].cfg.NodeID)
	lg.setClosed(true)
	fg.setClosed(true)
	defer lg.setClosed(false)
	defer fg.setClosed(false)
	res := produceAsync(l, "gate", "held")
	testutil.WaitFor(t, 5*time.Second, "the leader's and one follower's writes at the gate", func() bool {
		return lg.parkedCount() == 1 && fg.parkedCount() == 1
	})
	heldUntilClamped(t, c, li, res)

	index := lastLogIndex(l)
	fg.setClosed(false)
	var got ProduceResult
	select {
	case got = <-res:
	case <-time.After(10 * time.Second):
		t.Fatal("produce did not return with the entry durable on both followers")
	}
	if got.Err != nil {
		t.Fatal(got.Err)
	}
	if d := l.leaderLog.Durable(); d >= index {
		t.Fatalf("leader's copy durable (%d >= %d): the test did not hold it", d, index)
	}
	if e := l.leaderLog.early.Load(); e == 0 {
		t.Fatal("the produce was not released by the followers' quorum")
	}
	want := got.Results[0]

	// The leader loses its copy: its write fails and the node stops.
	lg.mu.Lock()
	lg.fail = errors.New("disk gone")
	lg.mu.Unlock()
	lg.setClosed(false)
	testutil.WaitFor(t, 10*time.Second, "the leader to fail", func() bool { return l.failedErr() != nil })
	c.kill(li)
	_, nl := c.leader()
	testutil.WaitFor(t, 10*time.Second, "the new leader to apply the entry", func() bool {
		return nl.Store().MaxOffset("gate", 0) > want.QueueOffset
	})
	m, err := nl.Store().ReadMessage(want.CommitLogOffset)
	if err != nil || string(m.Body) != "held" || m.QueueOffset != want.QueueOffset {
		t.Fatalf("new leader at CommitLog offset %d: %q at queue offset %d, %v; want the acknowledged message at %d",
			want.CommitLogOffset, m.Body, m.QueueOffset, err, want.QueueOffset)
	}
	c.start(li)
	produce(t, nl, "gate", 0, "after")
	c.sameLogs("gate", 1)
	if end := c.nodes[li].Store().MaxOffset("gate", 0); end != 3 {
		t.Fatalf("restarted old leader's queue ends at %d, want 3 (before, held, after)", end)
	}
}

// TestLaggingWALFollowerCatchesUpBySnapshot: a follower whose raft-wal log
// is not empty but ends before the leader's compacted log installs a
// snapshot and carries on. raft-wal refuses an append that leaves a gap,
// so hashicorp/raft must empty the log after the install (it does for a
// MonotonicLogStore, which the log store wrappers must pass on).
func TestLaggingWALFollowerCatchesUpBySnapshot(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) {
		cfg.LogStore = LogStoreWAL
		cfg.walSegmentSize = 32 << 10 // compaction deletes whole segments
		cfg.TrailingLogs = 16
		cfg.SnapshotThreshold = 16
	})
	li, l := c.leader()
	ctx := context.Background()
	if err := l.CreateTopic(ctx, Topic{Name: "t", Queues: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		produce(t, l, "t", uint32(i%2), fmt.Sprint("before-", i))
	}
	c.sameLogs("t", 2)
	f := (li + 1) % 3
	fLast, err := c.nodes[f].logStore.LastIndex()
	if err != nil || fLast == 0 {
		t.Fatalf("follower's log: last %d, %v", fLast, err)
	}
	c.kill(f)
	testutil.WaitFor(t, 30*time.Second, "the leader's log compacted past the follower's end", func() bool {
		produce(t, l, "t", 0, fmt.Sprintf("during-%0500d", 0))
		if err := l.Snapshot(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
			t.Logf("snapshot: %v", err)
		}
		// raft-wal serves compacted entries until their segment is
		// deleted: wait until the follower's next entry is really gone.
		var e raft.Log
		return errors.Is(l.logStore.GetLog(fLast+1, &e), raft.ErrLogNotFound)
	})
	c.cfgs[f].Bootstrap = false
	c.start(f)
	produce(t, l, "t", 1, "after")
	c.sameLogs("t", 2)
	if c.nodes[f].installs.Load() == 0 {
		t.Fatal("the follower caught up without a snapshot install; the test did not exercise it")
	}
	// It takes new entries after the install.
	produce(t, l, "t", 1, "after-2")
	c.sameLogs("t", 2)
}

// TestFollowerAcksCountOnlyDurableCurrentTermAcks pins which
// acknowledgements followerAcks counts towards a quorum.
func TestFollowerAcksCountOnlyDurableCurrentTermAcks(t *testing.T) {
	term := uint64(5)
	voters := []raft.ServerID{"l", "a", "b"}
	a := &followerAcks{raft: func() (uint64, []raft.Server) {
		var out []raft.Server
		for _, id := range voters {
			out = append(out, raft.Server{ID: id, Suffrage: raft.Voter})
		}
		return term, out
	}}
	ae := func(reqTerm, lastTerm, prev uint64, n int) *raft.AppendEntriesRequest {
		req := &raft.AppendEntriesRequest{Term: reqTerm, PrevLogEntry: prev}
		for i := range n {
			req.Entries = append(req.Entries, &raft.Log{Index: prev + 1 + uint64(i), Term: lastTerm})
		}
		return req
	}
	ok := func(term uint64) *raft.AppendEntriesResponse {
		return &raft.AppendEntriesResponse{Term: term, Success: true}
	}

	// A heartbeat (no entries), a refused request, an answer from a newer
	// term and a batch ending in an older term's entry do not count.
	for _, c := range []struct {
		name string
		req  *raft.AppendEntriesRequest
		resp *raft.AppendEntriesResponse
	}{
		{"heartbeat", ae(5, 5, 10, 0), ok(5)},
		{"refused", ae(5, 5, 10, 2), &raft.AppendEntriesResponse{Term: 5}},
		{"newer term answered", ae(5, 5, 10, 2), ok(6)},
		{"older term's entries", ae(5, 4, 10, 2), ok(5)},
	} {
		if a.record("a", c.req, c.resp) || a.record("b", c.req, c.resp) {
			t.Errorf("%s counted", c.name)
		}
	}
	if a.quorumHolds(1) {
		t.Fatal("quorum from acknowledgements that do not count")
	}
	// One follower is not a quorum of three (and wakes nobody); two are,
	// up to the lower of their indexes.
	if a.record("a", ae(5, 5, 10, 2), ok(5)) || a.quorumHolds(12) {
		t.Fatal("one follower of three made a quorum")
	}
	if !a.record("b", ae(5, 5, 10, 1), ok(5)) {
		t.Fatal("second follower's acknowledgement did not raise the quorum index")
	}
	if !a.quorumHolds(11) || a.quorumHolds(12) {
		t.Fatalf("quorum of a@12, b@11: holds(11)=%v holds(12)=%v, want true, false", a.quorumHolds(11), a.quorumHolds(12))
	}
	// A stale answer (lower index), an older term's, and a rise of the
	// faster follower alone change nothing.
	if a.record("a", ae(5, 5, 10, 1), ok(5)) || a.record("a", ae(4, 4, 20, 5), ok(4)) || a.record("a", ae(5, 5, 12, 1), ok(5)) {
		t.Fatal("acknowledgement raised the quorum index")
	}
	if !a.record("b", ae(5, 5, 11, 2), ok(5)) || !a.quorumHolds(13) {
		t.Fatal("slower follower's acknowledgement did not raise the quorum index to 13")
	}
	// A non-voter is not counted, and five voters need three followers.
	voters = []raft.ServerID{"l", "a", "b", "c", "d"}
	a.record("x", ae(5, 5, 10, 5), ok(5))
	if a.quorumHolds(13) {
		t.Fatal("two followers (plus a non-voter) made a quorum of five")
	}
	a.record("c", ae(5, 5, 10, 3), ok(5))
	if !a.quorumHolds(13) {
		t.Fatal("three followers of five are a quorum")
	}
	// Once Raft is in a newer term, the old term's acknowledgements do not
	// count; the first acknowledgement of the new term starts afresh.
	term = 6
	if a.quorumHolds(13) {
		t.Fatal("acknowledgements of term 5 counted in term 6")
	}
	a.record("a", ae(6, 6, 30, 1), ok(6))
	a.record("b", ae(6, 6, 30, 1), ok(6))
	if a.quorumHolds(11) {
		t.Fatal("term 5's acknowledgement from c counted with term 6's")
	}
	a.record("c", ae(6, 6, 30, 1), ok(6))
	if !a.quorumHolds(31) {
		t.Fatal("three followers of five in term 6")
	}
}

// TestFormerLeaderWritesBeforeMatching: a node that is no longer the
// leader writes its queued entries before GetLog returns one of them, so
// a follower that finds an AppendEntries' entries already in its log
// acknowledges only durable entries.
func TestFormerLeaderWritesBeforeMatching(t *testing.T) {
	g := newGatedStore(raft.NewInmemStore())
	l := newTestLeaderLog(t, g, func(error) {})
	defer l.Close()
	g.setClosed(true)
	mustStore(t, l, 1, 2)
	testutil.WaitFor(t, 5*time.Second, "the writer at the gate", func() bool { return g.parkedCount() == 1 })
	var got raft.Log
	if err := l.GetLog(2, &got); err != nil || string(got.Data) != "2" {
		t.Fatalf("leader's GetLog(2) of a queued entry = %q, %v", got.Data, err)
	}
	setLeading(l, false)
	done := make(chan error, 1)
	go func() { done <- l.GetLog(2, &got) }()
	testutil.WaitFor(t, 5*time.Second, "GetLog to wait for the writer", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.drains == 1
	})
	if l.Durable() != 0 {
		t.Fatal("durable before the gate opened")
	}
	g.setClosed(false)
	if err := <-done; err != nil || string(got.Data) != "2" || l.Durable() != 2 {
		t.Fatalf("follower's GetLog(2) = %q, %v with durable %d; want the entry, written", got.Data, err, l.Durable())
	}
}

// TestLogCacheUnderLeaderLog pins the order of the Raft log store's
// layers: hashicorp/raft talks to the leader log, and the log cache is
// under it. A cache over it would answer a former leader's GetLog for a
// queued entry from memory, without the write TestFormerLeaderWritesBeforeMatching
// requires.
func TestLogCacheUnderLeaderLog(t *testing.T) {
	c := newCluster(t, 1, func(cfg *Config) { cfg.LogCacheEntries = 16 })
	n := c.nodes[0]
	ll, ok := n.logStore.(*leaderLog)
	if !ok || ll != n.leaderLog {
		t.Fatalf("raft's log store is %T, want the leader log", n.logStore)
	}
	if _, ok := ll.LogStore.(*raft.LogCache); !ok {
		t.Fatalf("under the leader log: %T, want the log cache", ll.LogStore)
	}
}

// TestQuorumWaitsForLeaderConfigCopy: with a quorum of followers holding
// an entry, waitDurable releases it before the leader's copy is durable,
// except while a configuration entry the leader queued is not durable on
// the leader; waitOwn (snapshots) never takes the followers' word.
func TestQuorumWaitsForLeaderConfigCopy(t *testing.T) {
	g := newGatedStore(raft.NewInmemStore())
	l := newTestLeaderLog(t, g, func(error) {})
	defer l.Close()
	yes := func(uint64) bool { return true }
	l.quorum.Store(&yes)

	g.setClosed(true)
	mustStore(t, l, 1, 2)
	testutil.WaitFor(t, 5*time.Second, "the writer at the gate", func() bool { return g.parkedCount() == 1 })
	if err := l.waitDurable(2); err != nil {
		t.Fatalf("waitDurable(2) released by the followers: %v", err)
	}
	own := make(chan error, 1)
	go func() { own <- l.waitOwn(2) }()

	cfg := &raft.Log{Index: 3, Term: 1, Type: raft.LogConfiguration, Data: []byte("cfg")}
	if err := l.StoreLogs(append([]*raft.Log{cfg}, entries(4, 4)...)); err != nil {
		t.Fatal(err)
	}
	held := make(chan error, 1)
	go func() { held <- l.waitDurable(4) }()
	select {
	case err := <-held:
		t.Fatalf("entry after an unsynced configuration entry released (%v)", err)
	case err := <-own:
		t.Fatalf("waitOwn returned (%v) before the leader's copy was durable", err)
	case <-time.After(100 * time.Millisecond):
	}
	g.setClosed(false)
	if err := <-own; err != nil || l.Durable() < 2 {
		t.Fatalf("waitOwn(2) = %v with durable %d", err, l.Durable())
	}
	if err := <-held; err != nil || l.Durable() < 3 {
		t.Fatalf("waitDurable(4) = %v with durable %d, want the configuration entry durable first", err, l.Durable())
	}
}

// TestQuorumStopsAtUnsyncedLimit: past maxUnsynced bytes queued on the
// leader, the followers' quorum releases nothing until the leader's own
// writes catch up, so a leader whose disk stalls does not queue without
// bound.
func TestQuorumStopsAtUnsyncedLimit(t *testing.T) {
	g := newGatedStore(raft.NewInmemStore())
	l := newTestLeaderLog(t, g, func(error) {})
	defer l.Close()
	l.maxUnsynced = 10
	yes := func(uint64) bool { return true }
	l.quorum.Store(&yes)

	g.setClosed(true)
	mustStore(t, l, 1, 1) // 1 byte of data
	testutil.WaitFor(t, 5*time.Second, "the writer at the gate", func() bool { return g.parkedCount() == 1 })
	if err := l.waitDurable(1); err != nil {
		t.Fatal(err)
	}
	big := &raft.Log{Index: 2, Term: 1, Type: raft.LogCommand, Data: make([]byte, 20)}
	if err := l.StoreLogs([]*raft.Log{big}); err != nil {
		t.Fatal(err)
	}
	held := make(chan error, 1)
	go func() { held <- l.waitDurable(2) }()
	select {
	case err := <-held:
		t.Fatalf("released (%v) with %d bytes unsynced, limit 10", err, l.unsynced.Load())
	case <-time.After(100 * time.Millisecond):
	}
	g.setClosed(false)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "nothing unsynced", func() bool { return l.unsynced.Load() == 0 })
}

// TestSnapshotNotAheadOfOwnLog: a snapshot never claims an index the
// leader's own Raft log does not hold durably, although hashicorp/raft
// counts no-op and barrier entries (which never reach ApplyBatch) in the
// snapshot's index (found by review).
func TestSnapshotNotAheadOfOwnLog(t *testing.T) {
	var (
		mu   sync.Mutex
		gate *gatedStore
	)
	c := newCluster(t, 1, func(cfg *Config) {
		cfg.SnapshotInterval = time.Hour
		cfg.WrapLogStore = func(s raft.LogStore) raft.LogStore {
			mu.Lock()
			defer mu.Unlock()
			gate = newGatedStore(s)
			return gate
		}
	})
	_, n := c.leader()
	if err := n.raft.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "log durable", func() bool { return n.leaderLog.Durable() >= lastLogIndex(n) })
	mu.Lock()
	g := gate
	mu.Unlock()
	g.setClosed(true)
	defer g.setClosed(false)
	// The leader's own copy of the barrier stays unwritten; a single node
	// commits it with the queued copy counted.
	if err := n.raft.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Snapshot() }()
	select {
	case err := <-done:
		metas, _ := n.snaps.List()
		t.Fatalf("snapshot returned (%v, newest %v) while the leader's log is durable to %d", err, metas, n.leaderLog.Durable())
	case <-time.After(300 * time.Millisecond):
	}
	g.setClosed(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	metas, err := n.snaps.List()
	if err != nil || len(metas) == 0 || metas[0].Index > n.leaderLog.Durable() {
		t.Fatalf("snapshot %v (%v) ahead of the durable log %d", metas, err, n.leaderLog.Durable())
	}
}

// TestInstalledSnapshotSetsDurable: after a snapshot install the durable
// index covers the snapshot, and a log emptied after the install is
// durable up to the snapshot, not up to the old entries it held.
func TestInstalledSnapshotSetsDurable(t *testing.T) {
	l := newTestLeaderLog(t, newGatedStore(raft.NewInmemStore()), func(error) {})
	defer l.Close()
	setLeading(l, false)
	mustStore(t, l, 1, 10) // a follower's log, old entries up to 10
	if err := l.restored(5); err != nil || l.Durable() != 10 {
		t.Fatalf("restored(5) over a log to 10: %v, durable %d", err, l.Durable())
	}
	if err := l.DeleteRange(1, 10); err != nil {
		t.Fatal(err)
	}
	if d := l.Durable(); d != 5 {
		t.Fatalf("log emptied after installing snapshot 5: durable %d, want 5", d)
	}
	if err := l.restored(20); err != nil || l.Durable() != 20 {
		t.Fatalf("restored(20) over an empty log: %v, durable %d", err, l.Durable())
	}
}
