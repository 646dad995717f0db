package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/raftmq/raftmq/internal/testutil"
)

const waitLong = 20 * time.Second

func TestProduceConsumeInOrder(t *testing.T) {
	cl := startCluster(t, 1)
	c := dial(t, cl.addrs())
	createTopic(t, c, "orders", 4)
	p := newProducer(t, c)
	const n = 60
	sent := make(map[string]SendResult)
	for i := range n {
		key := fmt.Sprintf("k%d", i%3)
		r, err := p.Send(context.Background(), "orders", &Message{Body: fmt.Appendf(nil, "%s/%03d", key, i), ShardingKey: key, Keys: []string{key}})
		if err != nil {
			t.Fatal(err)
		}
		sent[r[0].MsgID] = r[0]
	}

	got := consumeN(t, c, "g", "orders", n)
	if len(got) != n {
		t.Fatalf("consumed %d messages, want %d (no handler failed, so no redelivery)", len(got), n)
	}
	lastByKey := make(map[string][]byte)
	perQueue := make(map[uint32]uint64)
	for _, m := range got {
		r, ok := sent[m.MsgID]
		if !ok || r.QueueID != *m.QueueID || r.QueueOffset != m.QueueOffset || m.Topic != "orders" {
			t.Fatalf("consumed %+v does not match what was sent (%+v)", m, r)
		}
		key := m.Keys[0]
		if prev := lastByKey[key]; prev != nil && bytes.Compare(prev, m.Body) >= 0 {
			t.Errorf("key %s: %s consumed after %s", key, m.Body, prev)
		}
		lastByKey[key] = m.Body
		perQueue[*m.QueueID]++
	}
	for q, count := range perQueue {
		if off, _ := cl.b.Committed("g", "orders", q); off != count {
			t.Errorf("queue %d committed %d, want %d", q, off, count)
		}
	}
	if len(cl.b.Members("g")) != 0 {
		t.Errorf("members after Close: %v, want none", cl.b.Members("g"))
	}
}

func TestConsumerGroupSplitAndTakeover(t *testing.T) {
	cl := startCluster(t, 1)
	c := dial(t, cl.addrs())
	createTopic(t, c, "t", 4)
	p := newProducer(t, c)
	sendN(t, p, "t", "a", 40)

	var colA, colB collector
	csA := newConsumer(t, c, "g", WithMemberID("a"))
	csB := newConsumer(t, c, "g", WithMemberID("b"))
	for _, x := range []struct {
		cs  *Consumer
		col *collector
	}{{csA, &colA}, {csB, &colB}} {
		if err := x.cs.Subscribe("t", x.col.handle); err != nil {
			t.Fatal(err)
		}
	}
	if err := csA.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "a owns every queue", func() bool { return slices.Equal(csA.assigned(), []uint32{0, 1, 2, 3}) })
	if err := csB.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "queues split", func() bool {
		return slices.Equal(csA.assigned(), []uint32{0, 2}) && slices.Equal(csB.assigned(), []uint32{1, 3})
	})
	sendN(t, p, "t", "b", 40)
	union := func() int {
		u := colA.distinct()
		for id := range colB.distinct() {
			u[id] = true
		}
		return len(u)
	}
	testutil.WaitFor(t, waitLong, "all 80 consumed by the pair", func() bool { return union() == 80 })
	for _, m := range colB.messages() {
		if *m.QueueID != 1 && *m.QueueID != 3 {
			t.Errorf("b consumed queue %d, which it never owned", *m.QueueID)
		}
	}

	if err := csB.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "a takes over", func() bool { return slices.Equal(csA.assigned(), []uint32{0, 1, 2, 3}) })
	results := sendN(t, p, "t", "c", 40)
	testutil.WaitFor(t, waitLong, "a consumes the new messages", func() bool {
		d := colA.distinct()
		for _, r := range results {
			if !d[r.MsgID] {
				return false
			}
		}
		return true
	})
	if err := csA.Close(); err != nil {
		t.Fatal(err)
	}
	for q := range uint32(4) {
		if off, _ := cl.b.Committed("g", "t", q); off != 30 {
			t.Errorf("queue %d committed %d, want 30", q, off)
		}
	}
}

func TestHandlerErrorRedelivers(t *testing.T) {
	cl := startCluster(t, 1)
	c := dial(t, cl.addrs())
	createTopic(t, c, "t", 1)
	p := newProducer(t, c)
	sendN(t, p, "t", "m", 6)

	var mu sync.Mutex
	var seen []string
	failures := 0
	handler := func(_ context.Context, m *Message) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, string(m.Body))
		if string(m.Body) == "m3" && failures < 2 {
			failures++
			return errors.New("not yet")
		}
		return nil
	}
	cs := newConsumer(t, c, "g")
	if err := cs.Subscribe("t", handler); err != nil {
		t.Fatal(err)
	}
	if err := cs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"m0", "m1", "m2", "m3", "m3", "m3", "m4", "m5"}
	testutil.WaitFor(t, waitLong, "all delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= len(want)
	})
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, want) {
		t.Errorf("deliveries %v, want %v", seen, want)
	}
}

