package membership

import (
	"errors"
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/testutil"
)

const convergeTimeout = 20 * time.Second

// startCluster starts a (no seeds) and b, c joining through a only; a and b
// are in group g1, c in g2. It waits until every node sees all three alive.
func startCluster(t *testing.T) (a, b, c *testNode) {
	t.Helper()
	a = startNode(t, nodeConfig("a", "g1", 1))
	seed := a.Local().GossipAddr
	b = startNode(t, nodeConfig("b", "g1", 2, seed))
	c = startNode(t, nodeConfig("c", "g2", 3, seed))
	for _, n := range []*testNode{a, b, c} {
		testutil.WaitFor(t, convergeTimeout, n.Local().ID+" sees 3 alive", func() bool {
			return len(n.Alive("")) == 3
		})
	}
	return a, b, c
}

func TestClusterFormsThroughOneSeed(t *testing.T) {
	a, b, c := startCluster(t)
	nodes := []*testNode{a, b, c}
	for _, viewer := range nodes {
		for _, n := range nodes {
			want := n.Local()
			got, ok := memberOf(viewer.Membership, want.ID)
			if !ok || got != want {
				t.Errorf("%s sees %s as %+v (found %v), want %+v", viewer.Local().ID, want.ID, got, ok, want)
			}
		}
		ids := func(ms []Member) (out []string) {
			for _, m := range ms {
				out = append(out, m.ID)
			}
			return out
		}
		if got := ids(viewer.Alive("g1")); len(got) != 2 || got[0] != "a" || got[1] != "b" {
			t.Errorf("%s: Alive(g1) = %v, want [a b]", viewer.Local().ID, got)
		}
		if got := ids(viewer.Alive("g2")); len(got) != 1 || got[0] != "c" {
			t.Errorf("%s: Alive(g2) = %v, want [c]", viewer.Local().ID, got)
		}
	}
	if got := a.Local(); got.GRPCAddr != "127.0.0.1:20001" || got.RaftAddr != "127.0.0.1:30001" || got.GossipAddr == "" {
		t.Errorf("a.Local() = %+v", got)
	}
}

func TestHasRaftStateFlipSeenAfterUpdateMeta(t *testing.T) {
	a, b, c := startCluster(t)
	events, cancel := a.Subscribe()
	defer cancel()
	if mem, _ := memberOf(a.Membership, "b"); mem.HasRaftState {
		t.Fatal("b reports raft state before it has any")
	}
	b.state.Store(true)
	if !b.Local().HasRaftState {
		t.Fatal("Local does not re-evaluate HasRaftState")
	}
	if err := b.UpdateMeta(); err != nil {
		t.Fatalf("UpdateMeta: %v", err)
	}
	for _, n := range []*testNode{a, c} {
		testutil.WaitFor(t, convergeTimeout, n.Local().ID+" sees b with raft state", func() bool {
			mem, ok := memberOf(n.Membership, "b")
			return ok && mem.HasRaftState && mem.State == StateAlive
		})
	}
	waitEvent(t, events, func(e Event) bool {
		return e.Type == EventUpdate && e.Member.ID == "b" && e.Member.HasRaftState
	})
}

func TestCloseWithoutLeaveIsDead(t *testing.T) {
	a, b, c := startCluster(t)
	events, cancel := a.Subscribe()
	defer cancel()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, n := range []*testNode{a, b} {
		testutil.WaitFor(t, convergeTimeout, n.Local().ID+" sees c dead", func() bool {
			return sees(n.Membership, "c", StateDead)
		})
		if got := len(n.Alive("")); got != 2 {
			t.Errorf("%s: %d alive after c died, want 2", n.Local().ID, got)
		}
	}
	waitEvent(t, events, func(e Event) bool {
		return e.Type == EventFail && e.Member.ID == "c" && e.Member.State == StateDead
	})
}

