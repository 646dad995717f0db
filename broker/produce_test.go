package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

func msgs(n int, body string) []ProduceMessage {
	out := make([]ProduceMessage, n)
	for i := range out {
		out[i] = ProduceMessage{Body: []byte(fmt.Sprintf("%s-%d", body, i)), HasQueueID: true}
	}
	return out
}

// produceConcurrently starts n callers of Produce with per messages each;
// it returns a wait function giving every caller's results.
func produceConcurrently(t *testing.T, b *Broker, n, per int) func() [][]SendResult {
	t.Helper()
	var wg sync.WaitGroup
	results := make([][]SendResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = b.Produce(t.Context(), "T", msgs(per, fmt.Sprintf("c%d", i)))
		})
	}
	return func() [][]SendResult {
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("caller %d: %v", i, err)
			}
		}
		return results
	}
}

// TestProducePipeline: with ProducePipeline 2, a second entry goes to Raft
// while the first is in flight, and callers arriving while both are in
// flight share the third.
func TestProducePipeline(t *testing.T) {
	b, f := newTestBroker(t, func(c *Config) { c.ProducePipeline = 2 })
	mustCreate(t, b, "T", 1)
	release := f.Hold()
	defer release()
	first := produceConcurrently(t, b, 1, 1)
	<-f.Entered()
	second := produceConcurrently(t, b, 1, 1)
	<-f.Entered() // two entries in flight at once
	rest := produceConcurrently(t, b, 5, 2)
	testutil.WaitFor(t, 5*time.Second, "callers queued behind a full pipeline", func() bool {
		return b.produce.waiting.Load() == 5
	})
	release()
	first()
	second()
	rest()
	// Entries in flight together finish in any order.
	if got := slices.Sorted(slices.Values(f.ProduceCalls())); !slices.Equal(got, []int{1, 1, 10}) {
		t.Fatalf("Produce calls %v, want 1, 1 and 10 in some order", got)
	}
}

func TestProduceGroupCommit(t *testing.T) {
	tests := []struct {
		name      string
		maxMsgs   int
		callers   int
		per       int
		wantCalls []int
	}{
		{"all waiting callers in one entry", 1024, 10, 2, []int{1, 20}},
		{"bounded by message count", 4, 5, 2, []int{1, 4, 4, 2}},
		{"one request per entry at the bound", 2, 3, 2, []int{1, 2, 2, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, f := newTestBroker(t, func(c *Config) { c.MaxBatchMessages, c.ProducePipeline = tc.maxMsgs, 1 })
			mustCreate(t, b, "T", 1)
			release := f.Hold()
			defer release()
			first := produceConcurrently(t, b, 1, 1)
			<-f.Entered() // the first entry is in flight
			rest := produceConcurrently(t, b, tc.callers, tc.per)
			testutil.WaitFor(t, 5*time.Second, "callers queued behind the apply", func() bool {
				return b.produce.waiting.Load() == int64(tc.callers)
			})
			release()
			res := append(first(), rest()...)
			if got := f.ProduceCalls(); !slices.Equal(got, tc.wantCalls) {
				t.Fatalf("Produce calls %v, want %v", got, tc.wantCalls)
			}
			// Every caller got its own results: distinct offsets, and each
			// id reads back the caller's own body.
			seen := map[uint64]bool{}
			for i, rs := range res {
				for j, r := range rs {
					if seen[r.QueueOffset] {
						t.Fatalf("queue offset %d handed out twice", r.QueueOffset)
					}
					seen[r.QueueOffset] = true
					m, err := b.GetMessage(r.MsgID)
					if err != nil {
						t.Fatal(err)
					}
					want := fmt.Sprintf("c%d-%d", i, j)
					if i > 0 {
						want = fmt.Sprintf("c%d-%d", i-1, j)
					}
					if string(m.Body) != want || m.QueueOffset != r.QueueOffset {
						t.Fatalf("%s: body %q offset %d, want %q offset %d", r.MsgID, m.Body, m.QueueOffset, want, r.QueueOffset)
					}
				}
			}
		})
	}
}

