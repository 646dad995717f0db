package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/client/internal/fakebroker"
	"github.com/raftmq/raftmq/internal/testutil"
)

func TestSendAsyncBatchesWhileInFlight(t *testing.T) {
	const n = 200
	tests := []struct {
		name      string
		opts      []ProducerOption
		wantCalls int
	}{
		// The first message goes alone; the other 199 wait behind it.
		{"count bound", []ProducerOption{WithBatchMaxMessages(64)}, 1 + 4},
		// Each message is estimated at 20 bytes: 10 per 200-byte batch.
		{"byte bound", []ProducerOption{WithBatchMaxMessages(1000), WithBatchMaxBytes(200)}, 1 + 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := startCluster(t, 1)
			c := dial(t, cl.addrs())
			createTopic(t, c, "async", 4)
			p := newProducer(t, c, tt.opts...)

			release := cl.nodes[0].Block("Produce")
			var mu sync.Mutex
			results := make(map[string]bool)
			var errs []error
			send := func(i int) {
				p.SendAsync(context.Background(), "async", &Message{Body: fmt.Appendf(nil, "m%03d", i)}, func(r SendResult, err error) {
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
						return
					}
					results[r.MsgID] = true
				})
			}
			send(0)
			testutil.WaitFor(t, 10*time.Second, "first Produce in flight", func() bool { return cl.nodes[0].Calls("Produce") == 1 })
			for i := 1; i < n; i++ {
				send(i)
			}
			release()
			if err := p.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(errs) > 0 || len(results) != n {
				t.Fatalf("got %d distinct results and errors %v, want %d results", len(results), errs, n)
			}
			if got := cl.nodes[0].Calls("Produce"); got != tt.wantCalls {
				t.Errorf("Produce calls = %d, want %d for %d messages", got, tt.wantCalls, n)
			}
			if got := cl.b.Count("async"); got != n {
				t.Errorf("broker holds %d messages, want %d", got, n)
			}
		})
	}
}

