package api_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/raftmq/raftmq/api"
	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

func TestCode(t *testing.T) {
	tests := []struct {
		err  error
		want codes.Code
	}{
		{nil, codes.OK},
		{&broker.NotLeaderError{LeaderID: "n2", LeaderAddr: "h:1"}, codes.FailedPrecondition},
		{fmt.Errorf("x: %w", broker.ErrNoLeader), codes.Unavailable},
		{broker.ErrClosed, codes.Unavailable},
		{raftfsm.ErrUnavailable, codes.Unavailable},
		{raftfsm.ErrUnknownOutcome, codes.DeadlineExceeded},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{context.Canceled, codes.Canceled},
		{fmt.Errorf("message 3: %w", store.ErrMessageTooLarge), codes.InvalidArgument},
		{store.ErrInvalidTopic, codes.InvalidArgument},
		{broker.ErrInvalidArgument, codes.InvalidArgument},
		{broker.ErrTopicNotFound, codes.NotFound},
		{raftfsm.ErrTopicNotFound, codes.NotFound},
		{broker.ErrMessageNotFound, codes.NotFound},
		{raftfsm.ErrTopicExists, codes.AlreadyExists},
		{fmt.Errorf("producer 7: %w", raftfsm.ErrSequenceTooOld), codes.OutOfRange},
		{raftfsm.ErrSequenceReused, codes.InvalidArgument},
		{broker.ErrRequestTooLarge, codes.ResourceExhausted},
		{store.ErrDiskFull, codes.ResourceExhausted},
		{store.ErrCorrupt, codes.DataLoss},
		{fmt.Errorf("read: %w", &store.CorruptError{Offset: 7, Reason: errors.New("crc")}), codes.DataLoss},
		{errors.New("anything else"), codes.Internal},
		{status.Error(codes.PermissionDenied, "kept"), codes.PermissionDenied},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
			if got := api.Code(tc.err); got != tc.want {
				t.Fatalf("Code(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestStatusCodesOverTheWire checks the mapping end to end on a
// single-node group.
func TestStatusCodesOverTheWire(t *testing.T) {
	c := newTestCluster(t, 1)
	n, _ := c.leader()
	cl := n.client
	if _, err := cl.CreateTopic(callCtx(t), &raftmqpb.CreateTopicRequest{Topic: &raftmqpb.TopicConfig{Name: "T", Queues: 2}}); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, store.TestOptions().MaxMessageSize+1)
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	tests := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"unknown topic", func() error {
			_, err := cl.Produce(callCtx(t), &raftmqpb.ProduceRequest{Topic: "U", Messages: []*raftmqpb.ProduceMessage{{Body: []byte("x")}}})
			return err
		}, codes.NotFound},
		{"bad topic name", func() error {
			_, err := cl.Produce(callCtx(t), &raftmqpb.ProduceRequest{Topic: "a b", Messages: []*raftmqpb.ProduceMessage{{Body: []byte("x")}}})
			return err
		}, codes.InvalidArgument},
		{"message too large", func() error {
			_, err := cl.Produce(callCtx(t), &raftmqpb.ProduceRequest{Topic: "T", Messages: []*raftmqpb.ProduceMessage{{Body: big}}})
			return err
		}, codes.InvalidArgument},
		{"too many messages", func() error {
			req := &raftmqpb.ProduceRequest{Topic: "T"}
			for range broker.DefaultMaxBatchMessages + 1 {
				req.Messages = append(req.Messages, &raftmqpb.ProduceMessage{Body: []byte("x")})
			}
			_, err := cl.Produce(callCtx(t), req)
			return err
		}, codes.ResourceExhausted},
		{"topic exists", func() error {
			_, err := cl.CreateTopic(callCtx(t), &raftmqpb.CreateTopicRequest{Topic: &raftmqpb.TopicConfig{Name: "T", Queues: 3}})
			return err
		}, codes.AlreadyExists},
		{"bad message id", func() error {
			_, err := cl.GetMessage(callCtx(t), &raftmqpb.GetMessageRequest{MsgId: "nope"})
			return err
		}, codes.InvalidArgument},
		{"long poll past the deadline", func() error {
			_, err := cl.Fetch(short, &raftmqpb.FetchRequest{Topic: "T", MaxWaitMs: 10000})
			return err
		}, codes.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); status.Code(err) != tc.want {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	hc := healthpb.NewHealthClient(n.conn)
	for _, svc := range []string{"", raftmqpb.Broker_ServiceDesc.ServiceName} {
		resp, err := hc.Check(callCtx(t), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health of %q: %v, %v", svc, resp, err)
		}
	}
	if err := n.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if resp, err := hc.Check(callCtx(t), &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health after Close: %v, %v", resp, err)
	}
}
