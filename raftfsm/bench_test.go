package raftfsm

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/internal/testutil"
)

// BenchmarkProduceR3 measures Node.Produce on an in-process group of three
// nodes on 127.0.0.1 (real TCP transport, real fsyncs in t.TempDir), per
// Raft log store and with the log cache on or off. One op is one Produce
// of batch 1 KiB messages; producers goroutines run at once, so Raft
// entries are pipelined as under a loaded broker. The three nodes share
// the machine's cores and disk.
//
// append=parallel is the default (the leader writes its copy while the
// followers write theirs, leaderlog.go); append=serial is
// Config.SerialLeaderAppend, hashicorp/raft's own order, for comparison.
func BenchmarkProduceR3(b *testing.B) {
	variants := []struct {
		store string
		cache int
		mode  string // the daemon's --raft-leader-append
	}{
		{LogStoreWAL, 64, "parallel"},
		{LogStoreWAL, 64, "own"},
		{LogStoreWAL, 64, "serial"},
		{LogStoreWAL, 0, "parallel"},
		{LogStoreBoltDB, 64, "parallel"},
		{LogStoreBoltDB, 64, "serial"},
	}
	for _, v := range variants {
		for _, bc := range []struct{ producers, batch int }{{1, 1}, {8, 64}} {
			name := fmt.Sprintf("store=%s/cache=%d/append=%s/producers=%d/batch=%d", v.store, v.cache, v.mode, bc.producers, bc.batch)
			b.Run(name, func(b *testing.B) { benchProduceR3(b, v.store, v.cache, v.mode, 0, bc.producers, bc.batch) })
		}
	}
}

// BenchmarkProduceR3SlowLeaderLog is BenchmarkProduceR3 (raft-wal, one
// producer, one message per op) with the leader's Raft log slower than the
// followers' by a fixed delay per append, as on a leader whose disk is
// busy: with append=parallel the followers' two fsyncs are a quorum and the
// leader's slow copy is off the path of the answer; append=own waits for it.
func BenchmarkProduceR3SlowLeaderLog(b *testing.B) {
	for _, mode := range []string{"parallel", "own"} {
		b.Run("append="+mode, func(b *testing.B) { benchProduceR3(b, LogStoreWAL, 64, mode, time.Millisecond, 1, 1) })
	}
}

// benchProduceR3 runs one variant; slowLeader > 0 delays each append of the
// leader's Raft log by that much.
func benchProduceR3(b *testing.B, logStore string, cache int, mode string, slowLeader time.Duration, producers, batch int) {
	var peers []Peer
	for i := range 3 {
		peers = append(peers, Peer{ID: fmt.Sprint("n", i), RaftAddr: testutil.FreeAddr(b)})
	}
	nodes := make([]*Node, 3)
	var slow atomic.Pointer[string]
	for i := range nodes {
		cfg := DefaultConfig() // production timeouts and store options
		if slowLeader > 0 {
			cfg.WrapLogStore = func(s raft.LogStore) raft.LogStore {
				g := newGatedStore(s)
				g.delay = func() time.Duration {
					if p := slow.Load(); p != nil && *p == peers[i].ID {
						return slowLeader
					}
					return 0
				}
				return g
			}
		}
		cfg.NodeID, cfg.Dir, cfg.RaftBind = peers[i].ID, b.TempDir(), peers[i].RaftAddr
		cfg.Bootstrap, cfg.Peers = true, peers
		cfg.LogStore, cfg.LogCacheEntries = logStore, cache
		cfg.SerialLeaderAppend, cfg.LeaderCopyBeforeApply = mode == "serial", mode == "own"
		n, err := Open(cfg)
		if err != nil {
			b.Fatal(err)
		}
		nodes[i] = n
		defer n.Close()
	}
	var l *Node
	testutil.WaitFor(b, 30*time.Second, "a leader", func() bool {
		for _, n := range nodes {
			if n.IsLeader() {
				l = n
				return true
			}
		}
		return false
	})
	ctx := context.Background()
	id := l.cfg.NodeID
	slow.Store(&id)
	if err := l.CreateTopic(ctx, Topic{Name: "bench", Queues: 8}); err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 1024)
	b.SetBytes(int64(batch * len(body)))
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		ops := b.N / producers
		if p < b.N%producers {
			ops++
		}
		wg.Go(func() {
			for i := range ops {
				msgs := make([]*Message, batch)
				for k := range msgs {
					msgs[k] = &Message{Topic: "bench", QueueID: uint32((p + i + k) % 8), Body: body}
				}
				if _, err := produceOne(ctx, l, msgs); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msg/s")
	if l.leaderLog != nil {
		// How often a quorum of followers released an entry before the
		// leader's own copy was durable.
		b.ReportMetric(float64(l.leaderLog.early.Load())/float64(b.N), "early/op")
	}
}
