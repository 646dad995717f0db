package membership

import "sync"

// subscriberBuffer is the capacity of a subscriber's channel. Events beyond
// it wait, coalesced per member, in the subscriber's pending set.
const subscriberBuffer = 16

// subscriber delivers events to one Subscribe caller. memberlist's callbacks
// call push, which never blocks on the receiver; the pump goroutine moves
// pending events into out as fast as the receiver takes them.
type subscriber struct {
	out  chan Event    // closed by pump when it exits
	wake chan struct{} // capacity 1: "pending is not empty"
	stop chan struct{} // closed by cancel
	done chan struct{} // closed when pump has exited

	stopOnce sync.Once

	mu sync.Mutex // guards pending and order
	// pending holds at most one undelivered event per member ID.
	pending map[string]Event
	// order lists the IDs in pending by when their event was first queued.
	order []string
}

func newSubscriber() *subscriber {
	return &subscriber{
		out:     make(chan Event, subscriberBuffer),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		pending: make(map[string]Event),
	}
}

// push queues e, coalescing it with an undelivered event for the same
// member: the newer event wins, except that an Update after an undelivered
// Join stays a Join (with the newer Member), since the receiver has not yet
// seen the member arrive. It never blocks on the receiver.
func (s *subscriber) push(e Event) {
	s.mu.Lock()
	old, queued := s.pending[e.Member.ID]
	if !queued {
		s.order = append(s.order, e.Member.ID)
	} else if old.Type == EventJoin && e.Type == EventUpdate {
		e.Type = EventJoin
	}
	s.pending[e.Member.ID] = e
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pop removes and returns the oldest pending event.
func (s *subscriber) pop() (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) == 0 {
		return Event{}, false
	}
	id := s.order[0]
	s.order = s.order[1:]
	e := s.pending[id]
	delete(s.pending, id)
	return e, true
}

// pump delivers pending events until cancel; it owns out and closes it.
func (s *subscriber) pump() {
	defer close(s.done)
	defer close(s.out)
	for {
		e, ok := s.pop()
		if !ok {
			select {
			case <-s.wake:
				continue
			case <-s.stop:
				return
			}
		}
		select {
		case s.out <- e:
		case <-s.stop:
			return
		}
	}
}

// cancel stops the pump and waits for it; safe to call more than once.
func (s *subscriber) cancel() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
}

// hub fans events out to subscribers.
type hub struct {
	mu sync.Mutex // guards subs and closed
	// subs are the live subscribers.
	subs map[*subscriber]struct{}
	// closed is set by closeAll; later Subscribe calls get a closed channel.
	closed bool
}

// subscribe registers a subscriber and starts its pump.
func (h *hub) subscribe() (<-chan Event, func()) {
	s := newSubscriber()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(s.out)
		return s.out, func() {}
	}
	if h.subs == nil {
		h.subs = make(map[*subscriber]struct{})
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	go s.pump()
	return s.out, func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
		s.cancel()
	}
}

// publish hands e to every subscriber without blocking on any receiver.
func (h *hub) publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.push(e)
	}
}

// closeAll stops every subscriber (closing its channel) and refuses new ones.
func (h *hub) closeAll() {
	h.mu.Lock()
	subs := h.subs
	h.subs, h.closed = nil, true
	h.mu.Unlock()
	for s := range subs {
		s.cancel()
	}
}
