package api_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/store/vfs"
)

// TestFullLeaderHandsOver: the leader's store disk goes above its hard
// limit. Produces there fail with RESOURCE_EXHAUSTED until, within a few
// disk checks, the leadership moves to a voter with room; produces then
// succeed again, the node with the full disk still follows (its replica
// applies what is committed), and cluster status names its full disk.
func TestFullLeaderHandsOver(t *testing.T) {
	c, disks := newClusterOn(t, 3, func() *vfs.DiskFaultFS { return vfs.NewDiskFaultFS(vfs.OS()) },
		func(bc *broker.Config) { bc.DiskFullCheck = 500 * time.Millisecond })
	l, _ := c.leader()
	if _, err := l.client.CreateTopic(callCtx(t), &raftmqpb.CreateTopicRequest{Topic: &raftmqpb.TopicConfig{Name: "t", Queues: 2}}); err != nil {
		t.Fatal(err)
	}
	before := produce(t, l, "t", "before", 10)
	for i, n := range c.nodes {
		if n == l {
			disks[i].SetMode(vfs.DiskMode{Kind: vfs.DiskFull})
		}
	}
	testutil.WaitFor(t, 5*time.Second, "the leader to see its disk full", func() bool { return l.broker.Status().DiskFull })
	resp, err := l.client.Produce(callCtx(t), &raftmqpb.ProduceRequest{Topic: "t", Messages: []*raftmqpb.ProduceMessage{{Body: []byte("x")}}})
	switch {
	case err == nil:
		// The leadership moved before the produce: it was forwarded.
		if l.node.IsLeader() {
			t.Fatal("the full leader took a produce")
		}
		before = append(before, resp.GetResults()...)
	case status.Code(err) != codes.ResourceExhausted:
		t.Fatalf("produce at the full leader: %v; want RESOURCE_EXHAUSTED", err)
	}
	testutil.WaitFor(t, 10*time.Second, "the full leader to hand over", func() bool { return !l.node.IsLeader() })
	nl, _ := c.leader()
	if nl == l {
		t.Fatalf("%s still leads", l.id)
	}
	after := produce(t, nl, "t", "after", 10)
	st, err := l.client.ClusterStatus(callCtx(t), &raftmqpb.ClusterStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.GetNodes() {
		full := n.GetNodeId() == l.id
		if n.GetDiskFull() != full || full && n.GetDiskUsed() != 1 {
			t.Errorf("cluster status of %s: disk_full %v, disk_used %v; want full %v", n.GetNodeId(), n.GetDiskFull(), n.GetDiskUsed(), full)
		}
	}
	// The old leader follows and applies: it serves every message.
	perQueue := map[uint32]int{}
	for _, r := range append(before, after...) {
		perQueue[r.GetQueueId()]++
	}
	for q, want := range perQueue {
		if got := readQueue(t, l, "t", q, want); len(got) != want {
			t.Fatalf("%s queue %d: %d messages; want %d", l.id, q, len(got), want)
		}
	}
}
