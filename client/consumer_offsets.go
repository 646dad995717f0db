package client

import (
	"context"
	"errors"
	"sync"
	"time"

	"google.golang.org/grpc"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// offsetTable is the consumer's progress per queue: the next offset to
// consume, and the last one the broker acknowledged as committed.
type offsetTable struct {
	mu        sync.Mutex // guards next and committed
	next      map[queueKey]uint64
	committed map[queueKey]uint64
}

func newOffsetTable() *offsetTable {
	return &offsetTable{next: make(map[queueKey]uint64), committed: make(map[queueKey]uint64)}
}

// init records the offset a queue starts from (already committed).
func (t *offsetTable) init(key queueKey, off uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next[key], t.committed[key] = off, off
}

// advance records that everything before off in key was consumed.
func (t *offsetTable) advance(key queueKey, off uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next[key] = off
}

// dirty returns the queues (only key, if not nil) whose progress is not
// committed yet.
func (t *offsetTable) dirty(only *queueKey) map[queueKey]uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[queueKey]uint64)
	for k, off := range t.next {
		if c, ok := t.committed[k]; (!ok || c != off) && (only == nil || *only == k) {
			out[k] = off
		}
	}
	return out
}

// markCommitted records a successful commit of off for key.
func (t *offsetTable) markCommitted(key queueKey, off uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.next[key]; ok {
		t.committed[key] = off
	}
}

// forget drops key (its queue was revoked).
func (t *offsetTable) forget(key queueKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.next, key)
	delete(t.committed, key)
}

// commitLoop commits progress every commitInterval until ctx ends (Close
// makes the last commit).
func (cs *Consumer) commitLoop(ctx context.Context) {
	defer cs.wg.Done()
	t := time.NewTicker(cs.cfg.commitInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := cs.commit(ctx, nil); err != nil && ctx.Err() == nil {
			cs.log.Warn("client: offset commit failed", "err", err)
		}
	}
}

// commit sends the uncommitted progress (of only, if not nil) with one
// CommitOffsets per broker group, to that group's leader.
func (cs *Consumer) commit(ctx context.Context, only *queueKey) error {
	type batch struct {
		topic string // routes the call to the group
		offs  []*pb.OffsetCommit
	}
	batches := make(map[string]*batch)
	for key, off := range cs.offsets.dirty(only) {
		g := cs.ownerOf(ctx, key)
		b := batches[g]
		if b == nil {
			b = &batch{topic: key.topic}
			batches[g] = b
		}
		b.offs = append(b.offs, &pb.OffsetCommit{Topic: key.topic, QueueId: key.queue, Offset: off})
	}
	var errs []error
	for g, b := range batches {
		req := &pb.CommitOffsetsRequest{Group: cs.group, Offsets: b.offs}
		_, err := invoke(ctx, cs.c, callSpec{method: "CommitOffsets", topic: b.topic, group: g},
			func(ctx context.Context, bc pb.BrokerClient, opts []grpc.CallOption) (*pb.CommitOffsetsResponse, error) {
				return bc.CommitOffsets(ctx, req, opts...)
			})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, o := range b.offs {
			cs.offsets.markCommitted(queueKey{o.GetTopic(), o.GetQueueId()}, o.GetOffset())
		}
	}
	return errors.Join(errs...)
}
