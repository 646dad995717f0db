//go:build chaos

package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/checker"
	"github.com/raftmq/raftmq/internal/testcluster"
	"github.com/raftmq/raftmq/store"
	"github.com/raftmq/raftmq/store/vfs"
)

// Disk faults on a minority (go test -tags chaos -run ChaosDisk). Every
// node runs with the daemon's disk fault test hook
// (testcluster.Options.DiskFaults), so the store's disk of one node can be
// made slow, stalled, failing (EIO), or lazy (unsynced writes kept in
// process memory, so kill -9 loses them: the power-loss model) while the
// checker's workload
// runs. A slow or stalled disk is the whole disk: the node's Raft log
// appends wait too (the lazy mode is the store's only). Each test heals, runs the
// checker (which reads every replica), then stops every node and runs the
// offline store verifier on its store, and logs the CHAOS line.

var (
	diskNormal = vfs.DiskMode{}
	diskStall  = vfs.DiskMode{Kind: vfs.DiskStall}
	diskLazy   = vfs.DiskMode{Kind: vfs.DiskLazy}
	diskFail   = vfs.DiskMode{Kind: vfs.DiskFail}
	diskFull   = vfs.DiskMode{Kind: vfs.DiskFull}
)

// diskFaultLen is how long a slow or stalled disk lasts: well past the 1s
// election timeout.
const diskFaultLen = 4 * time.Second

// runDisk is runChaos with the disk fault hook, followed by a graceful
// stop of every node and the offline verifier on every store.
func runDisk(t *testing.T, name string, requestTimeout time.Duration, nem nemesis) {
	skipShort(t)
	seed := time.Now().UnixNano()
	t.Logf("nemesis seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	c := testcluster.Start(t, testcluster.Options{Nodes: 3, DiskFaults: true})
	// After Start, which may have built the binaries.
	ctx, cancel := context.WithTimeout(t.Context(), chaosTimeout)
	defer cancel()
	ck, start := startWorkload(t, ctx, c, requestTimeout)
	waitFor(t, ctx, "2s of acknowledged writes", func() bool { return time.Since(start) >= 2*time.Second && acked(ck) > 0 })
	nem(t, ctx, c, ck, rng)
	for i := range c.Size() {
		if c.Disk(i) != diskNormal {
			t.Fatalf("nemesis left %s's disk %v", c.NodeID(i), c.Disk(i))
		}
		c.WaitCaughtUp(ctx, i)
	}
	waitFor(t, ctx, "the end of the workload", func() bool { return time.Since(start) >= workload })
	rep := stopAndCheck(t, ctx, c, ck)
	verifyStores(t, c)
	reportChaos(t, name, rep)
}

// verifyStores stops every node gracefully and runs the offline store
// verifier (what `mqctl store verify` runs) on each node's store.
func verifyStores(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	for i := range c.Size() {
		c.Stop(i)
	}
	for i := range c.Size() {
		rep, err := store.Verify(filepath.Join(c.DataDir(i), "store"))
		if err != nil {
			t.Fatalf("verify %s: %v", c.NodeID(i), err)
		}
		if !rep.OK() {
			t.Fatalf("verify %s: %d problems: %q", c.NodeID(i), len(rep.Problems), rep.Problems)
		}
		t.Logf("verify %s: %d records in %d segments, %d queue entries: ok", c.NodeID(i), rep.Records, rep.Segments, rep.QueueEntries)
	}
}

// holdDisk waits d from since, then sets node i's disk normal.
func holdDisk(t *testing.T, ctx context.Context, c *testcluster.Cluster, i int, since time.Time, d time.Duration) {
	t.Helper()
	waitFor(t, ctx, "the disk fault to last", func() bool { return time.Since(since) >= d })
	c.SetDisk(i, diskNormal)
	t.Logf("%s's disk normal again after %v", c.NodeID(i), time.Since(since).Round(time.Millisecond))
}

// randomFollower returns a follower of leader, picked with rng.
func randomFollower(c *testcluster.Cluster, leader int, rng *rand.Rand) int {
	return (leader + 1 + rng.IntN(c.Size()-1)) % c.Size()
}

// TestChaosDiskStallFollower: a follower's disk stops writing for 4s under
// load: its Raft log stops taking entries and its FSM stops applying. The
// leader keeps a quorum with the other follower, so writes must not stop;
// the stalled follower then stores and applies the backlog and converges.
func TestChaosDiskStallFollower(t *testing.T) {
	runDisk(t, "disk-stall-follower", 5*time.Second, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, rng *rand.Rand) {
		f := randomFollower(c, c.Leader(ctx), rng)
		c.SetDisk(f, diskStall)
		ck.Fault("stall disk of follower " + c.NodeID(f))
		since := time.Now()
		probeWrite(t, ctx, c)
		holdDisk(t, ctx, c, f, since, diskFaultLen)
	})
}

