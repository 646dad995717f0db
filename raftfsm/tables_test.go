package raftfsm

import (
	"errors"
	"testing"

	"github.com/raftmq/raftmq/store"
)

// TestTopicSpan covers a topic part that starts above queue 0 (a topic
// spread over several broker groups): its encoding round-trips, an
// identical re-create is accepted, another span is refused, and produce
// accepts only the part's own queue ids.
func TestTopicSpan(t *testing.T) {
	part := Topic{Name: "orders", Queues: 4, FirstQueue: 8}
	c, err := decodeCommand(encodeCreateTopic(part))
	if err != nil || c.topic != part {
		t.Fatalf("round trip: %+v, %v", c.topic, err)
	}
	if got := part.QueueIDs(); len(got) != 4 || got[0] != 8 || got[3] != 11 {
		t.Fatalf("QueueIDs = %v", got)
	}
	tb := newTables()
	if err := tb.apply(c); err != nil {
		t.Fatal(err)
	}
	if err := tb.apply(c); err != nil {
		t.Fatalf("identical re-create: %v", err)
	}
	for _, other := range []Topic{{Name: "orders", Queues: 4}, {Name: "orders", Queues: 5, FirstQueue: 8}} {
		if err := tb.check(command{typ: cmdCreateTopic, topic: other}); !errors.Is(err, ErrTopicExists) {
			t.Errorf("re-create as %+v: %v, want ErrTopicExists", other, err)
		}
	}
	for q, ok := range map[uint32]bool{7: false, 8: true, 11: true, 12: false, 0: false} {
		err := tb.checkProduce([]*Message{{Topic: "orders", QueueID: q}})
		if (err == nil) != ok {
			t.Errorf("produce to queue %d: %v", q, err)
		}
	}
	for _, bad := range []Topic{{Name: "x", Queues: 0, FirstQueue: 1}, {Name: "x", Queues: 2, FirstQueue: store.MaxQueueID}} {
		if err := tb.check(command{typ: cmdCreateTopic, topic: bad}); !errors.Is(err, store.ErrInvalidTopic) {
			t.Errorf("span %+v: %v, want ErrInvalidTopic", bad, err)
		}
	}
	// Version 2 with first queue 0 is not canonical and refused.
	v2zero := append([]byte{cmdCreateTopic, cmdVersionTopicSpan}, encodeCreateTopic(Topic{Name: "o", Queues: 1})[2:]...)
	v2zero = append(v2zero, 0, 0, 0, 0)
	if _, err := decodeCommand(v2zero); !errors.Is(err, ErrBadCommand) {
		t.Errorf("v2 with first queue 0: %v, want ErrBadCommand", err)
	}
}
