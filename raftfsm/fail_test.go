package raftfsm

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/store/vfs"
)

// failingLog fails every append once fail is set.
type failingLog struct {
	raft.LogStore
	fail *atomic.Bool
}

var errInjected = errors.New("injected raft log failure")

func (f *failingLog) StoreLogs(logs []*raft.Log) error {
	if f.fail.Load() {
		return errInjected
	}
	return f.LogStore.StoreLogs(logs)
}

func (f *failingLog) StoreLog(l *raft.Log) error { return f.StoreLogs([]*raft.Log{l}) }

// failableCluster starts three nodes whose Raft log appends fail once
// their flag in the returned map is set, with a leader holding topic "t"
// (one queue); tweak, if set, adjusts each config first.
func failableCluster(t *testing.T, tweak func(*Config)) (c *cluster, fail map[string]*atomic.Bool, li int, l *Node) {
	t.Helper()
	fail = map[string]*atomic.Bool{}
	c = newCluster(t, 3, func(cfg *Config) {
		if tweak != nil {
			tweak(cfg)
		}
		b := &atomic.Bool{}
		fail[cfg.NodeID] = b
		cfg.WrapLogStore = func(s raft.LogStore) raft.LogStore { return &failingLog{LogStore: s, fail: b} }
	})
	li, l = c.leader()
	createTopic(t, l)
	return c, fail, li, l
}

// createTopic creates topic "t" with one queue through leader l.
func createTopic(t *testing.T, l *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := l.CreateTopic(ctx, Topic{Name: "t", Queues: 1}); err != nil {
		t.Fatal(err)
	}
}

// waitFailed waits until n reports a failure naming want and has shut
// Raft down.
func waitFailed(t *testing.T, n *Node, want string) {
	t.Helper()
	var st Status
	testutil.WaitFor(t, 10*time.Second, n.cfg.NodeID+" to fail and stop Raft", func() bool {
		st = n.Status()
		return strings.Contains(st.Err, want) && n.raft.State() == raft.Shutdown
	})
	if !errors.Is(n.failedErr(), ErrFailed) {
		t.Fatalf("failure %v is not ErrFailed", n.failedErr())
	}
}

// TestFollowerRaftLogWriteFailureFailsNode: a follower whose Raft log
// cannot be written stops (reports the error, shuts Raft down) instead of
// answering every AppendEntries with a failure forever as hashicorp/raft
// would; the other two go on.
func TestFollowerRaftLogWriteFailureFailsNode(t *testing.T) {
	c, fail, li, l := failableCluster(t, nil)
	f := c.nodes[(li+1)%3]
	fail[f.cfg.NodeID].Store(true)
	produce(t, l, "t", 0, "a") // committed by the leader and the other follower
	waitFailed(t, f, errInjected.Error())
	produce(t, l, "t", 0, "b")
}

// TestStoreFailureOutsideApplyFailsNode: a follower's store that fails in
// the background (its flusher's fsync) stops the node at once, with no
// further entry to apply: before, such a node went on as a follower that
// reported nothing wrong and could apply nothing.
func TestStoreFailureOutsideApplyFailsNode(t *testing.T) {
	faults := map[string]*vfs.FaultFS{}
	c := newCluster(t, 3, func(cfg *Config) {
		fs := vfs.NewFaultFS(vfs.OS())
		faults[cfg.NodeID] = fs
		cfg.Store.FS = fs
	})
	li, l := c.leader()
	createTopic(t, l)
	f := c.nodes[(li+1)%3]
	// Everything before the fault applied and synced on the follower, so
	// that the only failure is the background fsync of what comes next.
	testutil.WaitFor(t, 10*time.Second, "the follower to apply the topic", func() bool {
		return f.Status().AppliedIndex >= l.Status().AppliedIndex
	})
	if err := f.Store().Sync(); err != nil {
		t.Fatal(err)
	}
	faults[f.cfg.NodeID].SetInjector(func(op vfs.Op, path string) error {
		if op == vfs.OpSync && strings.Contains(path, "commitlog") {
			return errors.New("injected fsync failure")
		}
		return nil
	})
	produce(t, l, "t", 0, "a") // the follower applies it (a write); its flusher's fsync fails
	waitFailed(t, f, "injected fsync failure")
	if st := l.Status(); st.Err != "" {
		t.Fatalf("leader reports %q", st.Err)
	}
}