func TestSendAsyncAfterCloseAndBadInput(t *testing.T) {
	cl := startCluster(t, 1)
	c := dial(t, cl.addrs())
	createTopic(t, c, "t", 1)
	p := newProducer(t, c)

	var got []error
	cb := func(_ SendResult, err error) { got = append(got, err) }
	p.SendAsync(context.Background(), "", &Message{}, cb)
	p.SendAsync(context.Background(), "missing", &Message{}, cb)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p.SendAsync(context.Background(), "t", &Message{}, cb)
	if _, err := p.Send(context.Background(), "t", &Message{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
	want := []error{ErrInvalidArgument, ErrNotFound, ErrClosed}
	if len(got) != len(want) {
		t.Fatalf("callbacks got %v, want %v", got, want)
	}
	for i := range want {
		if !errors.Is(got[i], want[i]) {
			t.Errorf("callback %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func TestRedirectToLeader(t *testing.T) {
	tests := []struct {
		name    string
		trailer bool
	}{
		{"trailer names the leader", true},
		{"no trailer, route refreshed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := startCluster(t, 2)
			a, b := cl.nodes[0], cl.nodes[1]
			c := dial(t, []string{a.Addr()})
			createTopic(t, c, "t", 2)
			p := newProducer(t, c)
			sendN(t, p, "t", "warm", 1) // caches the route: leader a

			cl.setLeader("g0", 1)
			if tt.trailer {
				a.SetFollower(b.Addr())
			} else {
				a.SetFollower("-")
			}
			sendN(t, p, "t", "x", 2)
			if got := a.Calls("Produce"); got != 2 {
				t.Errorf("old leader got %d Produce calls, want 2 (warm-up and one refused)", got)
			}
			if got := b.Calls("Produce"); got != 2 {
				t.Errorf("new leader got %d Produce calls, want 2", got)
			}
			if got := cl.b.Count("t"); got != 3 {
				t.Errorf("broker holds %d messages, want 3", got)
			}
		})
	}
}

func TestAdminWriteFollowsRedirect(t *testing.T) {
	cl := startCluster(t, 2)
	cl.nodes[0].SetFollower(cl.nodes[1].Addr())
	c := dial(t, []string{cl.nodes[0].Addr()})
	createTopic(t, c, "t", 1)
	if got := cl.nodes[1].Calls("CreateTopic"); got != 1 {
		t.Errorf("leader got %d CreateTopic calls, want 1", got)
	}
}

func TestRetryOnUnavailable(t *testing.T) {
	tests := []struct {
		name       string
		faults     int
		maxRetries int
		wantErr    error
	}{
		{"recovers", 3, 10, nil},
		{"gives up", 3, 2, ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := startCluster(t, 1)
			c := dial(t, cl.addrs(), WithMaxRetries(tt.maxRetries))
			createTopic(t, c, "t", 1)
			p := newProducer(t, c)
			for range tt.faults {
				cl.nodes[0].Inject("Produce", fakebroker.Fault{Code: codes.Unavailable, Msg: "no leader elected yet"})
			}
			_, err := p.Send(context.Background(), "t", &Message{Body: []byte("x")})
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Send: %v, want %v", err, tt.wantErr)
			}
			wantCalls := min(tt.faults, tt.maxRetries+1) + map[bool]int{true: 1}[tt.wantErr == nil]
			if got := cl.nodes[0].Calls("Produce"); got != wantCalls {
				t.Errorf("Produce calls = %d, want %d", got, wantCalls)
			}
			if err != nil && !strings.Contains(err.Error(), "no leader elected yet") {
				t.Errorf("error %q lost the server message", err)
			}
		})
	}
}

func TestUnknownOutcome(t *testing.T) {
	t.Run("broker deadline exceeded is retried with the same sequence", func(t *testing.T) {
		cl := startCluster(t, 1)
		c := dial(t, cl.addrs())
		createTopic(t, c, "t", 1)
		p := newProducer(t, c)
		// The first attempt is stored but its answer is lost.
		cl.nodes[0].Inject("Produce", fakebroker.Fault{Code: codes.DeadlineExceeded, Msg: "raft commit timed out", After: true})
		res, err := p.Send(context.Background(), "t", &Message{Body: []byte("x")}, &Message{Body: []byte("y")})
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		if got := cl.nodes[0].Calls("Produce"); got != 2 {
			t.Errorf("Produce calls = %d, want 2 (one retry)", got)
		}
		seqs := cl.b.SequenceCalls()
		if len(seqs) != 1 {
			t.Fatalf("attempts carried %d producer id/sequence pairs, want 1: %v", len(seqs), seqs)
		}
		for k, n := range seqs {
			if k[0] != p.id || n != 2 {
				t.Fatalf("pair %v sent %d times, want producer %x twice", k, n, p.id)
			}
		}
		if got := cl.b.Count("t"); got != 2 {
			t.Errorf("broker holds %d messages, want 2 (stored once)", got)
		}
		if stored := cl.b.Messages("t", 0); len(stored) != 2 || stored[0].GetMsgId() != res[0].MsgID || stored[1].GetMsgId() != res[1].MsgID {
			t.Errorf("results %+v are not the stored messages", res)
		}
		// The next request gets a new sequence.
		if _, err := p.Send(context.Background(), "t", &Message{Body: []byte("z")}); err != nil {
			t.Fatal(err)
		}
		if got := cl.b.Count("t"); got != 3 || len(cl.b.SequenceCalls()) != 2 {
			t.Errorf("after a second Send: %d messages, %d sequences", got, len(cl.b.SequenceCalls()))
		}
	})
	t.Run("an unrouted send is retried at the seed that may have stored it", func(t *testing.T) {
		// Two seeds, no route for the topic (as for a topic the broker
		// auto-creates): the request goes to a seed, which would store it
		// in its own broker group; after an unknown outcome the retry must
		// go to the same seed, since another seed may be in another group.
		cl := startCluster(t, 2)
		c := dial(t, cl.addrs())
		createTopic(t, c, "t", 1)
		c.routes.invalidate("t")
		for _, n := range cl.nodes {
			n.Inject("DescribeTopic", fakebroker.Fault{Code: codes.NotFound, Msg: "topic not found"})
			n.Inject("Produce", fakebroker.Fault{Code: codes.DeadlineExceeded, Msg: "raft commit timed out", After: true})
		}
		p := newProducer(t, c)
		if _, err := p.Send(context.Background(), "t", &Message{Body: []byte("x")}); err != nil {
			t.Fatalf("Send: %v", err)
		}
		a, b := cl.nodes[0].Calls("Produce"), cl.nodes[1].Calls("Produce")
		if !(a == 2 && b == 0) && !(a == 0 && b == 2) {
			t.Fatalf("Produce calls per seed = %d and %d, want both attempts at one seed", a, b)
		}
	})
	t.Run("refused before Raft is a plain failure, not an unknown outcome", func(t *testing.T) {
		cl := startCluster(t, 1)
		c := dial(t, cl.addrs(), WithMaxRetries(1))
		createTopic(t, c, "t", 1)
		p := newProducer(t, c)
		noLeader := fakebroker.Fault{Code: codes.Unavailable, Msg: "no leader", NotApplied: true}
		cl.nodes[0].Inject("Produce", noLeader, noLeader)
		_, err := p.Send(context.Background(), "t", &Message{Body: []byte("x")})
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUnknownOutcome) {
			t.Fatalf("Send: %v, want ErrUnavailable and not ErrUnknownOutcome", err)
		}
		// The same refusal after an attempt that may have stored it is
		// still unknown.
		cl.nodes[0].Inject("Produce", fakebroker.Fault{Code: codes.Unavailable, Msg: "lost"}, noLeader)
		if _, err := p.Send(context.Background(), "t", &Message{Body: []byte("y")}); !errors.Is(err, ErrUnknownOutcome) {
			t.Fatalf("Send after an unknown attempt: %v, want ErrUnknownOutcome", err)
		}
	})
	t.Run("attempt timeouts until the budget ends", func(t *testing.T) {
		cl := startCluster(t, 1)
		c := dial(t, cl.addrs(), WithRequestTimeout(50*time.Millisecond), WithMaxRetries(2))
		createTopic(t, c, "t", 1)
		p := newProducer(t, c)
		release := cl.nodes[0].Block("Produce")
		defer release()
		_, err := p.Send(context.Background(), "t", &Message{Body: []byte("x")})
		if !errors.Is(err, ErrUnknownOutcome) {
			t.Fatalf("Send: %v, want ErrUnknownOutcome", err)
		}
		if got := cl.nodes[0].Calls("Produce"); got != 3 {
			t.Errorf("Produce calls = %d, want 3 (the retry budget)", got)
		}
		if seqs := cl.b.SequenceCalls(); len(seqs) > 1 {
			t.Errorf("retries used %d sequences, want 1", len(seqs))
		}
	})
	t.Run("unknown then unavailable is still unknown", func(t *testing.T) {
		cl := startCluster(t, 1)
		c := dial(t, cl.addrs(), WithMaxRetries(1))
		createTopic(t, c, "t", 1)
		p := newProducer(t, c)
		cl.nodes[0].Inject("Produce",
			fakebroker.Fault{Code: codes.DeadlineExceeded, Msg: "raft commit timed out", After: true},
			fakebroker.Fault{Code: codes.Unavailable, Msg: "no leader"})
		_, err := p.Send(context.Background(), "t", &Message{Body: []byte("x")})
		if !errors.Is(err, ErrUnknownOutcome) || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Send: %v, want ErrUnknownOutcome and ErrUnavailable", err)
		}
	})
	t.Run("caller cancels in flight", func(t *testing.T) {
		cl := startCluster(t, 1)
		c := dial(t, cl.addrs())
		createTopic(t, c, "t", 1)
		p := newProducer(t, c)
		release := cl.nodes[0].Block("Produce")
		defer release()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := p.Send(ctx, "t", &Message{Body: []byte("x")})
			done <- err
		}()
		testutil.WaitFor(t, 10*time.Second, "Produce in flight", func() bool { return cl.nodes[0].Calls("Produce") == 1 })
		cancel()
		err := <-done
		if !errors.Is(err, ErrUnknownOutcome) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Send: %v, want ErrUnknownOutcome and context.Canceled", err)
		}
	})
}

