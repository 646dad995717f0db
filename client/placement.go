package client

import (
	"hash/fnv"
	"time"

	"google.golang.org/grpc/codes"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// place converts m for topic route rt and says which broker group it must
// go to; group is empty when any group will do (the caller then picks one
// round robin and that group's leader picks the queue). Queue choice, in
// order:
//
//   - QueueID set: that queue, in the group that owns it.
//   - ShardingKey set and the route incomplete (a broker group could not
//     be asked): UNAVAILABLE, retried after a route refresh.
//   - ShardingKey set and the topic spans several groups: queue
//     queues[fnv1a32(key) % total queue count], sent with has_queue_id.
//   - ShardingKey set and one group: the key is sent as is and the leader
//     hashes it, so every client agrees with the broker's own choice.
//   - Otherwise: round robin over groups; the leader picks the queue.
func place(rt *topicRoute, m *Message, now time.Time) (group string, pm *pb.ProduceMessage, err error) {
	pm = m.toProduce(now)
	switch {
	case m.QueueID != nil:
		g := rt.byQueue[*m.QueueID]
		if g == nil {
			return "", nil, clientError("Produce", codes.InvalidArgument, "topic %q has no queue %d", rt.topic, *m.QueueID)
		}
		pm.HasQueueId, pm.QueueId = true, *m.QueueID
		return g.name, pm, nil
	case m.ShardingKey != "" && rt.incomplete:
		// The total queue count is unknown: hashing now would move keys
		// to other queues (and back once the group returns).
		return "", nil, clientError("Produce", codes.Unavailable,
			"topic %q: a broker group could not be asked for its queues; sharding keys need the full route", rt.topic)
	case m.ShardingKey != "" && len(rt.groups) > 1:
		q := rt.queues[shardHash(m.ShardingKey)%uint32(len(rt.queues))]
		pm.HasQueueId, pm.QueueId = true, q
		return rt.byQueue[q].name, pm, nil
	}
	return "", pm, nil
}

// shardHash is FNV-1a (32 bit) of the sharding key.
func shardHash(key string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32()
}

// nextGroup picks topic's next broker group round robin.
func (p *Producer) nextGroup(rt *topicRoute) string {
	p.mu.Lock()
	n := p.rr[rt.topic]
	p.rr[rt.topic] = n + 1
	p.mu.Unlock()
	return rt.groups[n%uint64(len(rt.groups))].name
}
