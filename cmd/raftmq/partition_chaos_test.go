//go:build chaos

package main

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/checker"
	"github.com/raftmq/raftmq/internal/testcluster"
)

// Network partitions of the Raft links (go test -tags chaos -run
// Partition). Each node's Raft port sits behind a fault-injecting proxy
// (testcluster.Options.PartitionProxies) that names the sender of every
// connection, so a link can be cut both ways; gRPC is never cut, so
// clients still reach a node cut off from its group. The tests log the
// same CHAOS line as chaos_test.go.

// partitionLen is how long a partition lasts: well past the 1s election
// timeout, so a cut-off leader is deposed while it is cut off.
const partitionLen = 4 * time.Second

// runPartition is runChaos with Raft proxies and nodes nodes.
func runPartition(t *testing.T, name string, nodes int, nem nemesis) {
	skipShort(t)
	seed := time.Now().UnixNano()
	t.Logf("nemesis seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	c := testcluster.Start(t, testcluster.Options{Nodes: nodes, PartitionProxies: true})
	// After Start, which may have built the binaries.
	ctx, cancel := context.WithTimeout(t.Context(), chaosTimeout)
	defer cancel()
	ck, start := startWorkload(t, ctx, c, 2*time.Second)
	waitFor(t, ctx, "2s of acknowledged writes", func() bool { return time.Since(start) >= 2*time.Second && acked(ck) > 0 })
	nem(t, ctx, c, ck, rng)
	if cuts := c.Cuts(); cuts != "" {
		t.Fatalf("nemesis left cuts: %s", cuts)
	}
	if n := c.UnnamedRaftConns(); n != 0 {
		t.Fatalf("%d Raft connections could not be named, so cuts by sender missed them", n)
	}
	for i := range c.Size() {
		c.WaitCaughtUp(ctx, i)
	}
	waitFor(t, ctx, "the end of the workload", func() bool { return time.Since(start) >= workload })
	reportChaos(t, name, stopAndCheck(t, ctx, c, ck))
}

// holdPartition waits partitionLen from since, heals, and waits for a
// leader the whole group agrees on.
func holdPartition(t *testing.T, ctx context.Context, c *testcluster.Cluster, since time.Time) int {
	t.Helper()
	waitFor(t, ctx, "the partition to last", func() bool { return time.Since(since) >= partitionLen })
	t.Logf("healing %s after %v", c.Cuts(), time.Since(since).Round(time.Millisecond))
	c.Heal()
	return c.Leader(ctx)
}

// waitRole waits until node i reports a role other than "leader", or,
// with leader set, until it reports "leader".
func waitRole(t *testing.T, ctx context.Context, c *testcluster.Cluster, i int, leader bool, what string) {
	t.Helper()
	waitFor(t, ctx, what, func() bool {
		st, err := c.Status(ctx, i)
		return err == nil && (st.GetRole() == "leader") == leader
	})
}

// TestPartitionLeaderIsolated: cut the leader's Raft links both ways for
// 4s. The majority elects a new leader and takes writes; the old leader,
// still reachable by clients, loses its lease and steps down; after the
// heal it follows and catches up.
func TestPartitionLeaderIsolated(t *testing.T) {
	runPartition(t, "partition-leader-isolated", 3, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, _ *rand.Rand) {
		old := c.Leader(ctx)
		c.Isolate(old)
		ck.Fault("isolate leader " + c.NodeID(old))
		cut := time.Now()
		wrote := probeWrite(t, ctx, c)
		waitRole(t, ctx, c, old, false, "the isolated leader to step down")
		t.Logf("isolated leader %s (%s); first write after %v, stepped down after %v",
			c.NodeID(old), c.Cuts(), wrote.Round(time.Millisecond), time.Since(cut).Round(time.Millisecond))
		if st, err := c.Status(ctx, old); err == nil && st.GetRole() == "leader" {
			t.Fatalf("isolated %s leads again while cut off", c.NodeID(old))
		}
		leader := holdPartition(t, ctx, c, cut)
		t.Logf("healed; %s leads", c.NodeID(leader))
	})
}

