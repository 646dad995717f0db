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
}

func newGatedStore(s raft.LogStore) *gatedStore {
	g := &gatedStore{LogStore: s}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gatedStore) StoreLogs(logs []*raft.Log) error {
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

// TestLeaderCopyGatesCommit holds the leader's own Raft log write: the
// followers store and acknowledge the entry (hashicorp/raft counts it as
// committed), but no replica may apply it and the produce must not return
// until the leader's copy is durable too.
func TestLeaderCopyGatesCommit(t *testing.T) {
	gates := map[string]*gatedStore{}
	var gatesMu sync.Mutex
	c := newCluster(t, 3, func(cfg *Config) {
		id := cfg.NodeID
		cfg.wrapLog = func(s raft.LogStore) raft.LogStore {
			g := newGatedStore(s)
			gatesMu.Lock()
			gates[id] = g
			gatesMu.Unlock()
			return g
		}
	})
	li, l := c.leader()
	if err := l.CreateTopic(context.Background(), Topic{Name: "gate", Queues: 1}); err != nil {
		t.Fatal(err)
	}
	produce(t, l, "gate", 0, "before")
	c.sameLogs("gate", 1)

	gatesMu.Lock()
	g := gates[l.cfg.NodeID]
	gatesMu.Unlock()
	g.setClosed(true)
	defer g.setClosed(false)
	res := make(chan error, 1)
	go func() {
		out, err := l.Produce(context.Background(), []ProduceRequest{{Msgs: []*Message{{Topic: "gate", QueueID: 0, Body: []byte("held")}}}})
		if err == nil {
			err = out[0].Err
		}
		res <- err
	}()
	testutil.WaitFor(t, 5*time.Second, "the leader's write at the gate", func() bool { return g.parkedCount() == 1 })
	index, _ := strconv.ParseUint(l.raft.Stats()["last_log_index"], 10, 64)
	testutil.WaitFor(t, 5*time.Second, "hashicorp/raft to commit the entry on the followers' acks", func() bool {
		ci, _ := strconv.ParseUint(l.raft.Stats()["commit_index"], 10, 64)
		return ci >= index
	})
	// Let the leader send several AppendEntries with the commit index
	// clamped (every CommitTimeout).
	base := l.clamp.clamped.Load()
	testutil.WaitFor(t, 5*time.Second, "clamped AppendEntries", func() bool { return l.clamp.clamped.Load() >= base+4 })
	select {
	case err := <-res:
		t.Fatalf("produce returned (%v) before the leader's copy was durable", err)
	default:
	}
	for i, n := range c.nodes {
		if a := n.appliedIndex.Load(); a >= index {
			t.Fatalf("node %d applied index %d, the entry whose leader copy is not durable", i, a)
		}
		if i != li {
			if ci, _ := strconv.ParseUint(n.raft.Stats()["commit_index"], 10, 64); ci >= index {
				t.Fatalf("follower %d learned commit index %d >= %d", i, ci, index)
			}
		}
	}
	g.setClosed(false)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	c.sameLogs("gate", 1)
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
