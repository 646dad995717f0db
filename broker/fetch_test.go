package broker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/raftmq/raftmq/store"
)

// fetchAsync runs Fetch in a goroutine.
func fetchAsync(ctx context.Context, b *Broker, req FetchRequest) <-chan fetchOutcome {
	ch := make(chan fetchOutcome, 1)
	go func() {
		res, err := b.Fetch(ctx, req)
		ch <- fetchOutcome{res, err}
	}()
	return ch
}

type fetchOutcome struct {
	res FetchResult
	err error
}

func produceTo(t *testing.T, b *Broker, topic string, q uint32, bodies ...string) []SendResult {
	t.Helper()
	pm := make([]ProduceMessage, len(bodies))
	for i, body := range bodies {
		pm[i] = ProduceMessage{Body: []byte(body), HasQueueID: true, QueueID: q, Tags: "tag" + body[:1], Keys: []string{"k-" + body}}
	}
	res, err := b.Produce(t.Context(), topic, pm)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestFetchImmediate(t *testing.T) {
	b, _ := newTestBroker(t, nil)
	mustCreate(t, b, "T", 2)
	produceTo(t, b, "T", 1, "a1", "b2", "a3")
	tests := []struct {
		name       string
		req        FetchRequest
		wantStatus FetchStatus
		wantBodies []string
		wantNext   uint64
		wantErr    error
	}{
		{"all", FetchRequest{Topic: "T", QueueID: 1}, FetchFound, []string{"a1", "b2", "a3"}, 3, nil},
		{"max messages", FetchRequest{Topic: "T", QueueID: 1, Offset: 1, MaxMessages: 1}, FetchFound, []string{"b2"}, 2, nil},
		{"tags", FetchRequest{Topic: "T", QueueID: 1, Tags: []string{"taga"}}, FetchFound, []string{"a1", "a3"}, 3, nil},
		{"at end", FetchRequest{Topic: "T", QueueID: 1, Offset: 3}, FetchNoNewMessages, nil, 3, nil},
		{"empty queue", FetchRequest{Topic: "T", QueueID: 0}, FetchNoNewMessages, nil, 0, nil},
		{"beyond end on the leader", FetchRequest{Topic: "T", QueueID: 1, Offset: 9}, FetchOffsetMoved, nil, 3, nil},
		{"queue outside topic", FetchRequest{Topic: "T", QueueID: 2}, 0, nil, 0, ErrTopicNotFound},
		{"unknown topic", FetchRequest{Topic: "U"}, 0, nil, 0, ErrTopicNotFound},
		{"bad topic", FetchRequest{Topic: "a b"}, 0, nil, 0, store.ErrInvalidTopic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := b.Fetch(t.Context(), tc.req)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var bodies []string
			for _, m := range res.Messages {
				bodies = append(bodies, string(m.Body))
			}
			if res.Status != tc.wantStatus || fmt.Sprint(bodies) != fmt.Sprint(tc.wantBodies) || res.NextOffset != tc.wantNext {
				t.Fatalf("got %v %v next %d, want %v %v next %d", res.Status, bodies, res.NextOffset, tc.wantStatus, tc.wantBodies, tc.wantNext)
			}
		})
	}
}

func TestFetchLongPollWokenByApply(t *testing.T) {
	b, f := newTestBroker(t, nil)
	mustCreate(t, b, "T", 2)
	ch := fetchAsync(t.Context(), b, FetchRequest{Topic: "T", QueueID: 0, MaxWait: time.Minute})
	// Applies that do not touch the queue must not end the wait.
	for range 5 {
		f.Tick()
	}
	produceTo(t, b, "T", 1, "other")
	produceTo(t, b, "T", 0, "x")
	o := <-ch
	if o.err != nil || o.res.Status != FetchFound || string(o.res.Messages[0].Body) != "x" {
		t.Fatalf("got %+v, %v", o.res, o.err)
	}
}

func TestFetchLongPollExpires(t *testing.T) {
	b, _ := newTestBroker(t, nil)
	mustCreate(t, b, "T", 1)
	start := time.Now()
	res, err := b.Fetch(t.Context(), FetchRequest{Topic: "T", MaxWait: 30 * time.Millisecond})
	if err != nil || res.Status != FetchNoNewMessages || res.NextOffset != 0 {
		t.Fatalf("got %+v, %v", res, err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("returned after %v, before MaxWait", d)
	}
}

func TestFetchLongPollEndsWithContextAndClose(t *testing.T) {
	b, _ := newTestBroker(t, nil)
	mustCreate(t, b, "T", 1)
	ctx, cancel := context.WithCancel(t.Context())
	ch := fetchAsync(ctx, b, FetchRequest{Topic: "T", MaxWait: time.Minute})
	cancel()
	if o := <-ch; !errors.Is(o.err, context.Canceled) {
		t.Fatalf("after cancel: %+v, %v", o.res, o.err)
	}
	ch = fetchAsync(t.Context(), b, FetchRequest{Topic: "T", MaxWait: time.Minute})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if o := <-ch; o.err != nil && !errors.Is(o.err, ErrClosed) && !errors.Is(o.err, store.ErrClosed) {
		t.Fatalf("after Close: %+v, %v", o.res, o.err)
	}
}

// A follower asked for an offset it has not applied yet waits for it
// instead of moving the consumer back.
func TestFetchFollowerWaitsForLaggingOffset(t *testing.T) {
	b, f := newTestBroker(t, nil)
	mustCreate(t, b, "T", 1)
	f.SetLeader(false, "n2")
	ch := fetchAsync(t.Context(), b, FetchRequest{Topic: "T", Offset: 2, MaxWait: time.Minute})
	for i := range 3 {
		if _, err := f.Append([]*store.Message{{Topic: "T", Body: []byte(fmt.Sprint(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	o := <-ch
	if o.err != nil || o.res.Status != FetchFound || string(o.res.Messages[0].Body) != "2" || o.res.Messages[0].QueueOffset != 2 {
		t.Fatalf("got %+v, %v", o.res, o.err)
	}
}

func TestFetchOffsetDeletedByRetention(t *testing.T) {
	opts := store.TestOptions()
	opts.RetentionTime = time.Minute
	b, f := newTestBrokerStore(t, opts, nil)
	mustCreate(t, b, "T", 1)
	body := make([]byte, 8<<10)
	for range 20 {
		if _, err := b.Produce(t.Context(), "T", []ProduceMessage{{Body: body}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Store().Sync(); err != nil {
		t.Fatal(err)
	}
	n, err := f.Store().DeleteExpired(time.Now().Add(time.Hour))
	if err != nil || n == 0 {
		t.Fatalf("DeleteExpired: %d segments, %v", n, err)
	}
	res, err := b.Fetch(t.Context(), FetchRequest{Topic: "T", Offset: 0})
	if err != nil || res.Status != FetchOffsetMoved || res.NextOffset == 0 || res.NextOffset != res.MinOffset {
		t.Fatalf("got %+v, %v", res, err)
	}
	res, err = b.Fetch(t.Context(), FetchRequest{Topic: "T", Offset: res.NextOffset, MaxMessages: 1})
	if err != nil || res.Status != FetchFound {
		t.Fatalf("from the earliest offset: %+v, %v", res, err)
	}
}
