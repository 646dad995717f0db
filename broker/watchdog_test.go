package broker

import (
	"errors"
	"testing"
	"time"

	"github.com/raftmq/raftmq/broker/internal/fakerepl"
	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
	"github.com/raftmq/raftmq/store/vfs"
)

// TestApplyWatchdog: a leader whose FSM has been stuck in one apply for
// ApplyStallTimeout hands its leadership over; a leader with nothing to
// apply keeps it, also when its commit index is ahead of the applied index
// (a new leader's no-op, which the FSM is never given), and a negative
// timeout turns the watchdog off.
func TestApplyWatchdog(t *testing.T) {
	fast := func(c *Config) { c.ApplyStallTimeout = 40 * time.Millisecond }
	t.Run("stuck leader transfers", func(t *testing.T) {
		b, f := newTestBroker(t, fast)
		f.SetCommitAhead(3)
		f.SetApplyingFor(time.Second)
		testutil.WaitFor(t, 5*time.Second, "the stuck leader to hand over", func() bool { return !b.IsLeader() })
		if id, _ := f.Leader(); id != "n2" {
			t.Fatalf("leader after the transfer %q; want n2", id)
		}
	})
	t.Run("idle leader stays", func(t *testing.T) {
		b, f := newTestBroker(t, fast)
		testutil.WaitFor(t, 5*time.Second, "20 watchdog looks", func() bool { return f.StatusCalls() >= 20 })
		if !b.IsLeader() {
			t.Fatal("a leader with nothing pending handed its leadership over")
		}
	})
	t.Run("idle leader after its no-op stays", func(t *testing.T) {
		b, f := newTestBroker(t, fast)
		f.SetCommitAhead(1)
		testutil.WaitFor(t, 5*time.Second, "20 watchdog looks", func() bool { return f.StatusCalls() >= 20 })
		if !b.IsLeader() {
			t.Fatal("a leader whose FSM applies nothing, with only a no-op committed past it, handed its leadership over")
		}
	})
	t.Run("failing hand-over is retried once per timeout", func(t *testing.T) {
		b, f := newTestBroker(t, fast)
		f.FailTransfers(errors.New("no other voter"))
		f.SetApplyingFor(time.Second)
		// 40 looks at limit/4 apart span ten timeouts: one attempt per
		// timeout, not one per look.
		testutil.WaitFor(t, 5*time.Second, "40 watchdog looks", func() bool { return f.StatusCalls() >= 40 })
		if n := f.Transfers(); n < 2 || n > 12 {
			t.Fatalf("%d hand-over attempts over 40 looks (10 timeouts); want one per timeout", n)
		}
		if !b.IsLeader() {
			t.Fatal("the leader changed although every transfer failed")
		}
	})
	t.Run("disabled", func(t *testing.T) {
		b, f := newTestBroker(t, func(c *Config) { c.ApplyStallTimeout = -1 })
		f.SetCommitAhead(3)
		f.SetApplyingFor(time.Second)
		mustCreate(t, b, "t", 1) // a broker call, so the test runs past any tick
		if !b.IsLeader() || f.StatusCalls() != 0 {
			t.Fatalf("disabled watchdog: leader %v, %d Status calls", b.IsLeader(), f.StatusCalls())
		}
	})
}

// TestDiskWatchdog: a leader whose store disk is above its hard limit
// hands the leadership to the other voter that answers as a working
// follower with room, preferring the one that applied the most; it keeps
// the leadership when no voter has room or none answers, and a leader
// with room never moves.
func TestDiskWatchdog(t *testing.T) {
	follower := func(id string, applied uint64, full bool) NodeStatus {
		return NodeStatus{NodeID: id, Group: "g", Role: "follower", AppliedIndex: applied, DiskFull: full}
	}
	start := func(t *testing.T, full bool, statuses map[string]NodeStatus) (*Broker, *fakerepl.Fake) {
		t.Helper()
		disk := vfs.NewDiskFaultFS(vfs.OS())
		if full {
			disk.SetMode(vfs.DiskMode{Kind: vfs.DiskFull})
		}
		opts := store.TestOptions()
		opts.FS = disk
		b, f := newTestBrokerStore(t, opts, func(c *Config) {
			c.DiskFullCheck = 20 * time.Millisecond
			c.Peers = map[string]string{"n2": "n2:9876", "n3": "n3:9876"}
		})
		f.SetServers([]raftfsm.Peer{{ID: "n1"}, {ID: "n2"}, {ID: "n3"}})
		b.SetPeers(&fakePeers{statuses: statuses})
		return b, f
	}
	t.Run("full leader hands over to the follower with room that applied the most", func(t *testing.T) {
		b, f := start(t, true, map[string]NodeStatus{
			"n2:9876": follower("n2", 7, false),
			"n3:9876": follower("n3", 9, false),
		})
		testutil.WaitFor(t, 5*time.Second, "the full leader to hand over", func() bool { return !b.IsLeader() })
		if got := f.TransferTargets(); len(got) != 1 || got[0] != "n3" {
			t.Fatalf("transfers to %v; want [n3]", got)
		}
	})
	t.Run("a follower whose disk is full too is passed over", func(t *testing.T) {
		b, f := start(t, true, map[string]NodeStatus{
			"n2:9876": follower("n2", 5, false),
			"n3:9876": follower("n3", 9, true),
		})
		testutil.WaitFor(t, 5*time.Second, "the full leader to hand over", func() bool { return !b.IsLeader() })
		if got := f.TransferTargets(); len(got) != 1 || got[0] != "n2" {
			t.Fatalf("transfers to %v; want [n2]", got)
		}
	})
	for _, tc := range []struct {
		name     string
		full     bool
		statuses map[string]NodeStatus
	}{
		{"no voter with room: the leader stays", true, map[string]NodeStatus{
			"n2:9876": follower("n2", 5, true),
			"n3:9876": follower("n3", 9, true),
		}},
		{"no voter answers: the leader stays", true, nil},
		{"only a failed node and a candidate have room: the leader stays", true, map[string]NodeStatus{
			"n2:9876": {NodeID: "n2", Role: "shutdown", Error: "raftfsm: node failed"},
			"n3:9876": {NodeID: "n3", Role: "candidate"},
		}},
		{"a leader with room stays", false, map[string]NodeStatus{
			"n2:9876": follower("n2", 5, false),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, f := start(t, tc.full, tc.statuses)
			testutil.WaitFor(t, 5*time.Second, "20 watchdog looks", func() bool { return f.StatusCalls() >= 20 })
			if !b.IsLeader() || f.Transfers() != 0 {
				t.Fatalf("leader %v after %d transfer attempts; want it kept, none tried", b.IsLeader(), f.Transfers())
			}
		})
	}
}
