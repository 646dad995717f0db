package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/raftmq/raftmq/api"
	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store/vfs"
)

// testNode is one in-process node: Raft node, broker, gRPC server.
type testNode struct {
	id       string
	grpcAddr string
	node     *raftfsm.Node
	broker   *broker.Broker
	gs       *grpc.Server
	srv      *api.Server
	conn     *grpc.ClientConn
	client   raftmqpb.BrokerClient
	alive    bool
}

// testCluster is an in-process broker group on 127.0.0.1: real TCP for
// Raft and gRPC, real disk in temp dirs.
type testCluster struct {
	t     testing.TB
	cfgs  nodeConfigs
	group string           // broker group name; "g" unless set
	dir   broker.Directory // nil: the group's static peers only
	nodes []*testNode
}

// nodeConfigs returns the Raft and broker configuration of one node.
type nodeConfigs func() (raftfsm.Config, broker.Config)

// testConfigs are tight timeouts and tiny files, for tests.
func testConfigs() (raftfsm.Config, broker.Config) { return raftfsm.TestConfig(), broker.TestConfig() }

// newTestCluster starts size nodes with testConfigs that bootstrap one
// group "g".
func newTestCluster(t *testing.T, size int) *testCluster { return newCluster(t, size, testConfigs) }

// newCluster starts size nodes configured by cfgs that bootstrap one
// group "g".
func newCluster(t testing.TB, size int, cfgs nodeConfigs) *testCluster {
	t.Helper()
	c := &testCluster{t: t, cfgs: cfgs, group: "g"}
	peers, lis, grpcAddrs := c.listen(size)
	c.startAll(peers, lis, grpcAddrs)
	return c
}

// newClusterOn is newTestCluster whose nodes' stores each run on a file
// system of their own from newFS (returned in node order, for the test to
// inject faults); mod, when set, adjusts each node's broker configuration.
func newClusterOn[F vfs.FS](t *testing.T, size int, newFS func() F, mod func(*broker.Config)) (*testCluster, []F) {
	t.Helper()
	var fss []F
	c := newCluster(t, size, func() (raftfsm.Config, broker.Config) {
		rc, bc := testConfigs()
		fs := newFS()
		fss = append(fss, fs)
		rc.Store.FS = fs
		if mod != nil {
			mod(&bc)
		}
		return rc, bc
	})
	return c, fss
}

// listen reserves the Raft and gRPC addresses of size nodes, named
// <group>-n<i> (n<i> in group "g").
func (c *testCluster) listen(size int) ([]raftfsm.Peer, []net.Listener, map[string]string) {
	t := c.t
	var peers []raftfsm.Peer
	lis := make([]net.Listener, size)
	grpcAddrs := map[string]string{}
	for i := range size {
		id := fmt.Sprint("n", i)
		if c.group != "g" {
			id = fmt.Sprintf("%s-n%d", c.group, i)
		}
		peers = append(peers, raftfsm.Peer{ID: id, RaftAddr: testutil.FreeAddr(t)})
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lis[i] = l
		grpcAddrs[id] = l.Addr().String()
	}
	return peers, lis, grpcAddrs
}

// startAll starts the nodes on their reserved addresses and stops them
// at the end of the test.
func (c *testCluster) startAll(peers []raftfsm.Peer, lis []net.Listener, grpcAddrs map[string]string) {
	for i := range peers {
		c.nodes = append(c.nodes, c.start(peers, i, lis[i], grpcAddrs))
	}
	c.t.Cleanup(func() {
		for _, n := range c.nodes {
			c.stop(n, false)
		}
	})
}

