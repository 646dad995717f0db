package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/internal/checker"
	"github.com/raftmq/raftmq/internal/testcluster"
)

// These tests run real raftmq processes (built without -race, whatever
// the test binary is built with) and check the promises users care about
// with the durability checker: acknowledged messages survive a leader
// crash or pause, every replica agrees, per-queue order holds, and a new
// leader takes writes within seconds.

func TestMain(m *testing.M) {
	code := m.Run()
	if err := testcluster.RemoveBuilds(); err != nil {
		fmt.Fprintln(os.Stderr, "remove test builds:", err)
	}
	os.Exit(code)
}

const (
	// processTestTimeout bounds one of these tests. They run in make test
	// under the race detector beside every other package's tests, and the
	// checker's read-back needs room to finish and report:
	// TestKillLeader once ran out of a 50 s budget in its check with
	// nothing to show where the time went.
	processTestTimeout = 90 * time.Second
	// workload is how long the producers run in each test.
	workload = 10 * time.Second
	// probeTopic takes the probe writes that time a failover, apart from
	// the checker's topic.
	probeTopic = "probe"
)

// TestKillLeader: kill -9 the leader under a 4-producer load, time the
// failover, restart the node, let it catch up, then check that nothing
// acknowledged was lost and that the replicas agree.
func TestKillLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test (builds raftmq, runs 3 brokers for ~15s); skipped with -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), processTestTimeout)
	defer cancel()
	c := testcluster.Start(t, testcluster.Options{Nodes: 3})
	ck, start := startWorkload(t, ctx, c, 5*time.Second)

	waitFor(t, ctx, "3s of acknowledged writes", func() bool { return time.Since(start) >= 3*time.Second && acked(ck) > 0 })
	old := c.Leader(ctx)
	c.Kill9(old)
	ck.Fault("kill -9 leader " + c.NodeID(old))
	killed := time.Now()
	wrote := probeWrite(t, ctx, c)
	leader := c.Leader(ctx)
	t.Logf("killed leader %s; %s took the first write after %v (leader known after %v)",
		c.NodeID(old), c.NodeID(leader), wrote.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))

	c.Restart(old)
	c.WaitHealthy(old)
	restarted := time.Now()
	c.WaitCaughtUp(ctx, old)
	t.Logf("%s restarted and caught up in %v", c.NodeID(old), time.Since(restarted).Round(time.Millisecond))

	waitFor(t, ctx, "the end of the workload", func() bool { return time.Since(start) >= workload })
	rep := stopAndCheck(t, ctx, c, ck)
	if len(rep.Failovers) != 1 || !rep.Failovers[0].Recovered {
		t.Fatalf("no write succeeded after the kill: %+v", rep.Failovers)
	}
	if rep.FailoverMax > 10*time.Second || wrote > 10*time.Second {
		t.Fatalf("failover took %v (probe %v); want seconds", rep.FailoverMax, wrote)
	}
}

// TestPauseLeader: SIGSTOP the leader for longer than the election
// timeout; the others elect a new leader and take writes; after SIGCONT
// the old leader steps down, catches up, and every replica agrees.
func TestPauseLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test (builds raftmq, runs 3 brokers for ~15s); skipped with -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), processTestTimeout)
	defer cancel()
	c := testcluster.Start(t, testcluster.Options{Nodes: 3})
	// A Produce in flight to the paused leader would hang until its
	// attempt times out (10s, the client's default); the client's leader
	// probe (client.WithLeaderProbe) must give it up and find the new
	// leader while the old one is still paused.
	ck, start := startWorkload(t, ctx, c, 10*time.Second)

	waitFor(t, ctx, "2s of acknowledged writes", func() bool { return time.Since(start) >= 2*time.Second && acked(ck) > 0 })
	old := c.Leader(ctx)
	oldStatus, err := c.Status(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	c.Pause(old)
	ck.Fault("SIGSTOP leader " + c.NodeID(old))
	paused := time.Now()
	wrote := probeWrite(t, ctx, c)
	leader := c.Leader(ctx)
	if leader == old {
		t.Fatalf("paused node %s still counted as leader", c.NodeID(old))
	}
	t.Logf("paused leader %s (term %d); %s took the first write after %v",
		c.NodeID(old), oldStatus.GetTerm(), c.NodeID(leader), wrote.Round(time.Millisecond))
	// Stay paused well past the election timeout (1s by default), so the
	// old leader wakes up deposed, with writes it missed.
	waitFor(t, ctx, "4s of pause", func() bool { return time.Since(paused) >= 4*time.Second })
	c.Resume(old)
	pauseLen := time.Since(paused)

	waitFor(t, ctx, "the old leader to step down", func() bool {
		st, err := c.Status(ctx, old)
		return err == nil && st.GetRole() == "follower" && st.GetTerm() > oldStatus.GetTerm()
	})
	c.WaitCaughtUp(ctx, old)
	if l := c.Leader(ctx); l == old {
		t.Fatalf("old leader %s leads again right after resuming", c.NodeID(old))
	}
	t.Logf("%s resumed, stepped down and caught up %v after the pause began", c.NodeID(old), time.Since(paused).Round(time.Millisecond))

	waitFor(t, ctx, "the end of the workload", func() bool { return time.Since(start) >= workload })
	rep := stopAndCheck(t, ctx, c, ck)
	if len(rep.Failovers) != 1 || !rep.Failovers[0].Recovered {
		t.Fatalf("no write succeeded after the pause: %+v", rep.Failovers)
	}
	if took := rep.Failovers[0].Took; took >= pauseLen {
		if wrote < pauseLen-time.Second {
			t.Fatalf("the checker's producers wrote again only after the resume (%v >= %v pause), although the group took a write %v after the pause began: their attempts waited for the frozen leader",
				took.Round(time.Millisecond), pauseLen.Round(time.Millisecond), wrote.Round(time.Millisecond))
		}
		// A slow election on a loaded machine left no time to move.
		t.Logf("note: the group itself took its first write only %v after the pause began", wrote.Round(time.Millisecond))
	}
}

