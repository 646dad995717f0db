package api_test

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/raftmq/raftmq/api"
	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/raftfsm"
)

func TestMain(m *testing.M) {
	// hashicorp/raft's NetworkTransport.Close does not close connections
	// it accepted from a peer that was killed in-process (see raftfsm).
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/hashicorp/raft.(*NetworkTransport).handleConn"))
}

const queues = 4

// TestThreeNodeGroup: writes through a follower are forwarded, every
// replica serves reads, a killed leader is replaced and writes continue,
// and every replica holds the same message at the same queue offset with
// the same id.
func TestThreeNodeGroup(t *testing.T) {
	c := newTestCluster(t, 3)
	leader, follower := c.leader()
	t.Logf("leader %s, follower %s", leader.id, follower.id)

	if _, err := follower.client.CreateTopic(callCtx(t), &raftmqpb.CreateTopicRequest{Topic: &raftmqpb.TopicConfig{Name: "T", Queues: queues}}); err != nil {
		t.Fatalf("CreateTopic via follower: %v", err)
	}
	sent := map[string]*raftmqpb.SendResult{}
	for _, r := range produce(t, follower, "T", "before", 40) {
		sent[r.GetMsgId()] = r
	}

	// Every replica serves every message.
	perQueue := countPerQueue(sent)
	for _, n := range c.nodes {
		checkReplica(t, n, sent, perQueue)
	}

	// A call already forwarded once is refused by a follower, with the
	// leader's address in the trailer.
	checkSecondHopRefused(t, follower, leader)

	// Consumer group through the follower: forwarded heartbeat and commit.
	hb, err := follower.client.Heartbeat(callCtx(t), &raftmqpb.HeartbeatRequest{Group: "G", MemberId: "m1", Topics: []string{"T"}})
	if err != nil || len(hb.GetAssignments()) != queues {
		t.Fatalf("Heartbeat via follower: %v, %v", hb, err)
	}
	if _, err := follower.client.CommitOffsets(callCtx(t), &raftmqpb.CommitOffsetsRequest{Group: "G",
		Offsets: []*raftmqpb.OffsetCommit{{Topic: "T", QueueId: 1, Offset: 3}}}); err != nil {
		t.Fatalf("CommitOffsets via follower: %v", err)
	}
	cs, err := follower.client.ClusterStatus(callCtx(t), &raftmqpb.ClusterStatusRequest{})
	if err != nil || len(cs.GetNodes()) != 3 {
		t.Fatalf("ClusterStatus: %v, %v", cs, err)
	}
	for _, n := range cs.GetNodes() {
		if !n.GetReachable() || (n.GetNodeId() == leader.id) != (n.GetRole() == "leader") {
			t.Fatalf("ClusterStatus node %v", n)
		}
	}

	// Kill the leader: a new one is elected and writes continue through
	// the surviving follower.
	c.stop(leader, true)
	newLeader, survivor := c.leader()
	t.Logf("killed %s; new leader %s, follower %s", leader.id, newLeader.id, survivor.id)
	for _, r := range produce(t, survivor, "T", "after", 40) {
		sent[r.GetMsgId()] = r
	}
	perQueue = countPerQueue(sent)
	for _, n := range []*testNode{newLeader, survivor} {
		checkReplica(t, n, sent, perQueue)
		testutil.WaitFor(t, 10*time.Second, "the committed offset on "+n.id, func() bool {
			o, err := n.client.GetOffsets(callCtx(t), &raftmqpb.GetOffsetsRequest{Group: "G", Topic: "T"})
			return err == nil && len(o.GetOffsets()) == queues && o.GetOffsets()[1].GetOffset() == 3
		})
	}
	checkSameQueues(t, newLeader, survivor, perQueue)
}

func countPerQueue(sent map[string]*raftmqpb.SendResult) map[uint32]int {
	n := map[uint32]int{}
	for _, r := range sent {
		n[r.GetQueueId()]++
	}
	return n
}

// checkReplica reads every queue from n and checks that each message sits
// at the queue offset and has the id the producer was given.
func checkReplica(t *testing.T, n *testNode, sent map[string]*raftmqpb.SendResult, perQueue map[uint32]int) {
	t.Helper()
	seen := 0
	for q := range uint32(queues) {
		for i, m := range readQueue(t, n, "T", q, perQueue[q]) {
			r, ok := sent[m.GetMsgId()]
			if !ok || r.GetQueueId() != q || r.GetQueueOffset() != uint64(i) || m.GetQueueOffset() != uint64(i) {
				t.Fatalf("%s: %s/%d offset %d holds %s (sent as %v)", n.id, "T", q, i, m.GetMsgId(), r)
			}
			got, err := n.client.GetMessage(callCtx(t), &raftmqpb.GetMessageRequest{MsgId: m.GetMsgId()})
			if err != nil || string(got.GetMessage().GetBody()) != string(m.GetBody()) {
				t.Fatalf("%s: GetMessage(%s): %v, %v", n.id, m.GetMsgId(), got, err)
			}
			seen++
		}
	}
	if seen != len(sent) {
		t.Fatalf("%s holds %d messages, %d sent", n.id, seen, len(sent))
	}
}

// checkSameQueues compares two replicas' queues message by message.
func checkSameQueues(t *testing.T, a, b *testNode, perQueue map[uint32]int) {
	t.Helper()
	for q := range uint32(queues) {
		ma, mb := readQueue(t, a, "T", q, perQueue[q]), readQueue(t, b, "T", q, perQueue[q])
		if fmt.Sprint(ma) != fmt.Sprint(mb) {
			t.Fatalf("queue %d differs between %s and %s", q, a.id, b.id)
		}
	}
}

func checkSecondHopRefused(t *testing.T, follower, leader *testNode) {
	t.Helper()
	ctx := metadata.AppendToOutgoingContext(callCtx(t), api.ForwardedHeader, "test")
	var trailer metadata.MD
	_, err := follower.client.Produce(ctx, &raftmqpb.ProduceRequest{Topic: "T",
		Messages: []*raftmqpb.ProduceMessage{{Body: []byte("x")}}}, grpc.Trailer(&trailer))
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("second hop: %v, want FailedPrecondition", err)
	}
	if got := trailer.Get(api.LeaderTrailer); len(got) != 1 || got[0] != leader.grpcAddr {
		t.Fatalf("leader trailer %v, want %s", got, leader.grpcAddr)
	}
}

// TestIdleGroupKeepsItsLeader: a group with nothing to apply keeps its
// leader. The apply watchdog used to read a commit index past the applied
// index as a stuck FSM, but a new leader's first entry is a no-op the FSM
// never sees, so an idle group handed its leadership round every
// ApplyStallTimeout and a half.
func TestIdleGroupKeepsItsLeader(t *testing.T) {
	const stall = 100 * time.Millisecond
	c := newCluster(t, 3, func() (raftfsm.Config, broker.Config) {
		rc, bc := testConfigs()
		bc.ApplyStallTimeout = stall
		return rc, bc
	})
	l, _ := c.leader()
	term := l.node.Term()
	// Nothing may happen: watch for ten stall timeouts.
	deadline := time.Now().Add(10 * stall)
	for time.Now().Before(deadline) {
		if !l.node.IsLeader() || l.node.Term() != term {
			t.Fatalf("idle group: %s lost the leadership (term %d, then %d)", l.id, term, l.node.Term())
		}
		time.Sleep(stall / 10)
	}
}