func TestProduceQueueSelection(t *testing.T) {
	b, _ := newTestBroker(t, nil)
	mustCreate(t, b, "T", 4)
	tests := []struct {
		name    string
		msgs    []ProduceMessage
		want    []uint32
		wantErr error
	}{
		{"explicit", []ProduceMessage{{Body: []byte("a"), HasQueueID: true, QueueID: 3}}, []uint32{3}, nil},
		{"explicit zero", []ProduceMessage{{Body: []byte("a"), HasQueueID: true}}, []uint32{0}, nil},
		{"explicit out of range", []ProduceMessage{{Body: []byte("a"), HasQueueID: true, QueueID: 4}}, nil, ErrTopicNotFound},
		{"sharding key", []ProduceMessage{{Body: []byte("a"), ShardingKey: "order-1"}, {Body: []byte("b"), ShardingKey: "order-1"}},
			[]uint32{ShardQueue("order-1", 4), ShardQueue("order-1", 4)}, nil},
		{"round robin", msgs(5, "rr"), nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "round robin" {
				for i := range tc.msgs {
					tc.msgs[i].HasQueueID = false
				}
			}
			res, err := b.Produce(t.Context(), "T", tc.msgs)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			got := make([]uint32, len(res))
			for i, r := range res {
				got[i] = r.QueueID
			}
			if tc.want == nil { // round robin: consecutive queues
				for i := 1; i < len(got); i++ {
					if got[i] != (got[i-1]+1)%4 {
						t.Fatalf("round robin queues %v", got)
					}
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("queues %v, want %v", got, tc.want)
			}
		})
	}
}