// TestChaosDiskSlowLeader: every store write and sync and every Raft log
// append of the leader takes 20ms more for 4s: the group keeps acking
// (the followers' copies make the quorum while the leader's lag).
func TestChaosDiskSlowLeader(t *testing.T) {
	runDisk(t, "disk-slow-leader", 5*time.Second, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, _ *rand.Rand) {
		l := c.Leader(ctx)
		before := acked(ck)
		c.SetDisk(l, vfs.DiskMode{Kind: vfs.DiskSlow, Delay: 20 * time.Millisecond})
		ck.Fault("slow disk (20ms) of leader " + c.NodeID(l))
		since := time.Now()
		probeWrite(t, ctx, c)
		holdDisk(t, ctx, c, l, since, diskFaultLen)
		t.Logf("%d sends acked during the slow disk", acked(ck)-before)
	})
}

// stallLeaderLen is how long the leader's disk stalls: longer than the
// watchdog needs (2s, plus a tick and the transfer) and a client attempt
// on the stalled leader (2s), so the failover shows within the stall.
const stallLeaderLen = 6 * time.Second

// TestChaosDiskStallLeader: the leader's disk stops writing for 6s under
// load. Its own Raft log copy stops (the followers' copies still commit
// entries, up to the leader's limit of unsynced entries) and its FSM stops
// applying, so it cannot answer produces, while its heartbeats go on, so
// no election deposes it: the broker's apply watchdog
// (broker.Config.ApplyStallTimeout, 2s) must hand the leadership over,
// and writes must resume before the disk comes back. Nothing acked may be
// lost, and the stalled node must rejoin and converge.
func TestChaosDiskStallLeader(t *testing.T) {
	runDisk(t, "disk-stall-leader", 2*time.Second, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, _ *rand.Rand) {
		l := c.Leader(ctx)
		c.SetDisk(l, diskStall)
		ck.Fault("stall disk of leader " + c.NodeID(l))
		since := time.Now()
		wrote := probeWrite(t, ctx, c)
		now := c.Leader(ctx)
		if stalled := time.Since(since) < stallLeaderLen; now == l || !stalled {
			t.Fatalf("%s's disk stalled: leader %s, first write after %v (stall %v): the stalled leader was not replaced", c.NodeID(l), c.NodeID(now), wrote, stallLeaderLen)
		}
		t.Logf("leader %s's disk stalled: %s leads; first probe write after %v, while still stalled", c.NodeID(l), c.NodeID(now), wrote.Round(time.Millisecond))
		holdDisk(t, ctx, c, l, since, stallLeaderLen)
	})
}

// diskFailLen is how long a failing disk stays in before it is replaced.
const diskFailLen = 3 * time.Second

// failDisk makes node i's disk fail every write with EIO under load (store
// and Raft log). The node must stop on its own: a write of its store or
// Raft log fails, it shuts Raft down and reports the error in its status.
// Writes must go on through the others (probeWrite). After diskFailLen
// the disk is replaced (normal again) and the node restarted with kill -9
// and a start, as a supervisor would; runDisk then waits until it caught
// up and checks every replica.
func failDisk(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, i int, role string) {
	t.Helper()
	c.SetDisk(i, diskFail)
	ck.Fault("fail (EIO) disk of " + role + " " + c.NodeID(i))
	since := time.Now()
	var why string
	waitFor(t, ctx, c.NodeID(i)+" to report its failing disk", func() bool {
		st, err := c.Status(ctx, i)
		if err != nil {
			return false
		}
		why = st.GetError()
		return strings.Contains(why, syscall.EIO.Error())
	})
	t.Logf("%s stopped %v after its disk failed: %s", c.NodeID(i), time.Since(since).Round(time.Millisecond), why)
	wrote := probeWrite(t, ctx, c)
	if now := c.Leader(ctx); now == i {
		t.Fatalf("%s leads with a failing disk", c.NodeID(i))
	}
	t.Logf("first probe write %v after the disk failed", wrote.Round(time.Millisecond))
	waitFor(t, ctx, "the disk failure to last", func() bool { return time.Since(since) >= diskFailLen })
	c.SetDisk(i, diskNormal)
	c.Kill9(i)
	c.Restart(i)
	c.WaitHealthy(i)
	t.Logf("%s restarted on a working disk %v after the failure", c.NodeID(i), time.Since(since).Round(time.Millisecond))
}

