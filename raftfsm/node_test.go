package raftfsm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"

	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/store"
)

func TestMain(m *testing.M) {
	// hashicorp/raft's NetworkTransport.Close does not close connections
	// it accepted; the stream layer (mux.go) does, so no reader outlives
	// its node.
	goleak.VerifyTestMain(m)
}

// cluster is an in-process group of nodes on 127.0.0.1.
type cluster struct {
	t     *testing.T
	cfgs  []Config
	nodes []*Node
}

func newCluster(t *testing.T, size int, tweak func(*Config)) *cluster {
	t.Helper()
	c := &cluster{t: t}
	var peers []Peer
	for i := range size {
		peers = append(peers, Peer{ID: fmt.Sprint("n", i), RaftAddr: testutil.FreeAddr(t)})
	}
	for i := range size {
		cfg := TestConfig()
		if os.Getenv("RAFTMQ_TEST_LOG") != "" {
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("test", t.Name())
		}
		cfg.NodeID, cfg.Dir, cfg.RaftBind = peers[i].ID, t.TempDir(), peers[i].RaftAddr
		cfg.Bootstrap, cfg.Peers = true, peers
		if tweak != nil {
			tweak(&cfg)
		}
		c.cfgs = append(c.cfgs, cfg)
		c.nodes = append(c.nodes, nil)
		c.start(i)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n != nil {
				n.Kill()
			}
		}
	})
	return c
}

func (c *cluster) start(i int) {
	c.t.Helper()
	n, err := Open(c.cfgs[i])
	if err != nil {
		c.t.Fatalf("open %s: %v", c.cfgs[i].NodeID, err)
	}
	c.nodes[i] = n
}

func (c *cluster) kill(i int) {
	c.t.Helper()
	if err := c.nodes[i].Kill(); err != nil {
		c.t.Logf("kill %d: %v", i, err)
	}
	c.nodes[i] = nil
}

func (c *cluster) leader() (int, *Node) {
	c.t.Helper()
	var li int
	testutil.WaitFor(c.t, 10*time.Second, "a leader", func() bool {
		for i, n := range c.nodes {
			if n != nil && n.IsLeader() {
				li = i
				return true
			}
		}
		return false
	})
	return li, c.nodes[li]
}

func produce(t *testing.T, n *Node, topic string, q uint32, body string) store.AppendResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := produceOne(ctx, n, []*Message{{Topic: topic, QueueID: q, Body: []byte(body), Keys: []string{body}}})
	if err != nil {
		t.Fatalf("produce %s: %v", body, err)
	}
	return res[0]
}

// sameLogs waits until every live node holds byte-identical messages at
// identical offsets in every queue of topic.
func (c *cluster) sameLogs(topic string, queues uint32) {
	c.t.Helper()
	var ref []*Node
	for _, n := range c.nodes {
		if n != nil {
			ref = append(ref, n)
		}
	}
	testutil.WaitFor(c.t, 30*time.Second, "replicas to converge", func() bool {
		// The CommitLog end is published before the ConsumeQueues are
		// written, so wait for both.
		end := ref[0].Store().MaxCommitLogOffset()
		for _, n := range ref[1:] {
			if n.Store().MaxCommitLogOffset() != end {
				return false
			}
			for q := range queues {
				if n.Store().MaxOffset(topic, q) != ref[0].Store().MaxOffset(topic, q) {
					return false
				}
			}
		}
		return true
	})
	for q := range queues {
		max0 := ref[0].Store().MaxOffset(topic, q)
		for _, n := range ref {
			st := n.Store()
			if st.MaxOffset(topic, q) != max0 {
				c.t.Fatalf("%s: queue %d ends at %d, want %d", n.cfg.NodeID, q, st.MaxOffset(topic, q), max0)
			}
		}
		// Compare what every replica still holds (retention may have run
		// on some of them).
		from := uint64(0)
		for _, n := range ref {
			from = max(from, n.Store().MinOffset(topic, q))
		}
		for off := from; off < max0; off++ {
			want := getOne(c.t, ref[0].Store(), topic, q, off)
			for _, n := range ref[1:] {
				got := getOne(c.t, n.Store(), topic, q, off)
				if got.CommitLogOffset != want.CommitLogOffset || !bytes.Equal(got.Body, want.Body) || got.StoreTimestamp != want.StoreTimestamp {
					c.t.Fatalf("%s: %s/%d@%d differs: %q@%d vs %q@%d", n.cfg.NodeID, topic, q, off, got.Body, got.CommitLogOffset, want.Body, want.CommitLogOffset)
				}
			}
		}
	}
}