// TestStatusApplyingFor: Status.ApplyingFor is 0 on an idle leader even
// though its commit index is past its applied index (the no-op a new
// leader commits never reaches the FSM), and grows while an apply is stuck
// on a stalled store disk.
func TestStatusApplyingFor(t *testing.T) {
	disk := vfs.NewDiskFaultFS(vfs.OS())
	c := newCluster(t, 3, func(cfg *Config) { cfg.Store.FS = disk })
	_, l := c.leader()
	testutil.WaitFor(t, 10*time.Second, "the leader's no-op to commit", func() bool {
		st := l.Status()
		return st.CommitIndex > st.AppliedIndex
	})
	if st := l.Status(); st.ApplyingFor != 0 {
		t.Fatalf("idle leader: applying for %v (commit %d, applied %d)", st.ApplyingFor, st.CommitIndex, st.AppliedIndex)
	}
	disk.SetMode(vfs.DiskMode{Kind: vfs.DiskStall})
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- l.CreateTopic(ctx, Topic{Name: "t", Queues: 1})
	}()
	testutil.WaitFor(t, 10*time.Second, "an apply stuck on the stalled disk", func() bool {
		return l.Status().ApplyingFor >= 100*time.Millisecond
	})
	disk.SetMode(vfs.DiskMode{})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the apply to end", func() bool { return l.Status().ApplyingFor == 0 })
}

// TestFailedLeaderHandsOff: a leader whose Raft log cannot be written
// fails and asks its most caught-up follower to start an election at
// once: a new leader is elected well before the followers' heartbeat
// timeout (2s here) would even let them notice the leader is gone.
func TestFailedLeaderHandsOff(t *testing.T) {
	c, fail, li, l := failableCluster(t, func(cfg *Config) {
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 2*time.Second, 2*time.Second, 500*time.Millisecond
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	fail[l.cfg.NodeID].Store(true)
	start := time.Now()
	go func() { _, _ = produceOne(ctx, l, []*Message{{Topic: "t", Body: []byte("x")}}) }() // the leader's own write fails
	waitFailed(t, l, errInjected.Error())
	var next *Node
	testutil.WaitFor(t, 10*time.Second, "a new leader", func() bool {
		for i, n := range c.nodes {
			if i != li && n.IsLeader() {
				next = n
				return true
			}
		}
		return false
	})
	if took := time.Since(start); took >= time.Second {
		t.Fatalf("new leader %s after %v: no faster than the followers' own timeout", next.cfg.NodeID, took)
	}
	produce(t, next, "t", 0, "after")
}

// TestLogStoreChainStaysMonotonic: every wrapper between hashicorp/raft
// and raft-wal (the append failure check, a test or fault hook wrapper,
// the log cache, the leader log) passes on raft-wal's MonotonicLogStore
// answer; a wrapper that hid it would make hashicorp/raft keep old
// entries after a snapshot install, and raft-wal refuse the gap.
func TestLogStoreChainStaysMonotonic(t *testing.T) {
	c := newCluster(t, 1, func(cfg *Config) {
		cfg.LogStore = LogStoreWAL
		cfg.WrapLogStore = func(s raft.LogStore) raft.LogStore { return &monotonicWrapper{s} }
	})
	_, n := c.leader()
	m, ok := n.logStore.(raft.MonotonicLogStore)
	if !ok || !m.IsMonotonic() {
		t.Fatalf("the node's Raft log store (%T) does not report raft-wal as monotonic", n.logStore)
	}
}

// monotonicWrapper is a pass-through wrapper, as WrapLogStore users write
// them.
type monotonicWrapper struct{ raft.LogStore }

func (w *monotonicWrapper) IsMonotonic() bool {
	m, ok := w.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

// TestHandOffTarget: a failed leader hands off to the follower that
// acknowledged the most among those that still follow it, to the first
// such follower without acknowledgements, and to nobody when none
// follows (it may have been deposed without knowing).
func TestHandOffTarget(t *testing.T) {
	voters := []raft.Server{{ID: "n0"}, {ID: "n1"}, {ID: "n2"}}
	acks := &followerAcks{acked: map[raft.ServerID]uint64{"n1": 10, "n2": 20}}
	all := func(raft.ServerID) bool { return true }
	for _, tc := range []struct {
		name    string
		acks    *followerAcks
		follows func(raft.ServerID) bool
		want    raft.ServerID // "" none
	}{
		{"most acknowledged", acks, all, "n2"},
		{"most acknowledged that follows", acks, func(id raft.ServerID) bool { return id != "n2" }, "n1"},
		{"no acknowledgements", nil, all, "n1"},
		{"nobody follows", acks, func(raft.ServerID) bool { return false }, ""},
	} {
		got, ok := handOffTarget(voters, "n0", tc.acks, tc.follows)
		if tc.want == "" && ok || tc.want != "" && (!ok || got.ID != tc.want) {
			t.Errorf("%s: %v %v; want %q", tc.name, got.ID, ok, tc.want)
		}
	}
}
