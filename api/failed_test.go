package api_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/raftmq/raftmq/api"
	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/store/vfs"
)

// TestFailedNodeRefusesAllButStatus: a node whose store failed for good
// refuses every Broker call but ClusterStatus with UNAVAILABLE and the
// not-applied trailer (clients move on at once, knowing nothing was
// stored), reports the failure in cluster status, and turns its health
// service NOT_SERVING; the others go on.
func TestFailedNodeRefusesAllButStatus(t *testing.T) {
	c, faults := newClusterOn(t, 3, func() *vfs.FaultFS { return vfs.NewFaultFS(vfs.OS()) }, nil)
	l, f := c.leader()
	if _, err := l.client.CreateTopic(callCtx(t), &raftmqpb.CreateTopicRequest{Topic: &raftmqpb.TopicConfig{Name: "t", Queues: 1}}); err != nil {
		t.Fatal(err)
	}
	var fi int
	for i, n := range c.nodes {
		if n == f {
			fi = i
		}
	}
	faults[fi].SetInjector(func(op vfs.Op, path string) error {
		if op == vfs.OpWrite {
			return errors.New("injected write failure")
		}
		return nil
	})
	produce(t, l, "t", "a", 1) // the follower's apply fails: it stops
	testutil.WaitFor(t, 10*time.Second, "the follower to fail", func() bool { return f.broker.Failed() != nil })

	var trailer metadata.MD
	_, err := f.client.Produce(callCtx(t), &raftmqpb.ProduceRequest{Topic: "t", Messages: []*raftmqpb.ProduceMessage{{Body: []byte("x")}}}, grpc.Trailer(&trailer))
	if got := trailer.Get(api.OutcomeTrailer); status.Code(err) != codes.Unavailable || len(got) == 0 || got[0] != api.OutcomeNotApplied {
		t.Fatalf("produce at the failed node: %v, trailer %v; want UNAVAILABLE, not applied", err, trailer)
	}
	if _, err := f.client.DescribeTopic(callCtx(t), &raftmqpb.DescribeTopicRequest{Name: "t"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("route lookup at the failed node: %v; want UNAVAILABLE", err)
	}
	st, err := f.client.ClusterStatus(callCtx(t), &raftmqpb.ClusterStatusRequest{LocalOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := st.GetNodes()[0]; n.GetRole() != "shutdown" || !strings.Contains(n.GetError(), "injected write failure") {
		t.Fatalf("failed node's status: role %q, error %q", n.GetRole(), n.GetError())
	}
	h, err := healthpb.NewHealthClient(f.conn).Check(callCtx(t), &healthpb.HealthCheckRequest{Service: raftmqpb.Broker_ServiceDesc.ServiceName})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("failed node's health: %v, %v; want NOT_SERVING", h.GetStatus(), err)
	}
	produce(t, l, "t", "b", 1)
}