// TestPartitionLeaderInboundOnly: blackhole only the connections TO the
// leader (its proxy's Block, what a single proxy per node gives without
// naming senders). The leader dials its followers, so its AppendEntries
// and their answers still flow: the group keeps its leader and its
// writes. This is why the other tests cut links by sender.
func TestPartitionLeaderInboundOnly(t *testing.T) {
	runPartition(t, "partition-leader-inbound-only", 3, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, _ *rand.Rand) {
		old := c.Leader(ctx)
		c.BlockInbound(old)
		ck.Fault("blackhole inbound raft of leader " + c.NodeID(old))
		cut := time.Now()
		probeWrite(t, ctx, c)
		waitFor(t, ctx, "the partition to last", func() bool { return time.Since(cut) >= partitionLen })
		st, err := c.Status(ctx, old)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("after %v with inbound Raft blocked, %s is %s (term %d)",
			time.Since(cut).Round(time.Millisecond), c.NodeID(old), st.GetRole(), st.GetTerm())
		c.Heal()
		c.Leader(ctx)
	})
}

// TestPartitionFollowerIsolated: cut a random follower off for 4s; the
// leader keeps its quorum, so writes must not stop.
func TestPartitionFollowerIsolated(t *testing.T) {
	runPartition(t, "partition-follower-isolated", 3, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, rng *rand.Rand) {
		leader := c.Leader(ctx)
		f := (leader + 1 + rng.IntN(c.Size()-1)) % c.Size()
		c.Isolate(f)
		ck.Fault("isolate follower " + c.NodeID(f))
		now := holdPartition(t, ctx, c, time.Now())
		t.Logf("isolated follower %s; %s led before, %s after", c.NodeID(f), c.NodeID(leader), c.NodeID(now))
	})
}

// TestPartitionBridge: cut the link between the leader and one follower
// only; the other follower sees both (a bridge). The leader keeps a
// quorum through the bridge; the cut-off follower must not disturb it
// for long, and writes continue.
func TestPartitionBridge(t *testing.T) {
	runPartition(t, "partition-bridge", 3, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, rng *rand.Rand) {
		leader := c.Leader(ctx)
		f := (leader + 1 + rng.IntN(c.Size()-1)) % c.Size()
		c.CutLink(leader, f)
		ck.Fault("cut link " + c.NodeID(leader) + "-" + c.NodeID(f))
		cut := time.Now()
		probeWrite(t, ctx, c)
		now := holdPartition(t, ctx, c, cut)
		t.Logf("bridge: cut %s-%s; %s leads after the heal", c.NodeID(leader), c.NodeID(f), c.NodeID(now))
	})
}

// TestPartitionMajorityMinority: five nodes split 2/3 with the leader on
// the minority side; the majority elects a leader and takes writes, the
// minority cannot; after the heal all five agree.
func TestPartitionMajorityMinority(t *testing.T) {
	runPartition(t, "partition-majority-minority-5", 5, func(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker, rng *rand.Rand) {
		old := c.Leader(ctx)
		other := (old + 1 + rng.IntN(c.Size()-1)) % c.Size()
		minority := []int{old, other}
		var majority []int
		for i := range c.Size() {
			if i != old && i != other {
				majority = append(majority, i)
			}
		}
		c.Partition(minority, majority)
		ck.Fault("partition leader " + c.NodeID(old) + " into a minority with " + c.NodeID(other))
		cut := time.Now()
		wrote := probeWrite(t, ctx, c)
		waitRole(t, ctx, c, old, false, "the minority leader to step down")
		t.Logf("minority {%s %s}; first write after %v", c.NodeID(old), c.NodeID(other), wrote.Round(time.Millisecond))
		now := holdPartition(t, ctx, c, cut)
		t.Logf("healed; %s leads", c.NodeID(now))
	})
}