// TestChaosDiskFailFollower: a follower's disk fails every write with EIO
// for 3s under load; the follower stops, the group goes on with two, and
// the follower, restarted on a working disk, converges.
func TestChaosDiskFailFollower(t *testing.T) {
	runDisk(t, "disk-fail-follower", 5*time.Second, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, rng *rand.Rand) {
		failDisk(t, ctx, c, ck, randomFollower(c, c.Leader(ctx), rng), "follower")
	})
}

// TestChaosDiskFailLeader: the leader's disk fails every write with EIO
// for 3s under load. The leader must stop (not linger as a leader that
// cannot write), the others elect a leader and writes resume; nothing
// acked may be lost, and the old leader, restarted on a working disk,
// converges.
func TestChaosDiskFailLeader(t *testing.T) {
	runDisk(t, "disk-fail-leader", 2*time.Second, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, _ *rand.Rand) {
		failDisk(t, ctx, c, ck, c.Leader(ctx), "leader")
	})
}

// TestChaosDiskFullLeader: the leader's disk goes above the store's hard
// limit under load (statfs reports it full; writes still succeed, as short
// of ENOSPC). The leader refuses produces (RESOURCE_EXHAUSTED) until its
// disk watchdog (broker.Config.DiskFullCheck, 1s) hands the leadership to
// a follower with room; writes must resume while its disk is still full,
// and it must go on following (its replica applies whatever is
// committed). After 4s its disk has room again. Nothing acked may be lost.
func TestChaosDiskFullLeader(t *testing.T) {
	runDisk(t, "disk-full-leader", 2*time.Second, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, _ *rand.Rand) {
		l := c.Leader(ctx)
		c.SetDisk(l, diskFull)
		ck.Fault("fill disk of leader " + c.NodeID(l))
		since := time.Now()
		waitFor(t, ctx, c.NodeID(l)+" to report its full disk", func() bool {
			st, err := c.Status(ctx, l)
			return err == nil && st.GetDiskFull()
		})
		seen := time.Since(since)
		wrote := probeWrite(t, ctx, c)
		if now := c.Leader(ctx); now == l {
			t.Fatalf("%s still leads with a full disk", c.NodeID(l))
		}
		if st, err := c.Status(ctx, l); err != nil || st.GetRole() != "follower" || !st.GetDiskFull() {
			t.Fatalf("%s with its disk full: %v, %v; want a follower reporting its full disk", c.NodeID(l), st, err)
		}
		t.Logf("leader %s's disk full: reported after %v; %s leads; first write %v after the disk filled", c.NodeID(l),
			seen.Round(time.Millisecond), c.NodeID(c.Leader(ctx)), (seen + wrote).Round(time.Millisecond))
		holdDisk(t, ctx, c, l, since, diskFaultLen)
	})
}

// lazyKill runs node i lazy (unsynced store writes only in memory) for
// 2s under load, kills it with SIGKILL, restarts it still lazy, sets its
// disk normal once it serves, and logs what its store recovered.
func lazyKill(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, i int, role string) {
	t.Helper()
	c.SetDisk(i, diskLazy)
	since := time.Now()
	waitFor(t, ctx, "2s of lazy writes", func() bool { return time.Since(since) >= 2*time.Second })
	logged := logSize(t, c, i)
	st, err := c.Status(ctx, i)
	if err != nil {
		t.Fatal(err)
	}
	c.Kill9(i)
	ck.Fault("kill -9 lazy-disk " + role + " " + c.NodeID(i))
	c.Restart(i)
	c.WaitHealthy(i)
	c.SetDisk(i, diskNormal)
	lines, end := recoveryLines(t, c, i, logged)
	t.Logf("%s: CommitLog end %d shortly before the kill, %d after recovery (%d bytes of unsynced writes lost at least, re-applied from the Raft log); %s",
		c.NodeID(i), st.GetCommitlogEnd(), end, st.GetCommitlogEnd()-end, lines)
}