func getOne(t *testing.T, st *store.Store, topic string, q uint32, off uint64) Message {
	t.Helper()
	r, err := st.GetMessages(store.GetRequest{Topic: topic, QueueID: q, Offset: off, MaxMessages: 1})
	if err != nil || len(r.Messages) != 1 {
		t.Fatalf("get %s/%d@%d: %v (%d messages)", topic, q, off, err, len(r.Messages))
	}
	return r.Messages[0]
}

func TestThreeNodesReplicateAndFailOver(t *testing.T) {
	c := newCluster(t, 3, nil)
	_, l := c.leader()
	ctx := context.Background()
	if err := l.CreateTopic(ctx, Topic{Name: "orders", Queues: 4}); err != nil {
		t.Fatal(err)
	}
	if err := l.CreateTopic(ctx, Topic{Name: "orders", Queues: 5}); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("recreate with other queues: %v", err)
	}
	if _, err := produceOne(ctx, l, []*Message{{Topic: "nope", Body: []byte("x")}}); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("unknown topic: %v", err)
	}
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := range 25 {
				produce(t, l, "orders", uint32(p), fmt.Sprintf("p%d-%d", p, i))
			}
		})
	}
	wg.Wait()
	if err := l.CommitOffsets(ctx, []OffsetCommit{{Group: "g", Topic: "orders", QueueID: 1, Offset: 7}}); err != nil {
		t.Fatal(err)
	}
	c.sameLogs("orders", 4)
	for _, n := range c.nodes {
		if off, ok := n.Offset("g", "orders", 1); !ok || off != 7 {
			testutil.WaitFor(t, 5*time.Second, "offset replicated", func() bool { off, ok := n.Offset("g", "orders", 1); return ok && off == 7 })
		}
		if _, ok := n.Topic("orders"); !ok {
			t.Fatalf("%s does not know the topic", n.cfg.NodeID)
		}
	}
	// A follower refuses writes and names the leader.
	for _, n := range c.nodes {
		if !n.IsLeader() {
			if _, err := produceOne(ctx, n, []*Message{{Topic: "orders", Body: []byte("x")}}); !errors.Is(err, ErrNotLeader) {
				t.Fatalf("follower produce: %v", err)
			}
			break
		}
	}
	// Kill the leader: another takes writes.
	li, _ := c.leader()
	killed := time.Now()
	c.kill(li)
	_, l2 := c.leader()
	produce(t, l2, "orders", 0, "after-failover")
	t.Logf("failover: new leader took a write %v after the kill", time.Since(killed))
	// The killed node comes back and catches up; tables survive restarts.
	c.start(li)
	c.sameLogs("orders", 4)
	if off, ok := c.nodes[li].Offset("g", "orders", 1); !ok || off != 7 {
		t.Fatalf("restarted node lost the committed offset: %d %v", off, ok)
	}
}

func TestRestartSkipsAppliedEntries(t *testing.T) {
	c := newCluster(t, 1, nil)
	_, l := c.leader()
	if err := l.CreateTopic(context.Background(), Topic{Name: "t", Queues: 1}); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		produce(t, l, "t", 0, fmt.Sprint("m", i))
	}
	end := l.Store().MaxCommitLogOffset()
	for range 3 {
		c.kill(0)
		c.start(0)
		_, l = c.leader()
		if got := l.Store().MaxCommitLogOffset(); got != end {
			t.Fatalf("after restart the commitlog ends at %d, want %d (entries applied twice?)", got, end)
		}
	}
	if got := l.Store().MaxOffset("t", 0); got != 50 {
		t.Fatalf("queue holds %d", got)
	}
}

