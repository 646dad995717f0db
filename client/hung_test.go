package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/testutil"
)

// TestHungNodeIsLeftBehind: a node that stops answering (paused, not
// dead) must not pin the client. A route lookup that times out at a hung
// seed moves to the next seed, and a produce that timed out at a hung
// leader drops the cached route, so the next send finds the new leader.
func TestHungNodeIsLeftBehind(t *testing.T) {
	cl := startCluster(t, 2)
	p := warmProducer(t, cl, WithRequestTimeout(200*time.Millisecond))
	ctx := context.Background()
	// Node 0 (leader and first seed) hangs; node 1 becomes the leader.
	releaseProduce := cl.nodes[0].Block("Produce")
	defer releaseProduce()
	releaseDescribe := cl.nodes[0].Block("DescribeTopic")
	defer releaseDescribe()
	_, err := p.Send(ctx, "t", &Message{Body: []byte("at the hung leader")})
	if !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("send to a hung leader: %v, want ErrUnknownOutcome", err)
	}
	cl.setLeader("g0", 1)
	if _, err := p.Send(ctx, "t", &Message{Body: []byte("after")}); err != nil {
		t.Fatalf("send after the leader changed: %v", err)
	}
}

// TestProduceLeavesAFrozenLeader: a produce in flight at a leader that
// stops answering is given up once another replica says it leads (the
// leader probe), long before the request timeout, and retried there,
// stored once. A produce at a leader that is only slow, and still leads,
// is left to finish.
func TestProduceLeavesAFrozenLeader(t *testing.T) {
	cl := startCluster(t, 2)
	p := warmProducer(t, cl, WithLeaderProbe(50*time.Millisecond))
	ctx := context.Background()

	t.Run("slow leader", func(t *testing.T) {
		release := cl.nodes[0].Block("Produce")
		done := make(chan error, 1)
		go func() {
			_, err := p.Send(ctx, "t", &Message{Body: []byte("slow")})
			done <- err
		}()
		testutil.WaitFor(t, 5*time.Second, "three probes, each told that node 0 leads", func() bool {
			return cl.nodes[1].Calls("ClusterStatus") >= 3
		})
		calls := cl.calls("Produce")
		release()
		if err := <-done; err != nil {
			t.Fatalf("send at a slow leader: %v", err)
		}
		if now := cl.calls("Produce"); now != calls || cl.nodes[1].Calls("Produce") != 0 {
			t.Fatalf("%d produce calls after the slow one answered, %d before, %d at node 1: it was retried", now, calls, cl.nodes[1].Calls("Produce"))
		}
	})

	t.Run("slow leader answers during a probe round", func(t *testing.T) {
		// A probe round that waits for a silent node (no claim above the
		// term already known) lasts half a probe; an attempt whose answer
		// comes meanwhile must not wait for the round.
		p := warmProducer(t, cl, WithLeaderProbe(time.Second))
		release := cl.nodes[0].Block("Produce")
		defer release()
		base := cl.nodes[1].Calls("ClusterStatus")
		done := make(chan error, 1)
		go func() {
			_, err := p.Send(ctx, "t", &Message{Body: []byte("slow")})
			done <- err
		}()
		testutil.WaitFor(t, 5*time.Second, "a first probe round", func() bool { return cl.nodes[1].Calls("ClusterStatus") > base })
		silent := cl.nodes[1].Block("ClusterStatus")
		defer silent()
		testutil.WaitFor(t, 5*time.Second, "a second probe round, held by node 1", func() bool {
			return cl.nodes[1].Calls("ClusterStatus") > base+1
		})
		answered := time.Now()
		release()
		if err := <-done; err != nil {
			t.Fatalf("send at a slow leader: %v", err)
		}
		if took := time.Since(answered); took > 250*time.Millisecond {
			t.Fatalf("the send returned %v after its answer; want at once, not after the 500ms probe round", took)
		}
	})

	t.Run("frozen leader", func(t *testing.T) {
		release := cl.nodes[0].Block("Produce")
		defer release()
		before := cl.b.Count("t")
		done := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := p.Send(ctx, "t", &Message{Body: []byte("moved")})
			done <- err
		}()
		testutil.WaitFor(t, 5*time.Second, "the produce to reach node 0", func() bool { return cl.nodes[0].Calls("Produce") > 0 })
		cl.setLeader("g0", 1)
		if err := <-done; err != nil {
			t.Fatalf("send after the leader froze: %v", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("send took %v; want it moved on well before the 10s request timeout", took)
		}
		if n := cl.nodes[1].Calls("Produce"); n == 0 {
			t.Fatal("the retry did not go to the new leader")
		}
		if got := cl.b.Count("t"); got != before+1 {
			t.Fatalf("%d messages stored, %d before; want one more", got, before)
		}
	})
}

// TestRouteLookupLeavesAFrozenSeed: a route lookup at a seed that stops
// answering goes to the next seed as well once the leader probe passes,
// long before the request timeout, and the seed that answered is asked
// first next time.
func TestRouteLookupLeavesAFrozenSeed(t *testing.T) {
	cl := startCluster(t, 2)
	c := dial(t, cl.addrs(), WithLeaderProbe(50*time.Millisecond))
	createTopic(t, c, "t", 2)
	release := cl.nodes[0].Block("DescribeTopic")
	defer release()
	start := time.Now()
	if _, err := c.DescribeTopic(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("lookup took %v; want it answered by the other seed well before the 10s request timeout", took)
	}
	if n := cl.nodes[1].Calls("DescribeTopic"); n != 1 {
		t.Fatalf("node 1 got %d lookups; want 1", n)
	}
	if _, err := c.DescribeTopic(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	if n0, n1 := cl.nodes[0].Calls("DescribeTopic"), cl.nodes[1].Calls("DescribeTopic"); n0 != 1 || n1 != 2 {
		t.Fatalf("lookups: node 0 %d, node 1 %d; want the second at node 1 only", n0, n1)
	}
}

// warmProducer dials cl's nodes with opts, creates topic "t" with two
// queues and returns a producer that has stored one message there (so the
// route is cached and node 0 is the remembered seed).
func warmProducer(t *testing.T, cl *cluster, opts ...Option) *Producer {
	t.Helper()
	c := dial(t, cl.addrs(), opts...)
	createTopic(t, c, "t", 2)
	p := newProducer(t, c)
	if _, err := p.Send(context.Background(), "t", &Message{Body: []byte("warm")}); err != nil {
		t.Fatal(err)
	}
	return p
}
