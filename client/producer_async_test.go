package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/raftmq/raftmq/client/internal/fakebroker"
	"github.com/raftmq/raftmq/internal/testutil"
)

// asyncOutcome is what one SendAsync callback received.
type asyncOutcome struct {
	res  SendResult
	err  error
	done bool
}

// asyncRecorder collects SendAsync outcomes by message number.
type asyncRecorder struct {
	mu  sync.Mutex
	out []asyncOutcome
}

func newAsyncRecorder(n int) *asyncRecorder { return &asyncRecorder{out: make([]asyncOutcome, n)} }

func (r *asyncRecorder) cb(i int) func(SendResult, error) {
	return func(res SendResult, err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.out[i].done {
			panic(fmt.Sprintf("callback of message %d ran twice", i))
		}
		r.out[i] = asyncOutcome{res: res, err: err, done: true}
	}
}

// holdFirstProduce sends message 0 of topic and waits until its Produce is
// held in flight on node s; the caller queues more behind it, then calls
// the returned release.
func holdFirstProduce(t *testing.T, s *fakebroker.Server, p *Producer, topic string, rec *asyncRecorder) (release func()) {
	t.Helper()
	release = s.Block("Produce")
	p.SendAsync(context.Background(), topic, &Message{Body: []byte("m0")}, rec.cb(0))
	testutil.WaitFor(t, 10*time.Second, "first Produce in flight", func() bool { return s.Calls("Produce") == 1 })
	return release
}

// TestSendAsyncResultsAndOrder queues messages for explicit queues and
// for the broker's choice behind a held Produce, so that they are sent in
// several multi-message batches, and checks that every caller gets the
// result of its own message (the stored message at that queue and offset
// has its body) and that each queue holds its messages in send order.
func TestSendAsyncResultsAndOrder(t *testing.T) {
	const n, queues = 300, 4
	cl := startCluster(t, 1)
	c := dial(t, cl.addrs())
	createTopic(t, c, "order", queues)
	p := newProducer(t, c, WithBatchMaxMessages(32))
	rec := newAsyncRecorder(n)

	release := holdFirstProduce(t, cl.nodes[0], p, "order", rec)
	for i := 1; i < n; i++ {
		m := &Message{Body: fmt.Appendf(nil, "m%d", i)}
		if i%3 != 0 { // every third message lets the broker pick
			q := uint32(i % queues)
			m.QueueID = &q
		}
		p.SendAsync(context.Background(), "order", m, rec.cb(i))
	}
	release()
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := cl.nodes[0].Calls("Produce"); got < 1+(n-1)/32 || got > n/2 {
		t.Errorf("Produce calls = %d for %d messages in batches of at most 32", got, n)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	last := map[uint32]int64{}
	for i, o := range rec.out {
		if !o.done || o.err != nil {
			t.Fatalf("message %d: done %v, err %v", i, o.done, o.err)
		}
		if i%3 != 0 && o.res.QueueID != uint32(i%queues) {
			t.Errorf("message %d: result queue %d, want %d", i, o.res.QueueID, i%queues)
		}
		stored := cl.b.Messages("order", o.res.QueueID)
		if o.res.QueueOffset >= uint64(len(stored)) {
			t.Fatalf("message %d: result offset %d past queue %d's %d messages", i, o.res.QueueOffset, o.res.QueueID, len(stored))
		}
		sm := stored[o.res.QueueOffset]
		if want := fmt.Sprintf("m%d", i); string(sm.GetBody()) != want || sm.GetMsgId() != o.res.MsgID {
			t.Errorf("message %d: result points at body %q id %s, want %q id %s", i, sm.GetBody(), sm.GetMsgId(), want, o.res.MsgID)
		}
		if prev, ok := last[o.res.QueueID]; ok && int64(o.res.QueueOffset) <= prev {
			t.Errorf("message %d: queue %d offset %d not after the previous message's %d", i, o.res.QueueID, o.res.QueueOffset, prev)
		}
		last[o.res.QueueID] = int64(o.res.QueueOffset)
	}
	if got := cl.b.Count("order"); got != n {
		t.Errorf("broker holds %d messages, want %d", got, n)
	}
}

// TestSendAsyncPartialFailure fails one batch's Produce: exactly the
// messages of that batch get the error, the batches before and after it
// are stored, and every callback runs once.
func TestSendAsyncPartialFailure(t *testing.T) {
	const n, batch = 31, 10
	cl := startCluster(t, 1)
	c := dial(t, cl.addrs())
	createTopic(t, c, "pf", 2)
	p := newProducer(t, c, WithBatchMaxMessages(batch))
	rec := newAsyncRecorder(n)

	release := holdFirstProduce(t, cl.nodes[0], p, "pf", rec)
	// The held call took no fault; the next one (messages 1..10) fails.
	cl.nodes[0].Inject("Produce", fakebroker.Fault{Code: codes.ResourceExhausted, Msg: "injected"})
	for i := 1; i < n; i++ {
		p.SendAsync(context.Background(), "pf", &Message{Body: fmt.Appendf(nil, "m%d", i)}, rec.cb(i))
	}
	release()
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, o := range rec.out {
		failed := i >= 1 && i <= batch
		switch {
		case !o.done:
			t.Errorf("message %d: callback did not run", i)
		case failed && !errors.Is(o.err, ErrResourceExhausted):
			t.Errorf("message %d: err %v, want the injected ResourceExhausted", i, o.err)
		case !failed && o.err != nil:
			t.Errorf("message %d: err %v, want success", i, o.err)
		}
	}
	if got := cl.b.Count("pf"); got != n-batch {
		t.Errorf("broker holds %d messages, want %d", got, n-batch)
	}
}

// TestSendAsyncCancelledWhileQueued cancels the context of some queued
// messages before their batch is sent: they fail with the context's
// error and are not stored; the others, queued in between, are stored in
// order.
func TestSendAsyncCancelledWhileQueued(t *testing.T) {
	const n = 40
	cl := startCluster(t, 1)
	c := dial(t, cl.addrs())
	createTopic(t, c, "cx", 1)
	p := newProducer(t, c, WithBatchMaxMessages(16))
	rec := newAsyncRecorder(n)

	release := holdFirstProduce(t, cl.nodes[0], p, "cx", rec)
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := 1; i < n; i++ {
		ctx := context.Background()
		if i%2 == 1 {
			ctx = cctx
		}
		p.SendAsync(ctx, "cx", &Message{Body: fmt.Appendf(nil, "m%d", i)}, rec.cb(i))
	}
	cancel()
	release()
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var want []string
	for i, o := range rec.out {
		switch {
		case !o.done:
			t.Errorf("message %d: callback did not run", i)
		case i%2 == 1 && !errors.Is(o.err, context.Canceled):
			t.Errorf("message %d: err %v, want context.Canceled", i, o.err)
		case i%2 == 0 && o.err != nil:
			t.Errorf("message %d: err %v, want success", i, o.err)
		}
		if i%2 == 0 {
			want = append(want, fmt.Sprintf("m%d", i))
		}
	}
	stored := cl.b.Messages("cx", 0)
	if len(stored) != len(want) {
		t.Fatalf("broker holds %d messages, want %d", len(stored), len(want))
	}
	for i, m := range stored {
		if string(m.GetBody()) != want[i] {
			t.Errorf("stored message %d is %q, want %q", i, m.GetBody(), want[i])
		}
	}
}
