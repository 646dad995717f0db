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
// ApplyStallTimeout hands its leadership over, to the working follower
// with room that applied the most when the voters answer (else Raft
// picks); a leader with nothing to
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
	t.Run("a stuck leader picks the most applied follower with room", func(t *testing.T) {
		b, f := newTestBroker(t, func(c *Config) {
			fast(c)
			c.Peers = map[string]string{"n2": "n2:9876", "n3": "n3:9876", "n4": "n4:9876"}
		})
		f.SetServers([]raftfsm.Peer{{ID: "n1"}, {ID: "n2"}, {ID: "n3"}, {ID: "n4"}})
		b.SetPeers(&fakePeers{statuses: map[string]NodeStatus{
			"n2:9876": {NodeID: "n2", Role: "follower", Term: 1, AppliedIndex: 9, DiskUsed: 0.95, DiskFull: true},
			"n3:9876": {NodeID: "n3", Role: "follower", Term: 1, AppliedIndex: 5, DiskUsed: 0.10},
			"n4:9876": {NodeID: "n4", Role: "follower", Term: 1, AppliedIndex: 7, DiskUsed: 0.50},
		}})
		f.SetCommitAhead(3)
		f.SetApplyingFor(time.Second)
		testutil.WaitFor(t, 5*time.Second, "the stuck leader to hand over", func() bool { return !b.IsLeader() })
		if got := f.TransferTargets(); len(got) != 1 || got[0] != "n4" {
			t.Fatalf("transfers to %v; want [n4]: n2 applied more but its disk is full, n3 applied less", got)
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
// follower of its term with room, the least used disk first, then the one
// that applied the most; a target whose transfer failed is passed over
// once. It keeps the leadership when no voter can take it, and a leader
// with room never moves.
func TestDiskWatchdog(t *testing.T) {
	// The fake leads in term 1.
	follower := func(id string, applied uint64, used float64) NodeStatus {
		return NodeStatus{NodeID: id, Group: "g", Role: "follower", Term: 1, AppliedIndex: applied, DiskUsed: used, DiskFull: used >= 0.9}
	}
	// start starts a leader whose group is n1 (itself), n2 and n3, or
	// servers when given.
	start := func(t *testing.T, full bool, statuses map[string]NodeStatus, servers ...raftfsm.Peer) (*Broker, *fakerepl.Fake) {
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
		if servers == nil {
			servers = []raftfsm.Peer{{ID: "n1"}, {ID: "n2"}, {ID: "n3"}}
		}
		f.SetServers(servers)
		b.SetPeers(&fakePeers{statuses: statuses})
		return b, f
	}
	for _, tc := range []struct {
		name     string
		statuses map[string]NodeStatus
		want     string
	}{
		{"the least used disk wins", map[string]NodeStatus{
			"n2:9876": follower("n2", 9, 0.50),
			"n3:9876": follower("n3", 7, 0.40),
		}, "n3"},
		{"equal disks: the most applied wins", map[string]NodeStatus{
			"n2:9876": follower("n2", 7, 0.40),
			"n3:9876": follower("n3", 9, 0.40),
		}, "n3"},
		{"a known usage beats an unknown one", map[string]NodeStatus{
			"n2:9876": follower("n2", 9, 0),
			"n3:9876": follower("n3", 7, 0.80),
		}, "n3"},
		{"a follower whose disk is full too is passed over", map[string]NodeStatus{
			"n2:9876": follower("n2", 5, 0.50),
			"n3:9876": follower("n3", 9, 0.95),
		}, "n2"},
		{"a follower of an older term is passed over", map[string]NodeStatus{
			"n2:9876": follower("n2", 5, 0.50),
			"n3:9876": {NodeID: "n3", Role: "follower", Term: 0, AppliedIndex: 9, DiskUsed: 0.1},
		}, "n2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, f := start(t, true, tc.statuses)
			testutil.WaitFor(t, 5*time.Second, "the full leader to hand over", func() bool { return !b.IsLeader() })
			if got := f.TransferTargets(); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("transfers to %v; want [%s]", got, tc.want)
			}
		})
	}
	t.Run("a non-voter is passed over", func(t *testing.T) {
		b, f := start(t, true, map[string]NodeStatus{
			"n2:9876": follower("n2", 5, 0.50),
			"n3:9876": follower("n3", 9, 0.10),
		}, raftfsm.Peer{ID: "n1"}, raftfsm.Peer{ID: "n2"}, raftfsm.Peer{ID: "n3", NonVoter: true})
		testutil.WaitFor(t, 5*time.Second, "the full leader to hand over", func() bool { return !b.IsLeader() })
		if got := f.TransferRequests(); got[0] != "n2" {
			t.Fatalf("transfer attempts %v; want n2 first (n3 cannot lead)", got)
		}
	})
	t.Run("a failed target is passed over once", func(t *testing.T) {
		b, f := start(t, true, map[string]NodeStatus{
			"n2:9876": follower("n2", 5, 0.50),
			"n3:9876": follower("n3", 9, 0.40),
		})
		f.FailTransfers(errors.New("the target is not catching up"))
		testutil.WaitFor(t, 5*time.Second, "four hand-over attempts", func() bool { return f.Transfers() >= 4 })
		f.FailTransfers(nil)
		testutil.WaitFor(t, 5*time.Second, "the full leader to hand over", func() bool { return !b.IsLeader() })
		// A transfer that failed is not tried again at once: the best
		// target, then the other, and so on.
		got := f.TransferRequests()
		for i, want := range []string{"n3", "n2", "n3", "n2"} {
			if got[i] != want {
				t.Fatalf("transfer attempts %v; want them to alternate n3, n2, ...", got)
			}
		}
	})
	for _, tc := range []struct {
		name     string
		full     bool
		statuses map[string]NodeStatus
	}{
		{"no voter with room: the leader stays", true, map[string]NodeStatus{
			"n2:9876": follower("n2", 5, 0.95),
			"n3:9876": follower("n3", 9, 0.91),
		}},
		{"no voter answers: the leader stays", true, nil},
		{"only a failed node and a candidate have room: the leader stays", true, map[string]NodeStatus{
			"n2:9876": {NodeID: "n2", Role: "shutdown", Term: 1, Error: "raftfsm: node failed"},
			"n3:9876": {NodeID: "n3", Role: "candidate", Term: 2},
		}},
		{"a leader with room stays", false, map[string]NodeStatus{
			"n2:9876": follower("n2", 5, 0.1),
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

// TestHandOffLeadership: before a shutdown, a leader one of whose voters
// has a full disk hands its leadership to the voter that answers as a
// working follower of its term with room, the most applied one; when no
// voter is full, none has room, or it is a follower, it hands nothing
// (Close leaves the choice to Raft).
func TestHandOffLeadership(t *testing.T) {
	follower := func(id string, applied uint64, used float64) NodeStatus {
		return NodeStatus{NodeID: id, Group: "g", Role: "follower", Term: 1, AppliedIndex: applied, DiskUsed: used, DiskFull: used >= 0.9}
	}
	start := func(t *testing.T, statuses map[string]NodeStatus, servers ...raftfsm.Peer) (*Broker, *fakerepl.Fake) {
		t.Helper()
		b, f := newTestBroker(t, func(c *Config) {
			c.Peers = map[string]string{"n2": "n2:9876", "n3": "n3:9876", "n4": "n4:9876"}
		})
		if servers == nil {
			servers = []raftfsm.Peer{{ID: "n1"}, {ID: "n2"}, {ID: "n3"}, {ID: "n4"}}
		}
		f.SetServers(servers)
		b.SetPeers(&fakePeers{statuses: statuses})
		return b, f
	}
	t.Run("the most applied voter with room", func(t *testing.T) {
		b, f := start(t, map[string]NodeStatus{
			"n2:9876": follower("n2", 9, 0.95), // the most up to date, but full
			"n3:9876": follower("n3", 5, 0.10),
			"n4:9876": follower("n4", 7, 0.50),
		})
		if got := b.HandOffLeadership(); got != "n4" {
			t.Fatalf("handed off to %q; want n4 (n2 applied more but its disk is full)", got)
		}
		if got := f.TransferTargets(); len(got) != 1 || got[0] != "n4" || b.IsLeader() {
			t.Fatalf("transfers %v, still leader %v; want one to n4", got, b.IsLeader())
		}
	})
	for _, tc := range []struct {
		name     string
		leader   bool
		statuses map[string]NodeStatus
		servers  []raftfsm.Peer
	}{
		{"every other voter full", true, map[string]NodeStatus{
			"n2:9876": follower("n2", 9, 0.95), "n3:9876": follower("n3", 9, 0.91), "n4:9876": follower("n4", 9, 0.99),
		}, nil},
		{"no voter answers", true, nil, nil},
		{"no voter's disk is full: Raft picks", true, map[string]NodeStatus{
			"n2:9876": follower("n2", 9, 0.85), "n3:9876": follower("n3", 5, 0.10), "n4:9876": follower("n4", 7, 0.50),
		}, nil},
		{"only a non-voter has room", true, map[string]NodeStatus{
			"n2:9876": follower("n2", 9, 0.10), "n3:9876": follower("n3", 9, 0.95),
		}, []raftfsm.Peer{{ID: "n1"}, {ID: "n2", NonVoter: true}, {ID: "n3"}}},
		{"a follower", false, map[string]NodeStatus{"n3:9876": follower("n3", 5, 0.10)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, f := start(t, tc.statuses, tc.servers...)
			if !tc.leader {
				f.SetLeader(false, "n3")
			}
			if got := b.HandOffLeadership(); got != "" {
				t.Fatalf("handed off to %q; want nothing", got)
			}
			if n := f.Transfers(); n != 0 {
				t.Fatalf("%d transfers (%v); want none", n, f.TransferRequests())
			}
		})
	}
	t.Run("a failed transfer", func(t *testing.T) {
		b, f := start(t, map[string]NodeStatus{"n2:9876": follower("n2", 9, 0.95), "n3:9876": follower("n3", 5, 0.10)})
		f.FailTransfers(errors.New("the target is not catching up"))
		if got := b.HandOffLeadership(); got != "" || !b.IsLeader() {
			t.Fatalf("handed off to %q, leader %v; want nothing, still leading", got, b.IsLeader())
		}
	})
	t.Run("after Close", func(t *testing.T) {
		b, f := start(t, map[string]NodeStatus{"n2:9876": follower("n2", 9, 0.95), "n3:9876": follower("n3", 5, 0.10)})
		b.Close()
		if got := b.HandOffLeadership(); got != "" || f.Transfers() != 0 {
			t.Fatalf("a closed broker handed off to %q (%d transfers)", got, f.Transfers())
		}
	})
}