// Round robin continues from request to request, skips the messages that
// name their queue or carry a sharding key, and stays even under
// concurrent requests (each takes its slots under one lock).
func TestProduceRoundRobinAcrossRequests(t *testing.T) {
	b, _ := newTestBroker(t, nil)
	mustCreate(t, b, "T", 4)
	queues := func(res []SendResult) []uint32 {
		out := make([]uint32, len(res))
		for i, r := range res {
			out[i] = r.QueueID
		}
		return out
	}
	first, err := b.Produce(t.Context(), "T", []ProduceMessage{{Body: []byte("a")}})
	if err != nil {
		t.Fatal(err)
	}
	s := first[0].QueueID
	mixed := []ProduceMessage{
		{Body: []byte("b")},
		{Body: []byte("c"), HasQueueID: true, QueueID: 0},
		{Body: []byte("d"), ShardingKey: "k"},
		{Body: []byte("e")},
		{Body: []byte("f")},
	}
	res, err := b.Produce(t.Context(), "T", mixed)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint32{(s + 1) % 4, 0, ShardQueue("k", 4), (s + 2) % 4, (s + 3) % 4}
	if got := queues(res); !slices.Equal(got, want) {
		t.Fatalf("queues %v, want %v (round robin from %d)", got, want, s)
	}
	res, err = b.Produce(t.Context(), "T", []ProduceMessage{{Body: []byte("g")}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].QueueID != s {
		t.Fatalf("next request went to queue %d, want %d", res[0].QueueID, s)
	}

	counts := make([]atomic.Int64, 4)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				batch := make([]ProduceMessage, 3)
				for i := range batch {
					batch[i].Body = []byte("x")
				}
				res, err := b.Produce(t.Context(), "T", batch)
				if err != nil {
					t.Error(err)
					return
				}
				for i, q := range queues(res) {
					if i > 0 && q != (res[i-1].QueueID+1)%4 {
						t.Errorf("one request's round-robin queues %v are not consecutive", queues(res))
					}
					counts[q].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for q := range counts {
		if n := counts[q].Load(); n != 30 {
			t.Errorf("queue %d got %d of 120 concurrent round-robin messages, want 30", q, n)
		}
	}
}

func TestProduceValidation(t *testing.T) {
	b, f := newTestBroker(t, func(c *Config) { c.MaxBatchMessages = 8; c.MaxBatchBytes = 64 << 10 })
	mustCreate(t, b, "T", 2)
	big := make([]byte, store.TestOptions().MaxMessageSize+1)
	mid := make([]byte, 12<<10)
	tests := []struct {
		name  string
		topic string
		msgs  []ProduceMessage
		want  error
	}{
		{"invalid topic", "bad topic", msgs(1, "x"), store.ErrInvalidTopic},
		{"no messages", "T", nil, ErrInvalidArgument},
		{"too many messages", "T", msgs(9, "x"), ErrRequestTooLarge},
		{"body too large", "T", []ProduceMessage{{Body: big}}, store.ErrMessageTooLarge},
		{"request too many bytes", "T", []ProduceMessage{{Body: mid}, {Body: mid}, {Body: mid}, {Body: mid}, {Body: mid}, {Body: mid}}, ErrRequestTooLarge},
		{"control character in key", "T", []ProduceMessage{{Body: []byte("a"), Keys: []string{"a\x01"}}}, store.ErrInvalidMessage},
		{"empty key", "T", []ProduceMessage{{Body: []byte("a"), Keys: []string{""}}}, store.ErrInvalidMessage},
		{"properties too large", "T", []ProduceMessage{{Body: []byte("a"), Properties: map[string]string{"p": strings.Repeat("v", 5<<10)}}}, store.ErrPropertiesTooLarge},
		{"one bad message fails the request", "T", []ProduceMessage{{Body: []byte("ok")}, {Body: big}}, store.ErrMessageTooLarge},
		{"unknown topic", "Nope", msgs(1, "x"), ErrTopicNotFound},
		{"system topic", "%SYS%OFFSET", msgs(1, "x"), store.ErrInvalidTopic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := b.Produce(t.Context(), tc.topic, tc.msgs); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	if calls := f.ProduceCalls(); len(calls) != 0 {
		t.Fatalf("bad input reached the replicator: %v", calls)
	}
}

func TestProduceAutoCreate(t *testing.T) {
	b, _ := newTestBroker(t, func(c *Config) { c.AutoCreateTopics = true; c.DefaultQueues = 3 })
	res, err := b.Produce(t.Context(), "Auto", msgs(1, "x"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.DescribeTopic(t.Context(), "Auto")
	if err != nil || r.Topic.Queues != 3 || len(res) != 1 {
		t.Fatalf("topic %+v, %v", r.Topic, err)
	}
}

func TestProduceNotLeader(t *testing.T) {
	tests := []struct {
		name     string
		leaderID string
		want     error
		wantAddr string
	}{
		{"known leader", "n2", ErrNotLeader, "n2:9876"},
		{"no leader", "", ErrNoLeader, ""},
		{"leader without address", "n3", ErrNoLeader, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, f := newTestBroker(t, nil)
			mustCreate(t, b, "T", 1)
			f.SetLeader(false, tc.leaderID)
			_, err := b.Produce(t.Context(), "T", msgs(1, "x"))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			var nl *NotLeaderError
			if errors.As(err, &nl) != (tc.wantAddr != "") || (nl != nil && (nl.LeaderAddr != tc.wantAddr || nl.LeaderID != tc.leaderID)) {
				t.Fatalf("err %#v, want leader %s at %q", err, tc.leaderID, tc.wantAddr)
			}
		})
	}
}

// TestProduceRefusedOrUnknown: a produce the replica refused before Raft
// appended it (a leadership transfer in progress) is marked not applied,
// so a client may send it again; one whose leadership was lost in flight
// is not.
func TestProduceRefusedOrUnknown(t *testing.T) {
	for _, tc := range []struct {
		name        string
		err         error
		want        error
		wantApplied bool // the outcome may be that it was stored
	}{
		{"transfer in progress", fmt.Errorf("%w: %w", raftfsm.ErrUnavailable, raftfsm.ErrTransferInProgress), ErrNoLeader, false},
		{"leadership lost", raftfsm.ErrUnknownOutcome, raftfsm.ErrUnknownOutcome, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, f := newTestBroker(t, nil)
			mustCreate(t, b, "T", 1)
			f.FailProduces(tc.err)
			_, err := b.Produce(t.Context(), "T", msgs(1, "x"))
			if !errors.Is(err, tc.want) || NotApplied(err) == tc.wantApplied {
				t.Fatalf("err %v (not applied: %v); want %v, not applied %v", err, NotApplied(err), tc.want, !tc.wantApplied)
			}
		})
	}
}

func TestProduceLeadershipLostInFlight(t *testing.T) {
	b, f := newTestBroker(t, nil)
	mustCreate(t, b, "T", 1)
	release := f.Hold()
	done := make(chan error, 1)
	go func() {
		_, err := b.Produce(t.Context(), "T", msgs(1, "x"))
		done <- err
	}()
	<-f.Entered()
	f.SetLeader(false, "n2")
	release()
	var nl *NotLeaderError
	if err := <-done; !errors.As(err, &nl) || nl.LeaderAddr != "n2:9876" {
		t.Fatalf("err %v, want NotLeaderError for n2", err)
	}
}

func TestProduceContextEnds(t *testing.T) {
	b, f := newTestBroker(t, nil)
	mustCreate(t, b, "T", 1)
	release := f.Hold()
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := b.Produce(ctx, "T", msgs(1, "x"))
		done <- err
	}()
	<-f.Entered()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestProduceAfterClose(t *testing.T) {
	b, _ := newTestBroker(t, nil)
	mustCreate(t, b, "T", 1)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Produce(t.Context(), "T", msgs(1, "x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("err %v, want ErrClosed", err)
	}
}

// TestDeletedTopicFailsOnlyItsRequest: a request whose topic is deleted
// after the broker validated it, but before its batch is applied, fails
// alone; the requests sharing its Raft entry are stored.
func TestDeletedTopicFailsOnlyItsRequest(t *testing.T) {
	b, f := newTestBroker(t, func(c *Config) { c.ProducePipeline = 1 })
	mustCreate(t, b, "T", 1)
	mustCreate(t, b, "Gone", 1)
	release := f.Hold()
	defer release()
	first := produceConcurrently(t, b, 1, 1)
	<-f.Entered() // the pipeline is full: the next callers form one batch
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, topic := range []string{"T", "Gone", "T"} {
		wg.Go(func() { _, errs[i] = b.Produce(t.Context(), topic, msgs(2, topic)) })
	}
	testutil.WaitFor(t, 5*time.Second, "callers queued behind the held entry", func() bool {
		return b.produce.waiting.Load() == 3
	})
	if err := f.DeleteTopic(t.Context(), "Gone"); err != nil {
		t.Fatal(err)
	}
	release()
	first()
	wg.Wait()
	for i, want := range []error{nil, raftfsm.ErrTopicNotFound, nil} {
		if !errors.Is(errs[i], want) {
			t.Fatalf("request %d: %v, want %v", i, errs[i], want)
		}
	}
	if calls := f.ProduceCalls(); !slices.Equal(calls, []int{1, 4}) {
		t.Fatalf("Produce calls %v, want [1 4]: the two good requests stored together", calls)
	}
}

// TestIdempotentProduceRetry: a retry of an idempotent request with the
// same producer id and sequence returns the original results (queues
// included) and stores nothing; another sequence is a new request.
func TestIdempotentProduceRetry(t *testing.T) {
	b, _ := newTestBroker(t, nil)
	mustCreate(t, b, "T", 4)
	send := func(seq uint64) []SendResult {
		t.Helper()
		res, err := b.ProduceRequest(t.Context(), ProduceRequest{Topic: "T", Idempotent: true, ProducerID: 9, Seq: seq,
			Messages: []ProduceMessage{{Body: []byte("a")}, {Body: []byte("b")}}}) // round robin: other queues on a retry
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	orig := send(1)
	if again := send(1); !slices.Equal(again, orig) {
		t.Fatalf("retry got %+v, original %+v", again, orig)
	}
	if other := send(2); other[0].MsgID == orig[0].MsgID {
		t.Fatal("sequence 2 taken for a retry of 1")
	}
	if n := b.rep.Store().MaxCommitLogOffset(); n == 0 {
		t.Fatal("nothing stored")
	}
	total := uint64(0)
	for q := range uint32(4) {
		total += b.rep.Store().MaxOffset("T", q)
	}
	if total != 4 {
		t.Fatalf("%d messages stored, want 4", total)
	}
}

// TestProducerMarkRoom: the first message of an idempotent request must
// leave room for the producer mark, checked before anything is batched
// (not refused later by the FSM), and no message may set the mark's
// reserved property.
func TestProducerMarkRoom(t *testing.T) {
	b, _ := newTestBroker(t, nil)
	mustCreate(t, b, "T", 1)
	limit := b.cfg.MessageLimits.MaxPropertiesSize
	withProps := func(n int) ProduceMessage {
		// Properties block: 2 (tags length) + 2 (keys count) + 2 (props
		// count) + 4 + len("p") + value.
		return ProduceMessage{Body: []byte("x"), Properties: map[string]string{"p": strings.Repeat("v", n-2-2-2-4-1)}}
	}
	send := func(idem bool, m ProduceMessage) error {
		_, err := b.ProduceRequest(t.Context(), ProduceRequest{Topic: "T", Idempotent: idem, ProducerID: 3, Seq: 1, Messages: []ProduceMessage{m}})
		return err
	}
	if err := send(false, withProps(limit)); err != nil {
		t.Fatalf("plain message at the limit: %v", err)
	}
	if err := send(true, withProps(limit)); !errors.Is(err, store.ErrPropertiesTooLarge) {
		t.Fatalf("idempotent message at the limit: %v, want ErrPropertiesTooLarge", err)
	}
	if err := send(true, withProps(limit-raftfsm.MarkOverhead)); err != nil {
		t.Fatalf("idempotent message with room for the mark: %v", err)
	}
	reserved := ProduceMessage{Body: []byte("x"), Properties: map[string]string{raftfsm.ProducerSeqProperty: "1:2:3"}}
	if err := send(false, reserved); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("reserved property: %v, want ErrInvalidArgument", err)
	}
}
