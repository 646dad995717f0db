//go:build chaos

package main

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/internal/checker"
	"github.com/raftmq/raftmq/internal/testcluster"
)

// The chaos suite (go test -tags chaos) runs one nemesis per test against
// three real raftmq processes while the durability checker's workload
// runs (process_test.go's startWorkload and stopAndCheck: 4 producers, 4
// queues, 10s), heals, and requires the check to pass. Each test logs one
// line starting "CHAOS " with its figures, the source of
// docs/RELIABILITY.md:
//
//	CHAOS nemesis=<name> acked=.. lost=.. inconsistent=.. duplicates=.. unknown=.. failover_p50=.. failover_p99=.. failover_max=..

// chaosTimeout bounds one chaos test.
const chaosTimeout = 55 * time.Second

// nemesis injects a fault into c while ck's workload runs, marks it with
// ck.Fault, and heals it before returning (every node running, caught up).
type nemesis func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, rng *rand.Rand)

// runChaos starts a 3-node cluster and the workload, lets it write for
// 2s, runs nem, waits for the end of the workload, checks, and logs the
// CHAOS line. requestTimeout bounds each Produce attempt.
func runChaos(t *testing.T, name string, requestTimeout time.Duration, nem nemesis) {
	seed := time.Now().UnixNano()
	t.Logf("nemesis seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	c := testcluster.Start(t, testcluster.Options{Nodes: 3})
	// After Start, which may have built the binaries.
	ctx, cancel := context.WithTimeout(t.Context(), chaosTimeout)
	defer cancel()
	ck, start := startWorkload(t, ctx, c, requestTimeout)
	waitFor(t, ctx, "2s of acknowledged writes", func() bool { return time.Since(start) >= 2*time.Second && acked(ck) > 0 })
	nem(t, ctx, c, ck, rng)
	for i := range c.Size() {
		c.WaitCaughtUp(ctx, i)
	}
	waitFor(t, ctx, "the end of the workload", func() bool { return time.Since(start) >= workload })
	reportChaos(t, name, stopAndCheck(t, ctx, c, ck))
}

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test (builds raftmq, runs 3 brokers for ~15s); skipped with -short")
	}
}

// TestChaosKillRandomNode: kill -9 a random node (leader or follower),
// restart it after 2s, let it catch up.
func TestChaosKillRandomNode(t *testing.T) {
	skipShort(t)
	runChaos(t, "kill-9-random-node", 5*time.Second, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, rng *rand.Rand) {
		i := rng.IntN(c.Size())
		role := "follower"
		if i == c.Leader(ctx) {
			role = "leader"
		}
		c.Kill9(i)
		ck.Fault("kill -9 " + role + " " + c.NodeID(i))
		killed := time.Now()
		t.Logf("killed %s (%s)", c.NodeID(i), role)
		waitFor(t, ctx, "2s down", func() bool { return time.Since(killed) >= 2*time.Second })
		c.Restart(i)
		c.WaitHealthy(i)
	})
}

// TestChaosRestartAll: kill -9 all three nodes at once, start all three
// again; the group must elect a leader and have lost nothing acked.
func TestChaosRestartAll(t *testing.T) {
	skipShort(t)
	runChaos(t, "kill-9-all-restart", 5*time.Second, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, _ *rand.Rand) {
		for i := range c.Size() {
			c.Kill9(i)
		}
		ck.Fault("kill -9 all nodes")
		down := time.Now()
		for i := range c.Size() {
			c.Restart(i)
		}
		for i := range c.Size() {
			c.WaitHealthy(i)
		}
		leader := c.Leader(ctx)
		t.Logf("all nodes restarted; %s leads %v after the kill", c.NodeID(leader), time.Since(down).Round(time.Millisecond))
	})
}

// TestChaosTransferLeadership: hand the leadership to another voter three
// times under load (what mqctl cluster transfer-leader does), 1.5s apart.
func TestChaosTransferLeadership(t *testing.T) {
	skipShort(t)
	runChaos(t, "transfer-leadership-x3", 5*time.Second, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, _ *rand.Rand) {
		for n := range 3 {
			old := c.Leader(ctx)
			ck.Fault("transfer leadership from " + c.NodeID(old))
			tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			resp, err := c.Client(old).TransferLeadership(tctx, &raftmqpb.TransferLeadershipRequest{})
			cancel()
			if err != nil {
				t.Fatalf("transfer %d from %s: %v", n, c.NodeID(old), err)
			}
			moved := time.Now()
			waitFor(t, ctx, "the new leader to be seen", func() bool {
				i, _ := c.FindLeader(ctx)
				return i >= 0 && i != old
			})
			t.Logf("transfer %d: %s -> %s", n, c.NodeID(old), resp.GetNewLeaderId())
			waitFor(t, ctx, "1.5s of the new leader", func() bool { return time.Since(moved) >= 1500*time.Millisecond })
		}
	})
}

// TestChaosPauseFollower: SIGSTOP a random follower for 3s, SIGCONT it;
// the leader keeps a quorum, so writes must not stop.
func TestChaosPauseFollower(t *testing.T) {
	skipShort(t)
	runChaos(t, "sigstop-follower", 5*time.Second, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, rng *rand.Rand) {
		leader := c.Leader(ctx)
		i := (leader + 1 + rng.IntN(c.Size()-1)) % c.Size()
		c.Pause(i)
		ck.Fault("SIGSTOP follower " + c.NodeID(i))
		paused := time.Now()
		waitFor(t, ctx, "3s of pause", func() bool { return time.Since(paused) >= 3*time.Second })
		c.Resume(i)
		t.Logf("paused follower %s for %v", c.NodeID(i), time.Since(paused).Round(time.Millisecond))
	})
}

// TestChaosKillLeaderTwice: kill -9 the leader; as soon as a new leader is
// elected, restart the first one and kill -9 the new leader, so the group
// elects a third leader while the first node is still catching up.
func TestChaosKillLeaderTwice(t *testing.T) {
	skipShort(t)
	runChaos(t, "kill-9-leader-twice", 2*time.Second, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, _ *rand.Rand) {
		first := c.Leader(ctx)
		c.Kill9(first)
		ck.Fault("kill -9 leader " + c.NodeID(first))
		second := c.Leader(ctx)
		c.Restart(first)
		c.Kill9(second)
		ck.Fault("kill -9 new leader " + c.NodeID(second))
		third := c.Leader(ctx)
		t.Logf("killed %s, then %s; %s leads", c.NodeID(first), c.NodeID(second), c.NodeID(third))
		c.Restart(second)
		c.WaitHealthy(first)
		c.WaitHealthy(second)
	})
}

// reportChaos fails the test if a fault was never followed by a successful
// write, and prints the one-line figures docs/RELIABILITY.md is updated
// from.
func reportChaos(t *testing.T, name string, rep *checker.Report) {
	t.Helper()
	for _, f := range rep.Failovers {
		if !f.Recovered {
			t.Fatalf("no write succeeded after fault %q", f.Fault)
		}
	}
	t.Logf("CHAOS nemesis=%s acked=%d lost=%d inconsistent=%d duplicates=%d unknown=%d failover_p50=%v failover_p99=%v failover_max=%v",
		name, rep.Acked, rep.Lost, rep.Inconsistent, rep.Duplicates, rep.Unknown,
		rep.FailoverP50.Round(time.Millisecond), rep.FailoverP99.Round(time.Millisecond), rep.FailoverMax.Round(time.Millisecond))
}
