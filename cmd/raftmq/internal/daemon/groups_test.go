package daemon

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/internal/testutil"
)

// TestGossipTwoGroups starts two one-node broker groups that find each
// other through gossip only: a topic created through one node is spread
// over both groups, either node answers its full route, and a client
// that knows one node produces into both groups and reads back through
// the other.
func TestGossipTwoGroups(t *testing.T) {
	a, b := startTwoGroups(t)
	ctx, cancel := callCtx(t)
	defer cancel()
	_, err := b.cl.CreateTopic(ctx, &raftmqpb.CreateTopicRequest{Topic: &raftmqpb.TopicConfig{Name: "spread", Queues: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*gossipNode{a, b} {
		resp, err := n.cl.DescribeTopic(ctx, &raftmqpb.DescribeTopicRequest{Name: "spread"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range resp.GetRoutes() {
			got = append(got, fmt.Sprintf("%d@%s", r.GetQueueId(), r.GetGroup()))
		}
		if strings.Join(got, " ") != "0@ga 1@ga 2@gb 3@gb" {
			t.Fatalf("route via %s: %v", n.id, got)
		}
	}

	cl, err := client.Dial(t.Context(), []string{addrOf(a)})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	p, err := client.NewProducer(cl)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	groups := map[string]int{}
	for i := range 20 {
		res, err := p.Send(t.Context(), "spread", &client.Message{Body: fmt.Appendf(nil, "m%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		group, _, _ := strings.Cut(res[0].MsgID, ":")
		groups[group]++
		// Every message is readable by id through the node of the other
		// group too.
		m, err := b.cl.GetMessage(ctx, &raftmqpb.GetMessageRequest{MsgId: res[0].MsgID})
		if err != nil || string(m.GetMessage().GetBody()) != fmt.Sprint("m", i) {
			t.Fatalf("GetMessage(%s) via b1: %v, %v", res[0].MsgID, m, err)
		}
	}
	if groups["ga"] != 10 || groups["gb"] != 10 {
		t.Fatalf("messages per group: %v", groups)
	}
}

// TestDeadNodeTimeout runs a three-node group with --dead-node-timeout:
// a node gone from gossip longer than that is removed from the Raft
// configuration by the leader, and added back as a voter when it
// returns.
func TestDeadNodeTimeout(t *testing.T) {
	tightenGossip(t)
	seeds := []string{testutil.FreeAddr(t), testutil.FreeAddr(t), testutil.FreeAddr(t)}
	var nodes []*gossipNode
	for i := range 3 {
		nodes = append(nodes, newGroupNode(t, fmt.Sprint("n", i+1), "g1", 3, filepath.Join(t.TempDir(), "data"),
			seeds[i], seeds, "--dead-node-timeout", "1s"))
	}
	defer func() {
		for _, n := range nodes {
			n.shutdown(t)
		}
	}()
	for _, n := range nodes {
		n.start(t)
	}
	testutil.WaitFor(t, 30*time.Second, "three converged nodes", func() bool {
		return converged(nodes[0].status(t), 3) && nodes[0].produce(t, "first") == nil
	})
	gone := nodes[2]
	gone.shutdown(t)
	testutil.WaitFor(t, 30*time.Second, "n3 removed from the configuration", func() bool {
		return converged(nodes[0].status(t), 2) && nodes[0].produce(t, "without n3") == nil
	})
	removed := false
	for _, n := range nodes[:2] {
		removed = removed || strings.Contains(n.logs.String(), "REMOVING Raft server")
	}
	if !removed {
		t.Fatal("no leader logged the removal of n3")
	}
	gone.start(t)
	testutil.WaitFor(t, 30*time.Second, "n3 back as a voter and caught up", func() bool {
		return converged(nodes[0].status(t), 3)
	})
}

// addrOf returns a node's gRPC address from its flags.
func addrOf(n *gossipNode) string {
	for i, a := range n.args {
		if a == "--grpc-addr" {
			return n.args[i+1]
		}
	}
	return ""
}

// TestStoppedGroupStaysKnown: a group whose only node shut down (gossip
// "left") is still known, so placing a topic it holds part of and
// deleting a topic it holds are refused as UNAVAILABLE instead of
// reusing its queue ids or leaving its part behind.
func TestStoppedGroupStaysKnown(t *testing.T) {
	a, b := startTwoGroups(t)
	ctx, cancel := callCtx(t)
	defer cancel()
	if _, err := a.cl.CreateTopic(ctx, &raftmqpb.CreateTopicRequest{Topic: &raftmqpb.TopicConfig{Name: "spread", Queues: 2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.cl.CreateTopic(ctx, &raftmqpb.CreateTopicRequest{Topic: &raftmqpb.TopicConfig{Name: "onlyb", Queues: 2}, Groups: []string{"gb"}}); err != nil {
		t.Fatal(err)
	}
	b.shutdown(t)
	testutil.WaitFor(t, 30*time.Second, "b1 unreachable in a's status", func() bool {
		st := a.status(t)
		return len(st) == 2 && st[1].GetNodeId() == "b1" && !st[1].GetReachable()
	})
	ctx2, cancel2 := callCtx(t)
	defer cancel2()
	_, err := a.cl.CreateTopic(ctx2, &raftmqpb.CreateTopicRequest{Topic: &raftmqpb.TopicConfig{Name: "onlyb", Queues: 2}})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("create of onlyb (gb holds [0,2)) with gb stopped: %v, want UNAVAILABLE", err)
	}
	_, err = a.cl.DeleteTopic(ctx2, &raftmqpb.DeleteTopicRequest{Name: "spread"})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("delete of spread with gb stopped: %v, want UNAVAILABLE (gb's part remains)", err)
	}
	// Only gb holds onlyb: its route is unavailable, not "not found".
	resp, err := a.cl.DescribeTopic(ctx2, &raftmqpb.DescribeTopicRequest{Name: "onlyb"})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("describe of onlyb with gb stopped: %v, %v, want UNAVAILABLE", resp, err)
	}
}

// startTwoGroups starts two one-node groups, ga (a1) and gb (b1), that
// find each other through gossip only, and waits until a1's cluster
// status shows both leading. They are shut down at the end of the test.
func startTwoGroups(t *testing.T) (a, b *gossipNode) {
	t.Helper()
	tightenGossip(t)
	seeds := []string{testutil.FreeAddr(t), testutil.FreeAddr(t)}
	a = newGroupNode(t, "a1", "ga", 1, filepath.Join(t.TempDir(), "data"), seeds[0], seeds)
	b = newGroupNode(t, "b1", "gb", 1, filepath.Join(t.TempDir(), "data"), seeds[1], seeds)
	a.start(t)
	b.start(t)
	t.Cleanup(func() { a.shutdown(t); b.shutdown(t) })
	testutil.WaitFor(t, 30*time.Second, "both groups in a's cluster status", func() bool {
		st := a.status(t)
		return len(st) == 2 && st[0].GetRole() == "leader" && st[1].GetRole() == "leader"
	})
	return a, b
}
