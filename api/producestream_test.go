package api_test

import (
	"fmt"
	"io"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/raftmq/raftmq/api"
	"github.com/raftmq/raftmq/api/raftmqpb"
)

// TestProduceStreamAnswersLikeProduce sends good and bad requests, all in
// flight at once, on a ProduceStream to the leader and to a follower
// (which forwards): each gets one response with its id, carrying what a
// Produce call answers (results, or the status code and the trailer).
func TestProduceStreamAnswersLikeProduce(t *testing.T) {
	c := newTestCluster(t, 3)
	leader, follower := c.leader()
	if _, err := leader.client.CreateTopic(callCtx(t), &raftmqpb.CreateTopicRequest{Topic: &raftmqpb.TopicConfig{Name: "s", Queues: 2}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*testNode{leader, follower} {
		t.Run(n.id, func(t *testing.T) {
			st, err := n.client.ProduceStream(callCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			const good = 20
			want := map[uint64]codes.Code{}
			for i := range uint64(good) {
				want[i+1] = codes.OK
				body := fmt.Sprintf("%s-%d", n.id, i+1)
				req := &raftmqpb.ProduceRequest{Topic: "s", Messages: []*raftmqpb.ProduceMessage{{Body: []byte(body)}}}
				if err := st.Send(&raftmqpb.ProduceStreamRequest{Id: i + 1, TimeoutMs: 10_000, Request: req}); err != nil {
					t.Fatal(err)
				}
			}
			bad := map[uint64]*raftmqpb.ProduceRequest{
				100: {Topic: "missing", Messages: []*raftmqpb.ProduceMessage{{Body: []byte("x")}}},
				101: {Topic: "s"}, // no messages
				102: nil,          // no request at all
			}
			wantBad := map[uint64]codes.Code{100: codes.NotFound, 101: codes.InvalidArgument, 102: codes.InvalidArgument}
			for id, req := range bad {
				want[id] = wantBad[id]
				if err := st.Send(&raftmqpb.ProduceStreamRequest{Id: id, TimeoutMs: 10_000, Request: req}); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.CloseSend(); err != nil {
				t.Fatal(err)
			}
			for left := len(want); left > 0; left-- {
				r, err := st.Recv()
				if err != nil {
					t.Fatalf("%d responses missing: %v", left, err)
				}
				code, ok := want[r.GetId()]
				if !ok {
					t.Fatalf("response with unknown or repeated id %d", r.GetId())
				}
				delete(want, r.GetId())
				if got := codes.Code(r.GetCode()); got != code {
					t.Fatalf("request %d: code %v (%s), want %v", r.GetId(), got, r.GetMessage(), code)
				}
				if code != codes.OK {
					if got := r.GetTrailer()[api.OutcomeTrailer]; got != api.OutcomeNotApplied {
						t.Errorf("request %d refused with outcome trailer %q, want %q", r.GetId(), got, api.OutcomeNotApplied)
					}
					continue
				}
				res := r.GetResponse().GetResults()
				if len(res) != 1 {
					t.Fatalf("request %d: %d results", r.GetId(), len(res))
				}
				m, err := leader.client.GetMessage(callCtx(t), &raftmqpb.GetMessageRequest{MsgId: res[0].GetMsgId()})
				if err != nil || string(m.GetMessage().GetBody()) != fmt.Sprintf("%s-%d", n.id, r.GetId()) {
					t.Fatalf("request %d's message %s: %q, %v", r.GetId(), res[0].GetMsgId(), m.GetMessage().GetBody(), err)
				}
			}
			if r, err := st.Recv(); err != io.EOF {
				t.Fatalf("after every response: %v, %v; want the stream's end", r, err)
			}
		})
	}
}
