package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/raftfsm"
)

// benchBodySize is the body of every benchmark message.
const benchBodySize = 1 << 10

// benchConfigs are the daemon's production configurations, with 64 MiB
// segments to bound the disk the benchmark uses.
func benchConfigs() (raftfsm.Config, broker.Config) {
	rc := raftfsm.DefaultConfig()
	rc.Store.SegmentSize = 64 << 20
	return rc, broker.DefaultConfig()
}

// BenchmarkProduceGRPC measures synchronous one-message Produce calls of
// 1 KiB over gRPC to the leader of an in-process group of 1 or 3 nodes,
// with 1 producer and with 64 concurrent producers (each waiting for its
// answer before the next call). With 64 producers the leader's batcher
// puts the calls that arrive during one Raft apply into one entry.
func BenchmarkProduceGRPC(b *testing.B) {
	for _, replicas := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", replicas), func(b *testing.B) {
			leader, _ := newCluster(b, replicas, benchConfigs).leader()
			cl := leader.client
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
