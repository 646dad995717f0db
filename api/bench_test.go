package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/raftmq/raftmq/api"
	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/raftfsm"
)

// The helpers of cluster_test.go take a *testing.T and the test config
// (150ms Raft timeouts, 64 KiB segments); the benchmark needs a
// testing.TB and the daemon's production config, so it builds its own
// group the same way: raftfsm.Node + broker.Broker + gRPC server per node,
// real TCP for Raft and gRPC on 127.0.0.1, real disk in a temp dir.

// benchBodySize is the body of every benchmark message.
const benchBodySize = 1 << 10

// benchNode is one in-process node of a benchmark group.
type benchNode struct {
	node   *raftfsm.Node
	broker *broker.Broker
	gs     *grpc.Server
	srv    *api.Server
	addr   string
}

// newBenchGroup starts a group of size nodes with raftfsm.DefaultConfig
// and broker.DefaultConfig (64 MiB segments) and returns the leader's
// gRPC address once it is elected.
func newBenchGroup(tb testing.TB, size int) string {
	tb.Helper()
	peers := make([]raftfsm.Peer, size)
	lis := make([]net.Listener, size)
	grpcAddrs := map[string]string{}
	for i := range size {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		raftAddr := benchFreeAddr(tb)
		peers[i] = raftfsm.Peer{ID: fmt.Sprint("n", i), RaftAddr: raftAddr}
		lis[i], grpcAddrs[peers[i].ID] = l, l.Addr().String()
	}
	nodes := make([]*benchNode, size)
	for i := range size {
		nodes[i] = startBenchNode(tb, peers, i, lis[i], grpcAddrs)
	}
	tb.Cleanup(func() {
		for _, n := range nodes {
			n.gs.Stop()
			if err := n.srv.Close(); err != nil {
				tb.Logf("close server: %v", err)
			}
			if err := n.broker.Close(); err != nil {
				tb.Logf("close broker: %v", err)
			}
		}
	})
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		for _, n := range nodes {
			if n.node.IsLeader() {
				return n.addr
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			tb.Fatal("no leader within 30s")
		}
	}
}

func startBenchNode(tb testing.TB, peers []raftfsm.Peer, i int, l net.Listener, grpcAddrs map[string]string) *benchNode {
	tb.Helper()
	logger := slog.New(slog.DiscardHandler)
	rc := raftfsm.DefaultConfig()
	rc.Store.SegmentSize = 64 << 20
	rc.NodeID, rc.Dir, rc.RaftBind = peers[i].ID, tb.TempDir(), peers[i].RaftAddr
	rc.Bootstrap, rc.Peers, rc.Logger = true, peers, logger
	node, err := raftfsm.Open(rc)
	if err != nil {
		tb.Fatalf("open %s: %v", rc.NodeID, err)
	}
	bc := broker.DefaultConfig()
	bc.GroupID, bc.NodeID, bc.GRPCAddr, bc.Peers = "g", rc.NodeID, l.Addr().String(), grpcAddrs
	bc.MessageLimits, bc.Logger = rc.Store, logger
	b, err := broker.New(bc, node)
	if err != nil {
		tb.Fatal(err)
	}
	gs, srv := api.NewServer(b, api.Options{Logger: logger})
	go func() { _ = gs.Serve(l) }()
	return &benchNode{node: node, broker: b, gs: gs, srv: srv, addr: l.Addr().String()}
}

func benchFreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// BenchmarkProduceGRPC measures synchronous one-message Produce calls of
// 1 KiB over gRPC to the leader of an in-process group of 1 or 3 nodes,
// with 1 producer and with 64 concurrent producers (each waiting for its
// answer before the next call). With 64 producers the leader's batcher
// puts the calls that arrive during one Raft apply into one entry.
func BenchmarkProduceGRPC(b *testing.B) {
	for _, replicas := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", replicas), func(b *testing.B) {
			leader := newBenchGroup(b, replicas)
			conn, err := grpc.NewClient(leader, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			cl := raftmqpb.NewBrokerClient(conn)
			ctx, cancel := context.WithTimeout(b.Context(), 30*time.Second)
			defer cancel()
			if _, err := cl.CreateTopic(ctx, &raftmqpb.CreateTopicRequest{Topic: &raftmqpb.TopicConfig{Name: "bench", Queues: 8}}); err != nil {
				b.Fatal(err)
			}
			for _, producers := range []int{1, 64} {
				b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
					benchProduce(b, cl, producers)
				})
			}
		})
	}
}

// benchProduce sends b.N messages with producers concurrent callers.
func benchProduce(b *testing.B, cl raftmqpb.BrokerClient, producers int) {
	seed := rand.Uint64()
	b.Logf("seed %d", seed)
	body := make([]byte, benchBodySize)
	rng := rand.New(rand.NewPCG(seed, 0))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	req := &raftmqpb.ProduceRequest{Topic: "bench", Messages: []*raftmqpb.ProduceMessage{{Body: body}}}
	b.SetBytes(benchBodySize)
	b.ReportAllocs()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range producers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				ctx, cancel := context.WithTimeout(b.Context(), 30*time.Second)
				_, err := cl.Produce(ctx, req)
				cancel()
				if err != nil {
					b.Errorf("produce: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