func TestWipedFollowerIsRebuiltBySnapshot(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) {
		cfg.Store.SegmentSize = 48 << 10
		cfg.TrailingLogs = 16
		cfg.SnapshotThreshold = 16
		// raft-boltdb drops compacted entries at once; raft-wal keeps
		// serving them until their 64 MiB segment is deleted, so with it
		// the wiped follower would catch up from the log instead.
		cfg.LogStore = LogStoreBoltDB
	})
	li, l := c.leader()
	ctx := context.Background()
	if err := l.CreateTopic(ctx, Topic{Name: "t", Queues: 2}); err != nil {
		t.Fatal(err)
	}
	// An idle queue whose only messages retention will delete before the
	// install: the rebuilt follower must still continue it at offset 3.
	if err := l.CreateTopic(ctx, Topic{Name: "idle", Queues: 1}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		produce(t, l, "idle", 0, fmt.Sprint("idle-", i))
	}
	for i := range 100 {
		produce(t, l, "t", uint32(i%2), fmt.Sprintf("before-%d-%0300d", i, 0))
	}
	if err := l.CommitOffsets(ctx, []OffsetCommit{{Group: "g", Topic: "t", QueueID: 0, Offset: 3}}); err != nil {
		t.Fatal(err)
	}
	// An idempotent request the wiped follower learns about only from the
	// installed snapshot.
	idem := produceSeq(t, l, 77, 1, "idem")
	f := (li + 1) % 3
	c.kill(f)
	if err := os.RemoveAll(c.cfgs[f].Dir); err != nil {
		t.Fatal(err)
	}
	// Producers keep writing while the wiped follower is away and while it
	// is rebuilt; the leader compacts its log past what it could replay.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			produce(t, l, "t", uint32(i%2), fmt.Sprintf("during-%d", i))
		}
	})
	// Wait until the leader has compacted its log past the start, so the
	// wiped follower can only catch up through a snapshot install.
	testutil.WaitFor(t, 30*time.Second, "log compaction", func() bool {
		if err := l.Snapshot(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
			t.Logf("snapshot: %v", err)
		}
		first, err := l.logStore.FirstIndex()
		return err == nil && first > 1 && l.Store().MaxOffset("t", 0) > 150
	})
	// Retention on the leader removes the idle queue's messages.
	testutil.WaitFor(t, 10*time.Second, "retention of old segments", func() bool {
		if _, err := l.Store().DeleteExpired(time.Now().Add(1000 * time.Hour)); err != nil {
			t.Fatal(err)
		}
		return l.Store().MinOffset("idle", 0) == 3
	})
	c.cfgs[f].Bootstrap = false
	c.start(f)
	testutil.WaitFor(t, 30*time.Second, "follower rebuilt", func() bool {
		return c.nodes[f].Store().MaxCommitLogOffset() > 0 && c.nodes[f].Store().MaxOffset("t", 0) > 150
	})
	close(stop)
	wg.Wait()
	if c.nodes[f].installs.Load() == 0 {
		t.Fatal("the wiped follower caught up without a snapshot install; the test did not exercise it")
	}
	c.sameLogs("t", 2)
	if r := produce(t, l, "idle", 0, "idle-3"); r.QueueOffset != 3 {
		t.Fatalf("idle queue continued at %d on the leader", r.QueueOffset)
	}
	testutil.WaitFor(t, 10*time.Second, "idle message everywhere", func() bool {
		for _, n := range c.nodes {
			if n.Store().MaxOffset("idle", 0) != 4 {
				return false
			}
		}
		return true
	})
	want := getOne(t, l.Store(), "idle", 0, 3)
	for _, n := range c.nodes {
		if got := getOne(t, n.Store(), "idle", 0, 3); got.CommitLogOffset != want.CommitLogOffset || string(got.Body) != "idle-3" {
			t.Fatalf("%s: idle/0@3 is %q at %d, want at %d", n.cfg.NodeID, got.Body, got.CommitLogOffset, want.CommitLogOffset)
		}
	}
	if off, ok := c.nodes[f].Offset("g", "t", 0); !ok || off != 3 {
		t.Fatalf("rebuilt follower offsets: %d %v", off, ok)
	}
	// Its producer table came with the snapshot: as leader it answers a
	// retry with the original offsets.
	testutil.WaitFor(t, 10*time.Second, "leadership moves to the rebuilt follower", func() bool {
		if l.IsLeader() {
			_ = l.TransferLeadership(c.cfgs[f].NodeID)
		}
		return c.nodes[f].IsLeader()
	})
	if got := produceSeq(t, c.nodes[f], 77, 1, "idem"); !got.Duplicate {
		t.Fatal("retry on the rebuilt follower stored again")
	} else {
		sameResults(t, "retry after install", got, idem)
	}
}