func (c *testCluster) start(peers []raftfsm.Peer, i int, l net.Listener, grpcAddrs map[string]string) *testNode {
	t := c.t
	logger := slog.New(slog.DiscardHandler)
	rc, bc := c.cfgs()
	rc.NodeID, rc.Dir, rc.RaftBind = peers[i].ID, t.TempDir(), peers[i].RaftAddr
	rc.Bootstrap, rc.Peers, rc.Logger = true, peers, logger
	node, err := raftfsm.Open(rc)
	if err != nil {
		t.Fatalf("open %s: %v", rc.NodeID, err)
	}
	bc.GroupID, bc.NodeID, bc.GRPCAddr, bc.Peers, bc.Directory = c.group, rc.NodeID, l.Addr().String(), grpcAddrs, c.dir
	bc.MessageLimits, bc.Logger = rc.Store, logger
	b, err := broker.New(bc, node)
	if err != nil {
		t.Fatal(err)
	}
	gs, srv := api.NewServer(b, api.Options{Logger: logger})
	go func() { _ = gs.Serve(l) }()
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	return &testNode{id: rc.NodeID, grpcAddr: l.Addr().String(), node: node, broker: b, gs: gs, srv: srv,
		conn: conn, client: raftmqpb.NewBrokerClient(conn), alive: true}
}

// stop stops a node; with kill, its Raft node is shut down abruptly
// first (no leadership transfer), as in a crash.
func (c *testCluster) stop(n *testNode, kill bool) {
	if !n.alive {
		return
	}
	n.alive = false
	n.gs.Stop()
	if kill {
		if err := n.node.Kill(); err != nil {
			c.t.Logf("kill %s: %v", n.id, err)
		}
	}
	if err := n.srv.Close(); err != nil {
		c.t.Logf("close server %s: %v", n.id, err)
	}
	if err := n.broker.Close(); err != nil {
		c.t.Logf("close broker %s: %v", n.id, err)
	}
	if err := n.conn.Close(); err != nil {
		c.t.Logf("close conn %s: %v", n.id, err)
	}
}

// leader waits for a live leader and returns it and a live follower.
func (c *testCluster) leader() (leader, follower *testNode) {
	c.t.Helper()
	testutil.WaitFor(c.t, 15*time.Second, "a leader known to every live node", func() bool {
		leader, follower = nil, nil
		for _, n := range c.nodes {
			if !n.alive {
				continue
			}
			if n.node.IsLeader() {
				leader = n
			} else {
				follower = n
			}
		}
		if leader == nil {
			return false
		}
		for _, n := range c.nodes {
			if id, _ := n.node.Leader(); n.alive && id != leader.id {
				return false
			}
		}
		return true
	})
	return leader, follower
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// produce sends n messages to topic through node n, round robin.
func produce(t *testing.T, n *testNode, topic, prefix string, count int) []*raftmqpb.SendResult {
	t.Helper()
	req := &raftmqpb.ProduceRequest{Topic: topic}
	for i := range count {
		req.Messages = append(req.Messages, &raftmqpb.ProduceMessage{Body: fmt.Appendf(nil, "%s-%d", prefix, i), Keys: []string{fmt.Sprintf("%s-%d", prefix, i)}})
	}
	resp, err := n.client.Produce(callCtx(t), req)
	if err != nil {
		t.Fatalf("produce via %s: %v", n.id, err)
	}
	if len(resp.GetResults()) != count {
		t.Fatalf("%d results for %d messages", len(resp.GetResults()), count)
	}
	return resp.GetResults()
}

// readQueue fetches a whole queue from one node, long-polling until it
// holds at least want messages.
func readQueue(t *testing.T, n *testNode, topic string, q uint32, want int) []*raftmqpb.Message {
	t.Helper()
	var out []*raftmqpb.Message
	var next uint64
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s %s/%d: %d of %d messages", n.id, topic, q, len(out), want)
		}
		resp, err := n.client.Fetch(callCtx(t), &raftmqpb.FetchRequest{Topic: topic, QueueId: q, Offset: next, MaxWaitMs: 1000})
		if err != nil {
			t.Fatalf("fetch from %s: %v", n.id, err)
		}
		out = append(out, resp.GetMessages()...)
		next = resp.GetNextOffset()
	}
	return out
}