// startWorkload creates the probe topic and starts a checker with 4
// producers on a 4-queue topic, each Produce attempt bounded by
// requestTimeout; it returns the checker and its start time.
func startWorkload(t *testing.T, ctx context.Context, c *testcluster.Cluster, requestTimeout time.Duration) (*checker.Checker, time.Time) {
	t.Helper()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Client(c.Leader(ctx)).CreateTopic(cctx, &raftmqpb.CreateTopicRequest{Topic: &raftmqpb.TopicConfig{Name: probeTopic, Queues: 1}}); err != nil {
		t.Fatalf("create %s: %v", probeTopic, err)
	}
	// The checker's and its client's logs go to the test's output (shown
	// when it fails): where a check's time went.
	ck, err := checker.New(checker.Config{Addrs: c.Addrs(), Queues: 4, Producers: 4, BodySize: 256, Seed: seed,
		RequestTimeout: requestTimeout, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ck.Close(); err != nil {
			t.Errorf("close checker: %v", err)
		}
	})
	if err := ck.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return ck, time.Now()
}

// stopAndCheck stops the producers, runs the checker, logs the report and
// fails the test if it is not OK (keeping the history in the test's
// artifact directory).
func stopAndCheck(t *testing.T, ctx context.Context, c *testcluster.Cluster, ck *checker.Checker) *checker.Report {
	t.Helper()
	if err := ck.Stop(); err != nil {
		t.Fatal(err)
	}
	c.WaitConverged(ctx)
	rep, err := ck.Check(ctx)
	if err != nil {
		if rep != nil { // Check ran out of ctx: what it read until then
			t.Logf("%s", rep)
			path := filepath.Join(t.ArtifactDir(), "history.jsonl")
			if werr := ck.WriteHistoryFile(path); werr != nil {
				t.Errorf("write history: %v", werr)
			}
		}
		t.Fatalf("check: %v", err)
	}
	t.Logf("%s", rep)
	if !rep.OK() || rep.Acked == 0 {
		path := filepath.Join(t.ArtifactDir(), "history.jsonl")
		if err := ck.WriteHistoryFile(path); err != nil {
			t.Errorf("write history: %v", err)
		}
		t.Fatalf("check failed (acked %d); history in %s", rep.Acked, path)
	}
	return rep
}

// acked counts the checker's acknowledged sends so far.
func acked(ck *checker.Checker) int {
	n, _, _ := ck.Counts()
	return n
}

// probeWrite produces to the probe topic through every live node in turn,
// each attempt bounded by 250ms, until one succeeds; it returns how long
// that took.
func probeWrite(t *testing.T, ctx context.Context, c *testcluster.Cluster) time.Duration {
	t.Helper()
	start := time.Now()
	req := &raftmqpb.ProduceRequest{Topic: probeTopic, Messages: []*raftmqpb.ProduceMessage{{Body: []byte("probe")}}}
	waitFor(t, ctx, "a write after the fault", func() bool {
		for i := range c.Size() {
			if !c.Running(i) || c.Paused(i) {
				continue
			}
			actx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
			_, err := c.Client(i).Produce(actx, req)
			cancel()
			if err == nil {
				return true
			}
		}
		return false
	})
	return time.Since(start)
}

// waitFor polls cond every 10ms until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s: %v", what, ctx.Err())
		}
	}
}