func TestRouteRefreshOnNotFound(t *testing.T) {
	cl := startCluster(t, 2)
	a, b := cl.nodes[0], cl.nodes[1]
	c := dial(t, []string{b.Addr()})
	createTopic(t, c, "t", 1)
	p := newProducer(t, c)
	sendN(t, p, "t", "warm", 1) // route cached: leader a

	cl.setLeader("g0", 1)
	a.Inject("Produce", fakebroker.Fault{Code: codes.NotFound, Msg: "topic moved"})
	sendN(t, p, "t", "x", 1)
	if got := cl.calls("DescribeTopic"); got != 2 {
		t.Errorf("DescribeTopic calls = %d, want 2 (first use and refresh)", got)
	}
	if a.Calls("Produce") != 2 || b.Calls("Produce") != 1 {
		t.Errorf("Produce calls a=%d b=%d, want 2 and 1", a.Calls("Produce"), b.Calls("Produce"))
	}

	_, err := p.Send(context.Background(), "missing", &Message{})
	if !errors.Is(err, ErrNotFound) || status.Code(err) != codes.NotFound {
		t.Errorf("Send to a missing topic: %v, want ErrNotFound", err)
	}
}

func TestPlacementAcrossGroups(t *testing.T) {
	b := fakebroker.New()
	var nodes []*fakebroker.Server
	for _, g := range []string{"g0", "g1"} {
		s, err := fakebroker.Serve(b, g)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		b.SetGroup(fakebroker.Group{Name: g, Leader: s.Addr(), Replicas: []string{s.Addr()}})
		nodes = append(nodes, s)
	}
	c := dial(t, []string{nodes[0].Addr()})
	createTopic(t, c, "t", 2) // g0 owns queues 0-1, g1 owns 2-3
	p := newProducer(t, c)
	ctx := context.Background()

	sendN(t, p, "t", "rr", 4)
	if nodes[0].Calls("Produce") != 2 || nodes[1].Calls("Produce") != 2 {
		t.Errorf("round robin: Produce calls %d and %d, want 2 and 2", nodes[0].Calls("Produce"), nodes[1].Calls("Produce"))
	}
	q := uint32(3)
	r, err := p.Send(ctx, "t", &Message{QueueID: &q})
	if err != nil || r[0].QueueID != 3 || !strings.HasPrefix(r[0].MsgID, "g1:") {
		t.Errorf("explicit queue 3: %v %v, want queue 3 in g1", r, err)
	}
	want := []uint32{0, 1, 2, 3}[shardHash("order-42")%4]
	for range 3 {
		r, err := p.Send(ctx, "t", &Message{ShardingKey: "order-42"})
		if err != nil || r[0].QueueID != want {
			t.Fatalf("sharding key: %v %v, want queue %d", r, err, want)
		}
	}
	q0, q2 := uint32(0), uint32(2)
	_, err = p.Send(ctx, "t", &Message{QueueID: &q0}, &Message{QueueID: &q2})
	if !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("batch over two groups: %v, want ErrInvalidArgument", err)
	}
	q9 := uint32(9)
	if _, err = p.Send(ctx, "t", &Message{QueueID: &q9}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("unknown queue: %v, want ErrInvalidArgument", err)
	}
}