func TestBroadcasting(t *testing.T) {
	cl := startCluster(t, 1)
	c := dial(t, cl.addrs())
	createTopic(t, c, "t", 3)
	p := newProducer(t, c)
	sendN(t, p, "t", "m", 30)

	cols := make([]*collector, 2)
	for i := range cols {
		cols[i] = &collector{}
		cs := newConsumer(t, c, "g", WithMode(Broadcasting))
		if err := cs.Subscribe("t", cols[i].handle); err != nil {
			t.Fatal(err)
		}
		if err := cs.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for i, col := range cols {
		testutil.WaitFor(t, waitLong, fmt.Sprintf("consumer %d sees all", i), func() bool { return len(col.distinct()) == 30 })
	}
	if got := cl.calls("Heartbeat") + cl.calls("CommitOffsets"); got != 0 {
		t.Errorf("broadcasting made %d Heartbeat/CommitOffsets calls, want 0", got)
	}
}

func TestBroadcastingStartPositions(t *testing.T) {
	cl := startCluster(t, 1)
	c := dial(t, cl.addrs())
	createTopic(t, c, "t", 1)
	p := newProducer(t, c)
	old := sendN(t, p, "t", "old", 5)
	last := cl.b.Messages("t", 0)[4].GetStoreTimestampMs()
	testutil.WaitFor(t, time.Second, "the clock to pass the last store time", func() bool { return time.Now().UnixMilli() > last })
	from := time.Now()

	tests := []struct {
		name string
		opt  ConsumerOption
	}{
		{"latest", WithStartPosition(StartLatest)},
		{"timestamp", WithStartTimestamp(from)},
	}
	cols := make([]*collector, len(tests))
	for i, tt := range tests {
		cols[i] = &collector{}
		cs := newConsumer(t, c, "g-"+tt.name, WithMode(Broadcasting), tt.opt)
		if err := cs.Subscribe("t", cols[i].handle); err != nil {
			t.Fatal(err)
		}
		if err := cs.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, waitLong, tt.name+" start offset found", func() bool {
			_, ok := cs.offsets.dirtyOrKnown(queueKey{"t", 0})
			return ok
		})
	}
	fresh := sendN(t, p, "t", "new", 5)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.WaitFor(t, waitLong, "new messages", func() bool { return len(cols[i].distinct()) >= len(fresh) })
			d := cols[i].distinct()
			for _, r := range old {
				if d[r.MsgID] {
					t.Errorf("consumed %s stored before the start position", r.MsgID)
				}
			}
		})
	}
}

func TestConsumerLifecycleErrors(t *testing.T) {
	cl := startCluster(t, 1)
	c := dial(t, cl.addrs())
	createTopic(t, c, "t", 1)
	var col collector
	cs := newConsumer(t, c, "g")
	if err := cs.Start(context.Background()); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Start without subscription: %v", err)
	}
	if err := cs.Subscribe("missing", col.handle); err != nil {
		t.Fatal(err)
	}
	if err := cs.Subscribe("missing", col.handle); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("second Subscribe of a topic: %v", err)
	}
	if err := cs.Start(context.Background()); !errors.Is(err, ErrNotFound) {
		t.Errorf("Start on a missing topic: %v, want ErrNotFound", err)
	}
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cs.Subscribe("t", col.handle); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
	if _, err := NewConsumer(c, "g", WithHeartbeatInterval(time.Minute)); err == nil {
		t.Error("heartbeat interval above the session timeout accepted")
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Run("work", func(t *testing.T) {
		cl := startCluster(t, 2)
		cl.nodes[1].SetFollower(cl.nodes[0].Addr())
		c := dial(t, []string{cl.nodes[1].Addr()})
		createTopic(t, c, "t", 2)
		p := newProducer(t, c)
		for range 10 {
			p.SendAsync(context.Background(), "t", &Message{Body: []byte("x")}, nil)
		}
		var cols [2]collector
		for i, mode := range []Mode{Clustering, Broadcasting} {
			cs := newConsumer(t, c, fmt.Sprintf("g%d", i), WithMode(mode))
			if err := cs.Subscribe("t", cols[i].handle); err != nil {
				t.Fatal(err)
			}
			if err := cs.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		for i := range cols {
			testutil.WaitFor(t, waitLong, "consumed", func() bool { return len(cols[i].distinct()) == 10 })
		}
		// Cleanups close the consumers, the producer, the client and the
		// servers, in that order.
	})
	goleak.VerifyNone(t, ignore)
}

func TestTagFilterSkipsAndCommitsPast(t *testing.T) {
	cl := startCluster(t, 1)
	c := dial(t, cl.addrs())
	createTopic(t, c, "t", 1)
	p := newProducer(t, c)
	var want []string
	for i := range 10 {
		tag := map[bool]string{true: "A", false: "B"}[i%2 == 0]
		body := fmt.Sprintf("%s%d", tag, i)
		if tag == "A" {
			want = append(want, body)
		}
		if _, err := p.Send(context.Background(), "t", &Message{Body: []byte(body), Tags: tag}); err != nil {
			t.Fatal(err)
		}
	}
	var col collector
	cs := newConsumer(t, c, "g", WithTags("A"), WithFetchMaxMessages(2), WithMaxWait(10*time.Millisecond))
	if err := cs.Subscribe("t", col.handle); err != nil {
		t.Fatal(err)
	}
	if err := cs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The last message (offset 9) is a B: the commit still moves past it.
	testutil.WaitFor(t, waitLong, "offset committed past the filtered tail", func() bool {
		off, _ := cl.b.Committed("g", "t", 0)
		return off == 10
	})
	var got []string
	for _, m := range col.messages() {
		got = append(got, string(m.Body))
	}
	if !slices.Equal(got, want) {
		t.Errorf("consumed %v, want %v", got, want)
	}
}
