package fakebroker

import (
	"context"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// Fetch reads one queue from an offset, long-polling up to max_wait_ms.
func (b *Broker) Fetch(ctx context.Context, req *pb.FetchRequest) (*pb.FetchResponse, error) {
	var timeout <-chan time.Time
	if req.GetMaxWaitMs() > 0 {
		t := time.NewTimer(time.Duration(req.GetMaxWaitMs()) * time.Millisecond)
		defer t.Stop()
		timeout = t.C
	}
	for {
		resp, wake, err := b.fetchOnce(req)
		if err != nil || resp.GetStatus() != pb.FetchStatus_FETCH_STATUS_NO_NEW_MESSAGES || timeout == nil {
			return resp, err
		}
		select {
		case <-wake:
		case <-timeout:
			return resp, nil
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
}

// fetchOnce reads what is there now; wake is closed by the next append.
func (b *Broker) fetchOnce(req *pb.FetchRequest) (*pb.FetchResponse, <-chan struct{}, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[req.GetTopic()]
	if t == nil {
		return nil, nil, status.Errorf(codes.NotFound, "topic %q not found", req.GetTopic())
	}
	if int(req.GetQueueId()) >= len(t.queues) {
		return nil, nil, status.Errorf(codes.NotFound, "topic %q has no queue %d", req.GetTopic(), req.GetQueueId())
	}
	q := t.queues[req.GetQueueId()]
	end := uint64(len(q))
	resp := &pb.FetchResponse{MaxOffset: end, NextOffset: req.GetOffset()}
	if req.GetOffset() > end {
		resp.Status, resp.NextOffset = pb.FetchStatus_FETCH_STATUS_OFFSET_MOVED, end
		return resp, nil, nil
	}
	limit := int(req.GetMaxMessages())
	if limit == 0 {
		limit = 32
	}
	off := req.GetOffset()
	for ; off < end && len(resp.Messages) < limit; off++ {
		m := q[off]
		if len(req.GetTags()) == 0 || slices.Contains(req.GetTags(), m.GetTags()) {
			resp.Messages = append(resp.Messages, m)
		}
	}
	resp.NextOffset = off
	resp.Status = pb.FetchStatus_FETCH_STATUS_NO_NEW_MESSAGES
	if len(resp.Messages) > 0 {
		resp.Status = pb.FetchStatus_FETCH_STATUS_FOUND
	}
	return resp, b.waitLocked(), nil
}
