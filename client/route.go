package client

import (
	"context"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// topicRoute is one topic's route as DescribeTopic returned it, indexed. It
// is immutable once built: a change makes a new one.
//
// Queue ids are taken to be unique within a topic across all broker groups
// (group i owning its own range), so "total queue count" is len(queues).
type topicRoute struct {
	topic   string
	queues  []uint32               // every queue id, ascending
	groups  []*groupRoute          // broker groups, ordered by lowest queue id
	byQueue map[uint32]*groupRoute // queue id -> owning group
	byName  map[string]*groupRoute // group name -> group
	fetched time.Time              // when DescribeTopic answered
	// incomplete: a broker group could not be asked, so queues may be
	// missing; sharding keys are not hashed over such a route.
	incomplete bool
}

// groupRoute is one broker group serving part of a topic.
type groupRoute struct {
	name     string
	leader   string   // gRPC address of the leader; empty if none is known
	replicas []string // gRPC addresses of every voter
	queues   []uint32 // this topic's queues in the group, ascending
}

// readAddr is where reads go: the leader, or any replica when there is no
// leader (every replica holds only committed data).
func (g *groupRoute) readAddr() string {
	if g.leader != "" || len(g.replicas) == 0 {
		return g.leader
	}
	return g.replicas[0]
}

func newTopicRoute(topic string, resp *pb.DescribeTopicResponse, now time.Time) *topicRoute {
	rt := &topicRoute{
		topic:   topic,
		byQueue: make(map[uint32]*groupRoute),
		byName:  make(map[string]*groupRoute),
		fetched: now,

		incomplete: resp.GetIncomplete(),
	}
	qs := slices.Clone(resp.GetRoutes())
	slices.SortFunc(qs, func(a, b *pb.QueueRoute) int { return int(a.GetQueueId()) - int(b.GetQueueId()) })
	for _, q := range qs {
		g, ok := rt.byName[q.GetGroup()]
		if !ok {
			g = &groupRoute{name: q.GetGroup(), leader: q.GetLeaderAddr(), replicas: slices.Clone(q.GetReplicaAddrs())}
			rt.byName[g.name] = g
			rt.groups = append(rt.groups, g)
		}
		if _, dup := rt.byQueue[q.GetQueueId()]; dup {
			continue
		}
		g.queues = append(g.queues, q.GetQueueId())
		rt.byQueue[q.GetQueueId()] = g
		rt.queues = append(rt.queues, q.GetQueueId())
	}
	return rt
}

// withLeader returns a copy of rt in which group's leader is addr.
func (rt *topicRoute) withLeader(group, addr string) *topicRoute {
	if g, ok := rt.byName[group]; !ok || g.leader == addr {
		return rt
	}
	n := &topicRoute{
		topic:   rt.topic,
		queues:  rt.queues,
		byQueue: make(map[uint32]*groupRoute, len(rt.byQueue)),
		byName:  make(map[string]*groupRoute, len(rt.byName)),
		fetched: rt.fetched,

		incomplete: rt.incomplete,
	}
	for _, g := range rt.groups {
		cp := *g
		if cp.name == group {
			cp.leader = addr
		}
		n.groups = append(n.groups, &cp)
		n.byName[cp.name] = &cp
		for _, q := range cp.queues {
			n.byQueue[q] = &cp
		}
	}
	return n
}

// routeCache holds the routes of the topics this client used.
type routeCache struct {
	mu     sync.Mutex // guards topics
	topics map[string]*topicRoute
}

func newRouteCache() *routeCache {
	return &routeCache{topics: make(map[string]*topicRoute)}
}

func (rc *routeCache) get(topic string, ttl time.Duration, now time.Time) *topicRoute {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rt := rc.topics[topic]
	if rt == nil || now.Sub(rt.fetched) >= ttl {
		return nil
	}
	return rt
}

func (rc *routeCache) put(rt *topicRoute) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.topics[rt.topic] = rt
}

// invalidate drops topic's route so the next use fetches it again.
func (rc *routeCache) invalidate(topic string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	delete(rc.topics, topic)
}

// setLeader records a leader learned from a "raftmq-leader" trailer.
func (rc *routeCache) setLeader(topic, group, addr string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rt := rc.topics[topic]; rt != nil {
		rc.topics[topic] = rt.withLeader(group, addr)
	}
}

// route returns topic's route, from the cache or from DescribeTopic.
func (c *Client) route(ctx context.Context, topic string) (*topicRoute, error) {
	if rt := c.routes.get(topic, c.cfg.routeTTL, time.Now()); rt != nil {
		return rt, nil
	}
	_, rt, err := c.describe(ctx, topic)
	if err != nil {
		return nil, err
	}
	if rt == nil {
		return nil, clientError("DescribeTopic", codes.Unavailable, "topic %q has no queues", topic)
	}
	return rt, nil
}

// describe calls DescribeTopic on a seed and caches the route it returns
// (nil when the topic has no queues).
func (c *Client) describe(ctx context.Context, topic string) (*pb.DescribeTopicResponse, *topicRoute, error) {
	resp, err := invoke(ctx, c, callSpec{method: "DescribeTopic", hedge: true},
		func(ctx context.Context, b pb.BrokerClient, opts []grpc.CallOption) (*pb.DescribeTopicResponse, error) {
			return b.DescribeTopic(ctx, &pb.DescribeTopicRequest{Name: topic}, opts...)
		})
	if err != nil {
		return nil, nil, err
	}
	if len(resp.GetRoutes()) == 0 {
		c.routes.invalidate(topic)
		return resp, nil, nil
	}
	rt := newTopicRoute(topic, resp, time.Now())
	c.routes.put(rt)
	return resp, rt, nil
}
