package broker

import (
	"errors"
	"fmt"
	"testing"

	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

func TestTopics(t *testing.T) {
	b, f := newTestBroker(t, nil)
	mustCreate(t, b, "B", 2)
	mustCreate(t, b, "A", 1)
	if err := b.CreateTopic(t.Context(), Topic{Name: "A", Queues: 1}, nil); err != nil {
		t.Fatalf("identical re-create: %v", err)
	}
	for _, tc := range []struct {
		name string
		t    Topic
		want error
	}{
		{"other queue count", Topic{Name: "A", Queues: 3}, raftfsm.ErrTopicExists},
		{"zero queues", Topic{Name: "C"}, ErrInvalidArgument},
		{"too many queues", Topic{Name: "C", Queues: 1025}, ErrInvalidArgument},
		{"bad name", Topic{Name: "c d", Queues: 1}, store.ErrInvalidTopic},
		{"system topic", Topic{Name: "%SYS%X", Queues: 1}, store.ErrInvalidTopic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := b.CreateTopic(t.Context(), tc.t, nil); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	ts, err := b.ListTopics(t.Context())
	if err != nil || fmt.Sprint(ts) != "[{A 1 0} {B 2 0}]" {
		t.Fatalf("ListTopics: %v, %v", ts, err)
	}
	r, err := b.DescribeTopic(t.Context(), "B")
	if err != nil {
		t.Fatal(err)
	}
	want := "{{B 2 0} [{0 g n1:9876 [n1:9876 n2:9876]} {1 g n1:9876 [n1:9876 n2:9876]}] false}"
	if fmt.Sprint(r) != want {
		t.Fatalf("DescribeTopic: %v, want %s", r, want)
	}
	if err := b.DeleteTopic(t.Context(), "B"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DescribeTopic(t.Context(), "B"); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := b.DeleteTopic(t.Context(), "B"); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	f.SetLeader(false, "n2")
	if err := b.CreateTopic(t.Context(), Topic{Name: "C", Queues: 1}, nil); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("create on a follower: %v", err)
	}
	if r, err := b.DescribeTopic(t.Context(), "A"); err != nil || r.Routes[0].LeaderAddr != "n2:9876" {
		t.Fatalf("describe on a follower: %v, %v", r, err)
	}
}

func TestStatusAndTransfer(t *testing.T) {
	b, _ := newTestBroker(t, nil)
	st := b.Status()
	if st.NodeID != "n1" || st.Group != "g" || st.GRPCAddr != "n1:9876" || st.Role != "leader" || st.LeaderAddr != "n1:9876" {
		t.Fatalf("Status: %+v", st)
	}
	if nodes := fmt.Sprint(b.GroupNodes()); nodes != "[{n1 g n1:9876} {n2 g n2:9876}]" {
		t.Fatalf("GroupNodes: %s", nodes)
	}
	id, err := b.TransferLeadership(t.Context(), "")
	if err != nil || id != "n2" {
		t.Fatalf("TransferLeadership: %q, %v", id, err)
	}
	if _, err := b.TransferLeadership(t.Context(), ""); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("second transfer from a follower: %v", err)
	}
}
