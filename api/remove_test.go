package api_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/internal/testutil"
)

// TestRemoveNode removes a follower through another follower (which
// forwards to the leader), then checks the leader's Raft configuration and
// the refusals.
func TestRemoveNode(t *testing.T) {
	c := newTestCluster(t, 3)
	leader, _ := c.leader()
	var via, victim *testNode
	for _, n := range c.nodes {
		switch {
		case n == leader:
		case via == nil:
			via = n
		default:
			victim = n
		}
	}
	resp, err := via.client.RemoveNode(callCtx(t), &raftmqpb.RemoveNodeRequest{NodeId: victim.id})
	if err != nil || !resp.GetRemoved() {
		t.Fatalf("RemoveNode(%s) via %s: %v, %v", victim.id, via.id, resp, err)
	}
	testutil.WaitFor(t, 10*time.Second, "a two-server configuration", func() bool {
		servers, err := leader.node.Servers()
		return err == nil && len(servers) == 2
	})
	resp, err = leader.client.RemoveNode(callCtx(t), &raftmqpb.RemoveNodeRequest{NodeId: victim.id})
	if err != nil || resp.GetRemoved() {
		t.Fatalf("second RemoveNode(%s): %v, %v", victim.id, resp, err)
	}
	for _, id := range []string{"", leader.id} {
		_, err := leader.client.RemoveNode(callCtx(t), &raftmqpb.RemoveNodeRequest{NodeId: id})
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("RemoveNode(%q): %v, want InvalidArgument", id, err)
		}
	}
}
