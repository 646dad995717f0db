package membership

import (
	"fmt"
	"testing"
)

func ev(typ EventType, id string, st State, hasState bool) Event {
	return Event{Type: typ, Member: Member{ID: id, Group: "g1", State: st, HasRaftState: hasState}}
}

func TestSubscriberCoalesces(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []Event
		want []Event
	}{
		{
			name: "distinct members keep order",
			in:   []Event{ev(EventJoin, "a", StateAlive, false), ev(EventJoin, "b", StateAlive, false)},
			want: []Event{ev(EventJoin, "a", StateAlive, false), ev(EventJoin, "b", StateAlive, false)},
		},
		{
			name: "update after undelivered join stays join",
			in:   []Event{ev(EventJoin, "a", StateAlive, false), ev(EventUpdate, "a", StateAlive, true)},
			want: []Event{ev(EventJoin, "a", StateAlive, true)},
		},
		{
			name: "latest state wins",
			in:   []Event{ev(EventJoin, "a", StateAlive, false), ev(EventFail, "a", StateDead, false)},
			want: []Event{ev(EventFail, "a", StateDead, false)},
		},
		{
			name: "rejoin after undelivered fail is a join",
			in:   []Event{ev(EventFail, "a", StateDead, false), ev(EventJoin, "a", StateAlive, false), ev(EventUpdate, "a", StateAlive, true)},
			want: []Event{ev(EventJoin, "a", StateAlive, true)},
		},
		{
			name: "coalesced member keeps its first position",
			in: []Event{
				ev(EventJoin, "a", StateAlive, false), ev(EventJoin, "b", StateAlive, false),
				ev(EventLeave, "a", StateLeft, false),
			},
			want: []Event{ev(EventLeave, "a", StateLeft, false), ev(EventJoin, "b", StateAlive, false)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSubscriber()
			for _, e := range tc.in {
				s.push(e)
			}
			var got []Event
			for {
				e, ok := s.pop()
				if !ok {
					break
				}
				got = append(got, e)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("delivered %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSlowSubscriberDoesNotBlock publishes far more events than a
// subscriber's buffer without reading, then checks that publish returned,
// memory stayed bounded by the member count, and the latest state of every
// member arrives.
func TestSlowSubscriberDoesNotBlock(t *testing.T) {
	var h hub
	events, cancel := h.subscribe()
	defer cancel()
	const members, rounds = 40, 50
	for r := range rounds {
		for i := range members {
			h.publish(ev(EventUpdate, fmt.Sprintf("m%02d", i), StateAlive, r == rounds-1))
		}
	}
	latest := make(map[string]Event)
	for len(latest) < members || !allHaveState(latest) {
		e := <-events
		latest[e.Member.ID] = e
	}
	for s := range h.subs {
		s.mu.Lock()
		n := len(s.pending)
		s.mu.Unlock()
		if n > members {
			t.Fatalf("%d pending events for %d members", n, members)
		}
	}
}

func allHaveState(latest map[string]Event) bool {
	for _, e := range latest {
		if !e.Member.HasRaftState {
			return false
		}
	}
	return true
}

func TestCancelClosesChannel(t *testing.T) {
	var h hub
	events, cancel := h.subscribe()
	h.publish(ev(EventJoin, "a", StateAlive, false))
	cancel()
	cancel()
	for range events {
	}
	if len(h.subs) != 0 {
		t.Fatalf("%d subscribers left after cancel", len(h.subs))
	}
	h.publish(ev(EventJoin, "b", StateAlive, false)) // no subscribers: must not block
}
