package client

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// brokerGroups returns the broker groups serving the subscribed topics,
// each with the subscribed topics it holds queues of, sorted (the first
// routes calls to the group). A group is told only about the topics it
// holds.
func (cs *Consumer) brokerGroups(ctx context.Context) (map[string][]string, error) {
	cs.mu.Lock()
	topics := cs.topicsLocked()
	cs.mu.Unlock()
	groups := make(map[string][]string)
	var errs []error
	for _, t := range topics {
		rt, err := cs.c.route(ctx, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, g := range rt.groups {
			groups[g.name] = append(groups[g.name], t)
		}
	}
	return groups, errors.Join(errs...)
}

// heartbeatLoop heartbeats every heartbeatInterval and applies the
// assignments until ctx ends.
func (cs *Consumer) heartbeatLoop(ctx context.Context) {
	defer cs.wg.Done()
	lastOK := make(map[string]time.Time) // broker group -> last good heartbeat
	t := time.NewTicker(cs.cfg.heartbeatInterval)
	defer t.Stop()
	for {
		cs.heartbeatRound(ctx, lastOK)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// heartbeatRound heartbeats the leader of every broker group serving the
// subscribed topics and rebalances to the union of their assignments. A
// group takes the assignments for the queues it owns; a group whose
// heartbeat failed keeps this member's current queues until the session
// timeout has passed since its last good heartbeat.
func (cs *Consumer) heartbeatRound(ctx context.Context, lastOK map[string]time.Time) {
	groups, err := cs.brokerGroups(ctx)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		// Heartbeat the groups whose routes are known anyway: stopping all
		// heartbeats would let every broker group expire this member
		// while it goes on consuming. A group no route leads to any more
		// keeps its queues only until the session timeout.
		cs.log.Warn("client: consumer route lookup failed", "err", err)
	}
	want := make(map[queueKey]assigned)
	keep := make(map[string]bool)
	for g, last := range lastOK {
		if _, ok := groups[g]; !ok {
			keep[g] = time.Since(last) < cs.cfg.sessionTimeout
		}
	}
	for g, topics := range groups {
		resp, err := cs.heartbeat(ctx, topics[0], g, topics)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			cs.log.Warn("client: heartbeat failed", "broker_group", g, "err", err)
			keep[g] = time.Since(lastOK[g]) < cs.cfg.sessionTimeout
			continue
		}
		lastOK[g] = time.Now()
		for _, a := range resp.GetAssignments() {
			key := queueKey{a.GetTopic(), a.GetQueueId()}
			owner := cs.ownerOf(ctx, key)
			if owner != "" && owner != g {
				continue
			}
			want[key] = assigned{group: g, offset: a.GetOffset()}
		}
	}
	cs.rebalance(ctx, want, keep)
}

// assigned is one queue assigned by a heartbeat.
type assigned struct {
	group  string // broker group that assigned it
	offset uint64 // where to start
}

// ownerOf returns the broker group owning key per the route, or "" if the
// route does not know the queue.
func (cs *Consumer) ownerOf(ctx context.Context, key queueKey) string {
	rt, err := cs.c.route(ctx, key.topic)
	if err != nil {
		return ""
	}
	if g := rt.byQueue[key.queue]; g != nil {
		return g.name
	}
	return ""
}

func (cs *Consumer) heartbeat(ctx context.Context, topic, group string, topics []string) (*pb.HeartbeatResponse, error) {
	req := &pb.HeartbeatRequest{
		Group:            cs.group,
		MemberId:         cs.cfg.memberID,
		Topics:           topics,
		Mode:             pb.ConsumeMode_CONSUME_MODE_CLUSTERING,
		Start:            startPB(cs.cfg.start),
		SessionTimeoutMs: uint32(cs.cfg.sessionTimeout.Milliseconds()),
	}
	if cs.cfg.start == StartTimestamp {
		req.StartTimestampMs = cs.cfg.startTime.UnixMilli()
	}
	// Well inside the session timeout: one hung broker group must not
	// hold up the heartbeats of the others past it.
	ctx, cancel := context.WithTimeout(ctx, min(cs.cfg.heartbeatInterval+cs.c.cfg.requestTimeout, cs.cfg.sessionTimeout/3))
	defer cancel()
	return invoke(ctx, cs.c, callSpec{method: "Heartbeat", topic: topic, group: group},
		func(ctx context.Context, b pb.BrokerClient, opts []grpc.CallOption) (*pb.HeartbeatResponse, error) {
			return b.Heartbeat(ctx, req, opts...)
		})
}

func startPB(p StartPosition) pb.StartPosition {
	switch p {
	case StartLatest:
		return pb.StartPosition_START_POSITION_LATEST
	case StartTimestamp:
		return pb.StartPosition_START_POSITION_TIMESTAMP
	}
	return pb.StartPosition_START_POSITION_EARLIEST
}

// rebalance starts workers for newly assigned queues and stops (after
// committing) the workers of revoked ones, except those of broker groups
// in keep.
func (cs *Consumer) rebalance(ctx context.Context, want map[queueKey]assigned, keep map[string]bool) {
	cs.mu.Lock()
	if ctx.Err() != nil {
		cs.mu.Unlock()
		return
	}
	var revoked []*queueWorker
	for key, w := range cs.workers {
		if _, ok := want[key]; !ok && !keep[w.group] {
			revoked = append(revoked, w)
			delete(cs.workers, key)
		}
	}
	for key, a := range want {
		if cs.workers[key] == nil {
			cs.log.Info("client: queue assigned", "topic", key.topic, "queue", key.queue, "offset", a.offset)
			cs.startWorkerLocked(ctx, key, a.group, a.offset, true)
		}
	}
	for _, w := range revoked {
		// In the background: a slow handler must not hold up heartbeats.
		cs.wg.Add(1)
		go func() {
			defer cs.wg.Done()
			cs.revoke(w)
		}()
	}
	cs.mu.Unlock()
}

// revoke stops w, commits its queue's progress and forgets it.
func (cs *Consumer) revoke(w *queueWorker) {
	w.cancel()
	<-w.done
	ctx, cancel := context.WithTimeout(context.Background(), cs.c.cfg.requestTimeout)
	defer cancel()
	if err := cs.commit(ctx, &w.key); err != nil {
		cs.log.Warn("client: commit on revocation failed", "topic", w.key.topic, "queue", w.key.queue, "err", err)
	}
	cs.offsets.forget(w.key)
	cs.log.Info("client: queue revoked", "topic", w.key.topic, "queue", w.key.queue)
}

// leave removes this member from the group on every broker group.
func (cs *Consumer) leave(ctx context.Context) error {
	groups, err := cs.brokerGroups(ctx)
	errs := []error{err}
	for g, topics := range groups {
		_, err := invoke(ctx, cs.c, callSpec{method: "LeaveGroup", topic: topics[0], group: g},
			func(ctx context.Context, b pb.BrokerClient, opts []grpc.CallOption) (*pb.LeaveGroupResponse, error) {
				return b.LeaveGroup(ctx, &pb.LeaveGroupRequest{Group: cs.group, MemberId: cs.cfg.memberID}, opts...)
			})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
