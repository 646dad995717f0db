package api_test

import (
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/raftmq/raftmq/api"
	"github.com/raftmq/raftmq/api/raftmqpb"
)

// TestIdempotentProduceAcrossFailover: an idempotent request sent through
// a follower (forwarded with its producer id and sequence), then retried
// after its leader was killed — at the new leader and through a follower
// — returns the original message ids and is stored once.
func TestIdempotentProduceAcrossFailover(t *testing.T) {
	c := newTestCluster(t, 3)
	leader, follower := c.leader()
	if _, err := leader.client.CreateTopic(callCtx(t), &raftmqpb.CreateTopicRequest{Topic: &raftmqpb.TopicConfig{Name: "T", Queues: 4}}); err != nil {
		t.Fatal(err)
	}
	produce(t, leader, "T", "warm", 1)
	pid, seq := uint64(0xfeedface), uint64(7)
	req := func() *raftmqpb.ProduceRequest {
		r := &raftmqpb.ProduceRequest{Topic: "T", ProducerId: &pid, Sequence: &seq}
		for i := range 3 {
			r.Messages = append(r.Messages, &raftmqpb.ProduceMessage{Body: fmt.Appendf(nil, "idem-%d", i)})
		}
		return r
	}
	first, err := follower.client.Produce(callCtx(t), req())
	if err != nil {
		t.Fatal(err)
	}
	ids := func(r *raftmqpb.ProduceResponse) string {
		var s string
		for _, x := range r.GetResults() {
			s += fmt.Sprintf("%s/%d/%d ", x.GetMsgId(), x.GetQueueId(), x.GetQueueOffset())
		}
		return s
	}
	c.stop(leader, true)
	newLeader, newFollower := c.leader()
	for _, n := range []*testNode{newLeader, newFollower} {
		again, err := n.client.Produce(callCtx(t), req())
		if err != nil {
			t.Fatalf("retry via %s: %v", n.id, err)
		}
		if ids(again) != ids(first) {
			t.Fatalf("retry via %s: %s, original %s", n.id, ids(again), ids(first))
		}
	}
	total := 0
	for q := range uint32(4) {
		total += int(newLeader.node.Store().MaxOffset("T", q))
	}
	if total != 4 {
		t.Fatalf("%d messages stored, want 4 (1 + 3 once)", total)
	}
	// Readers see the messages as sent: the producer mark stays inside
	// the group.
	got, err := newLeader.client.GetMessage(callCtx(t), &raftmqpb.GetMessageRequest{MsgId: first.GetResults()[0].GetMsgId()})
	if err != nil {
		t.Fatal(err)
	}
	if m := got.GetMessage(); string(m.GetBody()) != "idem-0" || len(m.GetProperties()) != 0 || m.GetFlags() != 0 {
		t.Fatalf("first message read back as %q, properties %v, flags %x", m.GetBody(), m.GetProperties(), m.GetFlags())
	}
	// Half a sequence is a malformed request.
	_, err = newLeader.client.Produce(callCtx(t), &raftmqpb.ProduceRequest{Topic: "T", ProducerId: &pid,
		Messages: []*raftmqpb.ProduceMessage{{Body: []byte("x")}}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("producer id without sequence: %v", err)
	}
}

// TestProduceRefusedBeforeRaftSaysSo: a produce refused before it reached
// Raft carries the outcome trailer (nothing was stored), also when a
// follower forwarded it to the leader.
func TestProduceRefusedBeforeRaftSaysSo(t *testing.T) {
	c := newTestCluster(t, 3)
	leader, follower := c.leader()
	for _, n := range []*testNode{leader, follower} {
		var trailer metadata.MD
		_, err := n.client.Produce(callCtx(t), &raftmqpb.ProduceRequest{Topic: "missing",
			Messages: []*raftmqpb.ProduceMessage{{Body: []byte("x")}}}, grpc.Trailer(&trailer))
		if status.Code(err) != codes.NotFound {
			t.Fatalf("via %s: %v, want NotFound", n.id, err)
		}
		if got := trailer.Get(api.OutcomeTrailer); len(got) != 1 || got[0] != api.OutcomeNotApplied {
			t.Fatalf("via %s: outcome trailer %v, want %q", n.id, got, api.OutcomeNotApplied)
		}
	}
}
