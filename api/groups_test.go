package api_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/raftfsm"
)

// newGroups starts one in-process broker group per entry of sizes (group
// name -> node count) that know each other through one static directory,
// as gossip would tell them. Topics are auto-created.
func newGroups(t *testing.T, sizes map[string]int) map[string]*testCluster {
	t.Helper()
	type reserved struct {
		peers []raftfsm.Peer
		lis   []net.Listener
		addrs map[string]string
	}
	all := map[string]map[string]string{}
	res := map[string]reserved{}
	cs := map[string]*testCluster{}
	for _, g := range slices.Sorted(maps.Keys(sizes)) {
		c := &testCluster{t: t, group: g, cfgs: func() (raftfsm.Config, broker.Config) {
			rc, bc := testConfigs()
			// Six Raft nodes in one process under -race: the tight test
			// timeouts would trade leadership back and forth.
			rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = 500*time.Millisecond, 500*time.Millisecond, 250*time.Millisecond
			bc.AutoCreateTopics, bc.DefaultQueues = true, 2
			return rc, bc
		}}
		peers, lis, addrs := c.listen(sizes[g])
		all[g] = addrs
		res[g] = reserved{peers, lis, addrs}
		cs[g] = c
	}
	dir := broker.NewStaticGroups(all)
	for g, c := range cs {
		c.dir = dir
		r := res[g]
		c.startAll(r.peers, r.lis, r.addrs)
	}
	for _, c := range cs {
		c.leader()
	}
	return cs
}