// logSize returns the size of node i's log so far.
func logSize(t *testing.T, c *testcluster.Cluster, i int) int64 {
	t.Helper()
	st, err := os.Stat(c.LogPath(i))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// recoveryLines returns the store's recovery log lines of node i written
// after offset from, and the CommitLog end the last one recovered.
func recoveryLines(t *testing.T, c *testcluster.Cluster, i int, from int64) (string, int64) {
	t.Helper()
	data, err := os.ReadFile(c.LogPath(i))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	end := int64(-1)
	for line := range bytes.Lines(data[from:]) {
		if bytes.Contains(line, []byte("msg=recover")) || bytes.Contains(line, []byte("torn tail")) {
			out = append(out, bytes.TrimSpace(line))
		}
		if m := recoveredEnd.FindSubmatch(line); m != nil {
			end, _ = strconv.ParseInt(string(m[1]), 10, 64)
		}
	}
	return string(bytes.Join(out, []byte(" | "))), end
}

// recoveredEnd matches the store's "recovered" log line.
var recoveredEnd = regexp.MustCompile(`msg=recovered .* end=([0-9]+)`)

// TestChaosDiskLazyFollowerKill: a follower whose store keeps unsynced
// writes in memory is killed with SIGKILL under load and restarted: its
// CommitLog comes back shorter than what it had applied, and it must
// recover it and re-apply the rest from the Raft log.
func TestChaosDiskLazyFollowerKill(t *testing.T) {
	runDisk(t, "disk-lazy-follower-kill-9", 5*time.Second, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, rng *rand.Rand) {
		lazyKill(t, ctx, c, ck, randomFollower(c, c.Leader(ctx), rng), "follower")
	})
}

// TestChaosDiskLazyLeaderKill: the same with the leader: it loses its
// unsynced store writes, the others elect a new leader, and the old one
// recovers, re-applies and converges.
func TestChaosDiskLazyLeaderKill(t *testing.T) {
	runDisk(t, "disk-lazy-leader-kill-9", 2*time.Second, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, _ *rand.Rand) {
		lazyKill(t, ctx, c, ck, c.Leader(ctx), "leader")
	})
}

// TestChaosDiskFullFollowerLeaderStops: a follower's disk goes above the
// store's hard limit, then the leader is stopped gracefully (SIGTERM)
// under load. The leader must hand its leadership to the other follower,
// the one with room: never, not even for the second its disk watchdog
// would take to move it on, to the full one, which would refuse every
// produce meanwhile (broker.HandOffLeadership). The full one is the
// follower Raft alone picks when both are equally far ahead:
// hashicorp/raft takes the first of its configuration, on a leader the
// other nodes in --peers order, so the lowest numbered follower. Under
// load one follower is often strictly ahead, so without the hand-off the
// test fails only most of the time (4 runs of 7; with a random follower
// full it failed 9 of 12, each time with n1 full). The stopped node then
// restarts; nothing acked may be lost.
func TestChaosDiskFullFollowerLeaderStops(t *testing.T) {
	runDisk(t, "disk-full-follower-leader-stops", 2*time.Second, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, _ *rand.Rand) {
		l := c.Leader(ctx)
		full := 0
		if l == 0 {
			full = 1
		}
		other := 3 - l - full // the three nodes are 0, 1 and 2
		c.SetDisk(full, diskFull)
		ck.Fault("fill disk of follower " + c.NodeID(full))
		waitFor(t, ctx, c.NodeID(full)+" to report its full disk", func() bool {
			st, err := c.Status(ctx, full)
			return err == nil && st.GetDiskFull()
		})
		// Watch the full follower's role from before the stop until the
		// group takes writes again.
		watch, stopWatch := context.WithCancel(ctx)
		led := make(chan bool, 1)
		go func() {
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			seen := false
			for {
				if st, err := c.Status(watch, full); err == nil && st.GetRole() == "leader" {
					seen = true
				}
				select {
				case <-tick.C:
				case <-watch.Done():
					led <- seen
					return
				}
			}
		}()
		stopped := time.Now()
		c.Stop(l)
		ck.Fault("stop leader " + c.NodeID(l))
		stopTook := time.Since(stopped)
		wrote := probeWrite(t, ctx, c)
		stopWatch()
		if <-led {
			t.Fatalf("%s led with its disk full after %s stopped", c.NodeID(full), c.NodeID(l))
		}
		if now := c.Leader(ctx); now != other {
			t.Fatalf("%s leads after %s stopped; want %s, the follower with room", c.NodeID(now), c.NodeID(l), c.NodeID(other))
		}
		t.Logf("leader %s stopped with %s's disk full in %v: %s leads; first write %v after the stop", c.NodeID(l),
			c.NodeID(full), stopTook.Round(time.Millisecond), c.NodeID(other), wrote.Round(time.Millisecond))
		c.SetDisk(full, diskNormal)
		c.Restart(l)
		c.WaitHealthy(l)
	})
}