// TestRaftLogStaysBounded restarts a node many times with writes in
// between: snapshots (cheap here) let Raft compact its log, so the log does
// not grow with the history.
func TestRaftLogStaysBounded(t *testing.T) {
	for _, ls := range []string{LogStoreBoltDB, LogStoreWAL} {
		t.Run(ls, func(t *testing.T) {
			c := newCluster(t, 1, func(cfg *Config) { cfg.LogStore = ls })
			_, l := c.leader()
			if err := l.CreateTopic(context.Background(), Topic{Name: "t", Queues: 1}); err != nil {
				t.Fatal(err)
			}
			total := 0
			for round := range 8 {
				for i := range 40 {
					produce(t, l, "t", 0, fmt.Sprintf("r%d-%d", round, i))
					total++
				}
				if err := l.Snapshot(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
					t.Fatal(err)
				}
				c.kill(0)
				c.start(0)
				_, l = c.leader()
			}
			if got := l.Store().MaxOffset("t", 0); got != uint64(total) {
				t.Fatalf("queue holds %d, want %d", got, total)
			}
			first, last := l.logBounds(t)
			t.Logf("%s: raft log holds [%d, %d] after %d entries", ls, first, last, total)
			if span := last - first; span > l.cfg.TrailingLogs+l.cfg.SnapshotThreshold+16 {
				t.Fatalf("raft log spans %d entries", span)
			}
			if first <= 1 {
				t.Fatalf("raft log was never compacted (first index %d)", first)
			}
		})
	}
}

// TestLargeOffsetCommitIsSplit: an offset commit larger than one system
// record is split into several Raft entries instead of failing every
// replica on apply.
func TestLargeOffsetCommitIsSplit(t *testing.T) {
	c := newCluster(t, 3, nil)
	_, l := c.leader()
	ctx := context.Background()
	if err := l.CreateTopic(ctx, Topic{Name: "t", Queues: 1}); err != nil {
		t.Fatal(err)
	}
	long := string(bytes.Repeat([]byte("g"), 200))
	var commits []OffsetCommit
	for i := range 300 {
		commits = append(commits, OffsetCommit{Group: fmt.Sprint(long, i), Topic: "t", QueueID: 0, Offset: uint64(i)})
	}
	if err := l.CommitOffsets(ctx, commits); err != nil {
		t.Fatal(err)
	}
	produce(t, l, "t", 0, "still alive")
	for _, n := range c.nodes {
		testutil.WaitFor(t, 10*time.Second, "offsets everywhere", func() bool {
			off, ok := n.Offset(fmt.Sprint(long, 299), "t", 0)
			return ok && off == 299
		})
		if st := n.Status(); st.Err != "" {
			t.Fatalf("%s failed: %s", n.cfg.NodeID, st.Err)
		}
	}
}

func TestServersReportsNonVoters(t *testing.T) {
	c := newCluster(t, 1, nil)
	_, n := c.leader()
	// The non-voter need not exist: adding it only changes the
	// configuration (its replication just keeps failing).
	addr := testutil.FreeAddr(t)
	if err := n.raft.AddNonvoter("learner", raft.ServerAddress(addr), 0, 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	servers, err := n.Servers()
	if err != nil {
		t.Fatal(err)
	}
	want := []Peer{{ID: "n0", RaftAddr: c.cfgs[0].RaftBind}, {ID: "learner", RaftAddr: addr, NonVoter: true}}
	if !slices.Equal(servers, want) {
		t.Fatalf("Servers() = %+v; want %+v", servers, want)
	}
}