// TestTwoGroupsServeOneTopic spreads one topic over two broker groups of
// three nodes: every node answers its route with both groups' queues and
// leaders, a client produces to and consumes from both groups, ids and
// keys of one group are found through a node of the other, auto-creation
// and deletion cover both groups, and cluster status lists all six nodes.
func TestTwoGroupsServeOneTopic(t *testing.T) {
	cs := newGroups(t, map[string]int{"ga": 3, "gb": 3})
	ga, gb := cs["ga"], cs["gb"]
	_, gbFollower := gb.leader()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// Create through a follower of gb: ga (sorted first) gets queues 0-1,
	// gb 2-3. Repeating is fine; another queue count is refused.
	create := &raftmqpb.CreateTopicRequest{Topic: &raftmqpb.TopicConfig{Name: "spread", Queues: 2}}
	for range 2 {
		retry(t, "create", func() error { _, err := gbFollower.client.CreateTopic(ctx, create); return err })
	}
	var err error
	retry(t, "create with another queue count", func() error {
		_, err = ga.nodes[2].client.CreateTopic(ctx, &raftmqpb.CreateTopicRequest{Topic: &raftmqpb.TopicConfig{Name: "spread", Queues: 3}})
		return err
	}, codes.AlreadyExists)
	if status.Code(err) != codes.AlreadyExists {
		t.Fatalf("create with another queue count: %v, want AlreadyExists", err)
	}
	all := append(slices.Clone(ga.nodes), gb.nodes...)
	want := routeString(t, ga, gb)
	for _, n := range all {
		testutil.WaitFor(t, 5*time.Second, "route of "+n.id, func() bool {
			resp, err := n.client.DescribeTopic(ctx, &raftmqpb.DescribeTopicRequest{Name: "spread"})
			return err == nil && describeString(resp) == want
		})
	}

	// Produce 200 messages through a client that knows one seed only, by
	// round robin over groups and by sharding key; consume them with a
	// consumer group of two members.
	cl, err := client.Dial(ctx, []string{ga.nodes[0].grpcAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	p, err := client.NewProducer(cl)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sent := map[string]client.SendResult{}
	perQueue := map[uint32]int{}
	for i := range 200 {
		m := &client.Message{Body: fmt.Appendf(nil, "m%03d", i), Keys: []string{fmt.Sprintf("k%03d", i)}}
		if i%2 == 1 {
			m.ShardingKey = fmt.Sprint("order-", i%7)
		}
		res, err := p.Send(ctx, "spread", m)
		if errors.Is(err, client.ErrUnknownOutcome) {
			// Leadership moved while the entry was in flight (-race on
			// a loaded machine): it may or may not be stored; not counted.
			t.Logf("send %d: %v", i, err)
			continue
		}
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		sent[string(m.Body)] = res[0]
		perQueue[res[0].QueueID]++
	}
	for q := range uint32(4) {
		if perQueue[q] == 0 {
			t.Errorf("queue %d got no message: %v", q, perQueue)
		}
	}
	for body, r := range sent {
		group := "ga"
		if r.QueueID >= 2 {
			group = "gb"
		}
		if !strings.HasPrefix(r.MsgID, group+":") {
			t.Fatalf("%s: queue %d but id %s", body, r.QueueID, r.MsgID)
		}
	}
	consumeAll(t, cl, sent)
	// Lag through any node covers both groups' queues.
	testutil.WaitFor(t, 10*time.Second, "lag over both groups", func() bool {
		lag, err := gb.nodes[1].client.GroupLag(ctx, &raftmqpb.GroupLagRequest{Group: "readers", Topic: "spread"})
		offs, oerr := ga.nodes[1].client.GetOffsets(ctx, &raftmqpb.GetOffsetsRequest{Group: "readers", Topic: "spread"})
		return err == nil && len(lag.GetQueues()) == 4 && lag.GetTotalLag() == 0 && oerr == nil && len(offs.GetOffsets()) == 4
	})

	// A gb message by id and by key through a ga node, and the reverse.
	for body, r := range sent {
		via := ga.nodes[1]
		if strings.HasPrefix(r.MsgID, "ga:") {
			via = gb.nodes[1]
		}
		var m *raftmqpb.GetMessageResponse
		retry(t, "GetMessage", func() (err error) {
			m, err = via.client.GetMessage(ctx, &raftmqpb.GetMessageRequest{MsgId: r.MsgID})
			return err
		})
		if string(m.GetMessage().GetBody()) != body {
			t.Fatalf("GetMessage(%s) via %s: %v", r.MsgID, via.id, m)
		}
		key := "k" + strings.TrimPrefix(body, "m")
		var q *raftmqpb.QueryByKeyResponse
		retry(t, "QueryByKey", func() (err error) {
			q, err = via.client.QueryByKey(ctx, &raftmqpb.QueryByKeyRequest{Topic: "spread", Key: key})
			return err
		})
		if len(q.GetMessages()) != 1 || q.GetMessages()[0].GetMsgId() != r.MsgID {
			t.Fatalf("QueryByKey(%s) via %s: %v", key, via.id, q)
		}
	}

	// A queue of gb sent to ga's leader: not found there (stale route).
	retry(t, "produce to gb's queue at ga", func() error {
		gaLeader, _ := ga.leader()
		_, err = gaLeader.client.Produce(ctx, &raftmqpb.ProduceRequest{Topic: "spread",
			Messages: []*raftmqpb.ProduceMessage{{Body: []byte("x"), HasQueueId: true, QueueId: 3}}})
		return err
	}, codes.NotFound)
	if status.Code(err) != codes.NotFound {
		t.Fatalf("produce to gb's queue at ga: %v, want NotFound", err)
	}

	// Auto-creation by a produce that names no queue covers both groups.
	retry(t, "auto-creating produce", func() error {
		_, err := gb.nodes[2].client.Produce(ctx, &raftmqpb.ProduceRequest{Topic: "auto",
			Messages: []*raftmqpb.ProduceMessage{{Body: []byte("a")}}})
		return err
	})
	for _, n := range all {
		testutil.WaitFor(t, 10*time.Second, "auto routes at "+n.id, func() bool {
			auto, err := n.client.DescribeTopic(ctx, &raftmqpb.DescribeTopicRequest{Name: "auto"})
			return err == nil && len(auto.GetRoutes()) == 4
		})
	}
	testutil.WaitFor(t, 10*time.Second, "two topics listed", func() bool {
		list, err := gb.nodes[0].client.ListTopics(ctx, &raftmqpb.ListTopicsRequest{})
		return err == nil && len(list.GetTopics()) == 2
	})

	// Cluster status from any node lists both groups.
	testutil.WaitFor(t, 10*time.Second, "status of six reachable nodes in ga and gb", func() bool {
		st, err := gb.nodes[0].client.ClusterStatus(ctx, &raftmqpb.ClusterStatusRequest{})
		if err != nil || len(st.GetNodes()) != 6 {
			return false
		}
		groups := map[string]int{}
		for _, n := range st.GetNodes() {
			if !n.GetReachable() {
				return false
			}
			groups[n.GetGroup()]++
		}
		return groups["ga"] == 3 && groups["gb"] == 3
	})

	// Delete through one node removes both parts.
	retry(t, "delete", func() error {
		_, err := ga.nodes[2].client.DeleteTopic(ctx, &raftmqpb.DeleteTopicRequest{Name: "auto"})
		return err
	})
	for _, n := range all {
		testutil.WaitFor(t, 5*time.Second, "auto gone at "+n.id, func() bool {
			_, err := n.client.DescribeTopic(ctx, &raftmqpb.DescribeTopicRequest{Name: "auto", LocalOnly: true})
			return status.Code(err) == codes.NotFound
		})
	}
}

// consumeAll reads every sent message with a two-member consumer group.
func consumeAll(t *testing.T, cl *client.Client, sent map[string]client.SendResult) {
	t.Helper()
	var mu sync.Mutex
	got := map[string]string{} // body -> msg id
	handler := func(_ context.Context, m *client.Message) error {
		mu.Lock()
		defer mu.Unlock()
		got[string(m.Body)] = m.MsgID
		return nil
	}
	for i := range 2 {
		cs, err := client.NewConsumer(cl, "readers", client.WithStartPosition(client.StartEarliest))
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.Subscribe("spread", handler); err != nil {
			t.Fatal(err)
		}
		if err := cs.Start(t.Context()); err != nil {
			t.Fatalf("consumer %d: %v", i, err)
		}
		defer cs.Close()
	}
	testutil.WaitFor(t, 30*time.Second, "every message consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for body := range sent {
			if _, ok := got[body]; !ok {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	for body, r := range sent {
		if got[body] != r.MsgID {
			t.Errorf("%s consumed as %q, sent as %q", body, got[body], r.MsgID)
		}
	}
}

// routeString is the route both groups must report for topic "spread".
func routeString(t *testing.T, ga, gb *testCluster) string {
	var b strings.Builder
	for i, c := range []*testCluster{ga, gb} {
		leader, _ := c.leader()
		var reps []string
		for _, n := range c.nodes {
			reps = append(reps, n.grpcAddr)
		}
		slices.Sort(reps)
		for q := range 2 {
			fmt.Fprintf(&b, "%d:%s:%s:%v;", i*2+q, c.group, leader.grpcAddr, reps)
		}
	}
	return b.String()
}

func describeString(resp *raftmqpb.DescribeTopicResponse) string {
	var b strings.Builder
	for _, r := range resp.GetRoutes() {
		fmt.Fprintf(&b, "%d:%s:%s:%v;", r.GetQueueId(), r.GetGroup(), r.GetLeaderAddr(), r.GetReplicaAddrs())
	}
	return b.String()
}

// retry runs call until it succeeds or fails with one of the codes in
// final, retrying UNAVAILABLE (an election under -race) for up to 30 s;
// any other error fails the test.
func retry(t *testing.T, what string, call func() error, final ...codes.Code) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := call()
		code := status.Code(err)
		switch {
		case err == nil || slices.Contains(final, code):
			return
		case code != codes.Unavailable || time.Now().After(deadline):
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
