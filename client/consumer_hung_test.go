package client

import (
	"context"
	"testing"
	"time"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/client/internal/fakebroker"
	"github.com/raftmq/raftmq/internal/testutil"
)

// The consumer tests below probe every 100ms and time attempts out after
// 10s (testOptions): a call that waits for the timeout is unmistakable.
const consumerProbe = 100 * time.Millisecond

// TestConsumerCallsLeaveAFrozenLeader: each call a consumer sends to its
// group's leader, held there by a leader that stopped answering, is given
// up once another replica says it leads, long before the request timeout,
// and repeated there. A Fetch is watched only after its long-poll wait.
func TestConsumerCallsLeaveAFrozenLeader(t *testing.T) {
	cl := startCluster(t, 2)
	c := dial(t, cl.addrs(), WithLeaderProbe(consumerProbe))
	createTopic(t, c, "t", 2)
	cs := newConsumer(t, c, "g", WithSessionTimeout(time.Minute))
	if err := cs.Subscribe("t", (&collector{}).handle); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := queueKey{"t", 0}
	calls := []struct {
		method string
		call   func() error
	}{
		{"Heartbeat", func() error {
			_, err := cs.heartbeat(ctx, "t", "g0", []string{"t"})
			return err
		}},
		{"CommitOffsets", func() error {
			cs.offsets.init(key, 0)
			cs.offsets.advance(key, 1)
			return cs.commit(ctx, &key)
		}},
		{"LeaveGroup", func() error { return cs.leave(ctx) }}, // the heartbeat joined
		{"Fetch", func() error {
			_, err := cs.fetch(ctx, key, &pb.FetchRequest{MaxWaitMs: uint32(2 * consumerProbe / time.Millisecond)})
			return err
		}},
	}
	for _, tc := range calls {
		t.Run(tc.method, func(t *testing.T) {
			cl.setLeader("g0", 0)
			c.routes.invalidate("t") // node 0 leads in the route too
			before0, before1 := cl.nodes[0].Calls(tc.method), cl.nodes[1].Calls(tc.method)
			release := cl.nodes[0].Block(tc.method)
			defer release()
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- tc.call() }()
			testutil.WaitFor(t, 5*time.Second, "the call to reach node 0", func() bool { return cl.nodes[0].Calls(tc.method) > before0 })
			cl.setLeader("g0", 1)
			if err := <-done; err != nil {
				t.Fatalf("%s after the leader froze: %v", tc.method, err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("%s took %v; want it moved on well before the 10s request timeout", tc.method, took)
			}
			if n := cl.nodes[1].Calls(tc.method) - before1; n != 1 {
				t.Fatalf("node 1 got %d %s calls; want the one retry", n, tc.method)
			}
		})
	}
}

// TestConsumerLeavesAFrozenLeader: a running consumer whose group leader
// stops answering its heartbeats, commits and fetches goes on consuming
// and committing at the new leader, long before the request timeout.
func TestConsumerLeavesAFrozenLeader(t *testing.T) {
	cl := startCluster(t, 2)
	c := dial(t, cl.addrs(), WithLeaderProbe(consumerProbe))
	createTopic(t, c, "t", 2)
	p := newProducer(t, c)
	var col collector
	cs := newConsumer(t, c, "g", WithMaxWait(2*consumerProbe), WithSessionTimeout(time.Minute))
	if err := cs.Subscribe("t", col.handle); err != nil {
		t.Fatal(err)
	}
	if err := cs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	committed := func() uint64 {
		q0, _ := cl.b.Committed("g", "t", 0)
		q1, _ := cl.b.Committed("g", "t", 1)
		return q0 + q1
	}
	sendN(t, p, "t", "before", 2) // one per queue
	testutil.WaitFor(t, waitLong, "the first messages consumed and committed", func() bool {
		return len(col.messages()) == 2 && committed() == 2
	})

	for _, m := range []string{"Heartbeat", "CommitOffsets", "Fetch"} {
		defer cl.nodes[0].Block(m)()
	}
	cl.setLeader("g0", 1)
	start := time.Now()
	sendN(t, p, "t", "after", 2)
	testutil.WaitFor(t, 5*time.Second, "the new messages consumed and committed, and heartbeats at node 1", func() bool {
		return len(col.messages()) == 4 && committed() == 4 &&
			cl.nodes[1].Calls("Heartbeat") > 0 && cl.nodes[1].Calls("Fetch") > 0 && cl.nodes[1].Calls("CommitOffsets") > 0
	})
	t.Logf("moved to the new leader in %v", time.Since(start))
}

// TestReadsThatAreNotProbed: a long poll that the leader holds for its
// wait, longer than the leader probe, is neither probed about nor given
// up; nor is a read sent to a replica because the group had no leader,
// however long it waits, just because another node leads by now.
func TestReadsThatAreNotProbed(t *testing.T) {
	t.Run("healthy long poll", func(t *testing.T) {
		cl := startCluster(t, 2)
		// The watch would start 300ms after a poll's 300ms wait: slack
		// for a loaded machine, where a watch after the probe alone
		// would start as the poll ends.
		c := dial(t, cl.addrs(), WithLeaderProbe(3*consumerProbe))
		createTopic(t, c, "t", 2)
		// Broadcasting: no heartbeats or commits, only the long polls.
		cs := newConsumer(t, c, "g", WithMode(Broadcasting), WithMaxWait(3*consumerProbe))
		if err := cs.Subscribe("t", (&collector{}).handle); err != nil {
			t.Fatal(err)
		}
		if err := cs.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, waitLong, "a few long polls at node 0 run out", func() bool {
			return cl.nodes[0].Calls("Fetch") >= 6 // 2 queues: at least 4 ended after the wait
		})
		if n := cl.calls("ClusterStatus"); n != 0 {
			t.Fatalf("%d leader probes; want none while the leader answers its long polls in time", n)
		}
		if n := cl.nodes[1].Calls("Fetch"); n != 0 {
			t.Fatalf("node 1 got %d fetches; want every long poll left at the leader", n)
		}
	})

	t.Run("read at a replica", func(t *testing.T) {
		cl := startCluster(t, 2)
		cl.b.SetGroup(fakebroker.Group{Name: "g0", Replicas: cl.addrs()}) // no leader
		c := dial(t, cl.addrs(), WithLeaderProbe(consumerProbe))
		createTopic(t, c, "t", 2)
		if _, err := c.DescribeTopic(context.Background(), "t"); err != nil { // caches the leaderless route
			t.Fatal(err)
		}
		cs := newConsumer(t, c, "g")
		cl.setLeader("g0", 1)
		release := cl.nodes[0].Block("Fetch") // reads go to the first replica
		defer release()
		ctx, cancel := context.WithTimeout(context.Background(), 5*consumerProbe)
		defer cancel()
		if _, err := cs.fetch(ctx, queueKey{"t", 0}, &pb.FetchRequest{}); err == nil {
			t.Fatal("a fetch held by node 0 answered")
		}
		if n := cl.nodes[0].Calls("Fetch"); n != 1 {
			t.Fatalf("node 0 got %d fetches; want 1", n)
		}
		if n, p := cl.nodes[1].Calls("Fetch"), cl.calls("ClusterStatus"); n != 0 || p != 0 {
			t.Fatalf("node 1 got %d fetches after %d leader probes; want the read left at the replica it asked, unprobed", n, p)
		}
	})
}
