package client

import (
	"context"
	"time"

	"google.golang.org/grpc"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// consumeQueue long-polls key from offset and hands each message to h, in
// order, until ctx ends. When known is false (broadcasting) the start
// position decides where to begin.
func (cs *Consumer) consumeQueue(ctx context.Context, key queueKey, h Handler, offset uint64, known bool) {
	log := cs.log.With("topic", key.topic, "queue", key.queue)
	failures := 0
	for !known {
		off, err := cs.startOffset(ctx, key)
		if err == nil {
			offset, known = off, true
			break
		}
		log.Warn("client: finding start offset failed", "err", err)
		if !sleepCtx(ctx, backoffDelay(cs.c.cfg.backoffInitial, cs.c.cfg.backoffMax, failures)) {
			return
		}
		failures++
	}
	cs.offsets.init(key, offset)
	failures = 0
	for ctx.Err() == nil {
		resp, err := cs.fetch(ctx, key, &pb.FetchRequest{
			Offset:      offset,
			MaxMessages: cs.cfg.fetchMaxMessages,
			MaxWaitMs:   uint32(cs.cfg.maxWait.Milliseconds()),
			Tags:        cs.cfg.tags,
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("client: fetch failed", "offset", offset, "err", err)
			if !sleepCtx(ctx, backoffDelay(cs.c.cfg.backoffInitial, cs.c.cfg.backoffMax, failures)) {
				return
			}
			failures++
			continue
		}
		failures = 0
		if resp.GetStatus() == pb.FetchStatus_FETCH_STATUS_OFFSET_MOVED {
			log.Warn("client: offset moved", "from", offset, "to", resp.GetNextOffset())
			offset = resp.GetNextOffset()
			cs.offsets.advance(key, offset)
			continue
		}
		for _, m := range resp.GetMessages() {
			if m.GetQueueOffset() < offset {
				continue // already handled
			}
			if !cs.deliver(ctx, h, m) {
				return
			}
			offset = m.GetQueueOffset() + 1
			cs.offsets.advance(key, offset)
		}
		if resp.GetNextOffset() > offset { // past messages the tag filter skipped
			offset = resp.GetNextOffset()
			cs.offsets.advance(key, offset)
		}
	}
}

// deliver calls h until it succeeds, backing off between failures. It
// reports false if ctx ended first (the message is then not acknowledged).
func (cs *Consumer) deliver(ctx context.Context, h Handler, m *pb.Message) bool {
	for attempt := 0; ; attempt++ {
		err := h(ctx, fromPB(m))
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		cs.log.Warn("client: handler failed, redelivering", "topic", m.GetTopic(), "queue", m.GetQueueId(),
			"offset", m.GetQueueOffset(), "attempt", attempt+1, "err", err)
		if !sleepCtx(ctx, backoffDelay(cs.cfg.redeliverInitial, cs.cfg.redeliverMax, attempt)) {
			return false
		}
	}
}

// fetch calls Fetch for key's queue on its group's leader (or a replica
// when the group has no leader). req's topic and queue are filled in. The
// attempt may last req's long-poll wait beyond the request timeout, and
// is watched for a leader change only after that wait (attemptOnce).
func (cs *Consumer) fetch(ctx context.Context, key queueKey, req *pb.FetchRequest) (*pb.FetchResponse, error) {
	req.Topic, req.QueueId = key.topic, key.queue
	spec := callSpec{method: "Fetch", topic: key.topic, queue: key.queue, hasQueue: true, read: true,
		extraTimeout: time.Duration(req.GetMaxWaitMs()) * time.Millisecond}
	return invoke(ctx, cs.c, spec,
		func(ctx context.Context, b pb.BrokerClient, opts []grpc.CallOption) (*pb.FetchResponse, error) {
			return b.Fetch(ctx, req, opts...)
		})
}