// TestShardingKeyNeedsCompleteRoute: over a route that lacks a broker
// group, a sharded message is refused as UNAVAILABLE (and retried after
// a refresh) instead of hashed over fewer queues, which would move keys.
func TestShardingKeyNeedsCompleteRoute(t *testing.T) {
	resp := &pb.DescribeTopicResponse{Routes: []*pb.QueueRoute{
		{QueueId: 0, Group: "g1", LeaderAddr: "a"}, {QueueId: 1, Group: "g1", LeaderAddr: "a"},
		{QueueId: 4, Group: "g3", LeaderAddr: "c"}, {QueueId: 5, Group: "g3", LeaderAddr: "c"},
	}}
	now := time.Now()
	rt := newTopicRoute("t", resp, now)
	if _, pm, err := place(rt, &Message{ShardingKey: "k"}, now); err != nil || !pm.GetHasQueueId() {
		t.Fatalf("complete route: %v, %v", pm, err)
	}
	resp.Incomplete = true
	rt = newTopicRoute("t", resp, now)
	if _, _, err := place(rt, &Message{ShardingKey: "k"}, now); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("incomplete route: %v, want ErrUnavailable", err)
	}
	if _, _, err := place(rt, &Message{Body: []byte("x")}, now); err != nil {
		t.Fatalf("unsharded message over an incomplete route: %v", err)
	}
}

// TestSeqGateBoundsOutstandingSpan: a sequence is handed out only while
// it is less than seqWindow above the oldest one still in flight, however
// many later ones have finished.
func TestSeqGateBoundsOutstandingSpan(t *testing.T) {
	g := newSeqGate()
	for want := range uint64(seqWindow) {
		if s, err := g.acquire(context.Background()); err != nil || s != want {
			t.Fatalf("acquire = %d, %v; want %d", s, err, want)
		}
	}
	for s := uint64(1); s < seqWindow; s++ {
		g.release(s) // all but the oldest finish
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := g.acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire past the window: %v", err)
	}
	got := make(chan uint64, 1)
	go func() {
		s, _ := g.acquire(context.Background())
		got <- s
	}()
	g.release(0)
	if s := <-got; s != seqWindow {
		t.Fatalf("after the oldest finished: %d, want %d", s, seqWindow)
	}
}