func TestLeaveIsSeenAsLeft(t *testing.T) {
	a, b, c := startCluster(t)
	events, cancel := a.Subscribe()
	defer cancel()
	if err := c.Leave(5 * time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if err := c.Leave(time.Second); err != nil {
		t.Fatalf("second Leave: %v", err)
	}
	if got := c.Local().State; got != StateLeft {
		t.Errorf("c.Local().State = %v, want left", got)
	}
	if err := c.UpdateMeta(); !errors.Is(err, ErrLeft) {
		t.Errorf("UpdateMeta after Leave = %v, want ErrLeft", err)
	}
	for _, n := range []*testNode{a, b} {
		testutil.WaitFor(t, convergeTimeout, n.Local().ID+" sees c left", func() bool {
			return sees(n.Membership, "c", StateLeft)
		})
	}
	waitEvent(t, events, func(e Event) bool {
		return e.Type == EventLeave && e.Member.ID == "c" && e.Member.State == StateLeft
	})
	// Closing after a leave must not turn it into a failure.
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Leave(time.Second); !errors.Is(err, ErrClosed) {
		t.Errorf("Leave after Close = %v, want ErrClosed", err)
	}
	if err := c.UpdateMeta(); !errors.Is(err, ErrClosed) {
		t.Errorf("UpdateMeta after Close = %v, want ErrClosed", err)
	}
	for _, n := range []*testNode{a, b} {
		if !sees(n.Membership, "c", StateLeft) {
			mem, _ := memberOf(n.Membership, "c")
			t.Errorf("%s sees c as %v after its Close, want left", n.Local().ID, mem.State)
		}
	}
}

func TestJoinRetriesUntilSeedIsUp(t *testing.T) {
	seedAddr := testutil.FreeAddr(t)
	b := startNode(t, nodeConfig("b", "g1", 2, seedAddr))
	testutil.WaitFor(t, convergeTimeout, "b to retry its join", func() bool {
		return b.joinAttempts.Load() >= 3
	})
	if got := len(b.Alive("")); got != 1 {
		t.Fatalf("b sees %d alive before the seed is up, want 1", got)
	}
	cfg := nodeConfig("a", "g1", 1)
	cfg.BindAddr = seedAddr
	a := startNode(t, cfg)
	for _, n := range []*testNode{a, b} {
		testutil.WaitFor(t, convergeTimeout, n.Local().ID+" sees both", func() bool {
			return len(n.Alive("g1")) == 2
		})
	}
}

func TestEncryption(t *testing.T) {
	key1 := []byte("0123456789abcdef")
	key2 := []byte("fedcba9876543210")
	cfgA := nodeConfig("a", "g1", 1)
	cfgA.SecretKey = key1
	a := startNode(t, cfgA)
	seed := a.Local().GossipAddr

	cfgB := nodeConfig("b", "g1", 2, seed)
	cfgB.SecretKey = key1
	b := startNode(t, cfgB)
	testutil.WaitFor(t, convergeTimeout, "a and b (same key) to form a cluster", func() bool {
		return len(a.Alive("")) == 2 && len(b.Alive("")) == 2
	})

	for _, tc := range []struct {
		name string
		key  []byte
	}{
		{"other key", key2},
		{"no key", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := nodeConfig("x", "g1", 9, seed)
			cfg.SecretKey = tc.key
			x := startNode(t, cfg)
			testutil.WaitFor(t, convergeTimeout, "x to try joining several times", func() bool {
				return x.joinAttempts.Load() >= 3
			})
			if got := len(x.Alive("")); got != 1 {
				t.Errorf("x sees %d alive, want only itself", got)
			}
			for _, n := range []*testNode{a, b} {
				if _, ok := memberOf(n.Membership, "x"); ok {
					t.Errorf("%s knows x, which has the wrong key", n.Local().ID)
				}
			}
			_ = x.Close()
		})
	}
}

func TestCloseIsIdempotentAndClosesSubscribers(t *testing.T) {
	a := startNode(t, nodeConfig("a", "g1", 1))
	events, cancel := a.Subscribe()
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, ok := <-events; ok {
		t.Error("subscriber channel still open after Close")
	}
	cancel() // after Close: must not block or panic
	late, lateCancel := a.Subscribe()
	defer lateCancel()
	if _, ok := <-late; ok {
		t.Error("Subscribe after Close returned an open channel")
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	cfg := nodeConfig("a", "g1", 1)
	cfg.SecretKey = []byte("short")
	if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New with a 5-byte key = %v, want ErrInvalidConfig", err)
	}
}

// waitEvent reads events until match accepts one.
func waitEvent(t *testing.T, events <-chan Event, match func(Event) bool) {
	t.Helper()
	timer := time.NewTimer(convergeTimeout)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("event channel closed")
			}
			if match(e) {
				return
			}
		case <-timer.C:
			t.Fatal("timed out waiting for event")
		}
	}
}
