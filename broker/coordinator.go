package broker

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/raftmq/raftmq/raftfsm"
)

// coordinator holds the members of the consumer groups (clustering mode)
// that heartbeat to this node, the group leader. Membership is in memory
// and leader-local: a new leader starts empty and members re-register
// with their next heartbeat. The state of a past leadership term is
// dropped when the term changes, and generations embed the term
// (term<<32 | counter), so they keep increasing across failovers.
//
// Members that miss their session timeout are removed by reap, a
// goroutine owned by the Broker that sleeps until the earliest expiry.
type coordinator struct {
	stop <-chan struct{}
	wake chan struct{} // buffered 1: a member joined, recompute the next expiry

	mu     sync.Mutex // guards term and groups
	term   uint64
	groups map[string]*groupState
}

// groupState is one consumer group.
type groupState struct {
	members    map[string]*member
	generation uint64
	// signature describes what the assignment was computed from (members,
	// their topics, the topics' queue counts); a change bumps generation.
	signature string
}

type member struct {
	topics  []string // sorted, unique
	expires time.Time
}

// queueRef names one queue of a topic.
type queueRef struct {
	Topic   string
	QueueID uint32
}

func newCoordinator(stop <-chan struct{}) *coordinator {
	return &coordinator{stop: stop, wake: make(chan struct{}, 1), groups: make(map[string]*groupState)}
}

// join registers (or refreshes) a member and returns the group's
// generation and the member's queues. queues reports this broker group's
// part of a topic (zero for a missing topic); it is called with c.mu held.
//
// With several broker groups each group's leader assigns its own queues
// of a topic among all the members subscribed to it; the member order is
// rotated by the part's position (FirstQueue/Queues), so the members that
// get one queue more than the others differ from group to group.
func (c *coordinator) join(term uint64, group, id string, topics []string, timeout time.Duration, queues func(string) raftfsm.Topic) (uint64, []queueRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if term != c.term {
		c.term, c.groups = term, make(map[string]*groupState)
	}
	g := c.groups[group]
	if g == nil {
		g = &groupState{members: make(map[string]*member)}
		c.groups[group] = g
	}
	g.members[id] = &member{topics: topics, expires: time.Now().Add(timeout)}
	select {
	case c.wake <- struct{}{}:
	default:
	}

	counts := make(map[string]raftfsm.Topic)
	for _, m := range g.members {
		for _, t := range m.topics {
			if _, ok := counts[t]; !ok {
				counts[t] = queues(t)
			}
		}
	}
	if sig := g.signatureLocked(counts); sig != g.signature {
		g.signature = sig
		g.generation = max(g.generation+1, term<<32|1)
	}
	var out []queueRef
	for _, t := range topics {
		subs := g.subscribersLocked(t)
		part := counts[t]
		if part.Queues == 0 || len(subs) == 0 {
			continue
		}
		index := (slices.Index(subs, id) + int(part.FirstQueue/part.Queues)) % len(subs)
		for _, q := range allocateAveragely(index, len(subs), part.Queues) {
			out = append(out, queueRef{Topic: t, QueueID: part.FirstQueue + q})
		}
	}
	return g.generation, out
}

// signatureLocked encodes the members, their topics and the queue counts.
func (g *groupState) signatureLocked(counts map[string]raftfsm.Topic) string {
	var sb strings.Builder
	for _, id := range slices.Sorted(maps.Keys(g.members)) {
		fmt.Fprintf(&sb, "%q%q;", id, g.members[id].topics)
	}
	for _, t := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(&sb, "%q=%d@%d;", t, counts[t].Queues, counts[t].FirstQueue)
	}
	return sb.String()
}

// subscribersLocked returns the sorted ids of the members subscribed to t.
func (g *groupState) subscribersLocked(t string) []string {
	var ids []string
	for id, m := range g.members {
		if _, found := slices.BinarySearch(m.topics, t); found {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// leave removes a member; it reports whether it was there.
func (c *coordinator) leave(group, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[group]
	if g == nil || g.members[id] == nil {
		return false
	}
	delete(g.members, id)
	if len(g.members) == 0 {
		delete(c.groups, group)
	}
	return true
}

// members returns the member ids of a group, sorted (for tests and status).
func (c *coordinator) members(group string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.groups[group]; g != nil {
		return slices.Sorted(maps.Keys(g.members))
	}
	return nil
}

// expire removes members whose session ended by now and returns the
// earliest remaining expiry (zero if there is none).
func (c *coordinator) expire(now time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next time.Time
	for name, g := range c.groups {
		for id, m := range g.members {
			switch {
			case !m.expires.After(now):
				delete(g.members, id)
			case next.IsZero() || m.expires.Before(next):
				next = m.expires
			}
		}
		if len(g.members) == 0 {
			delete(c.groups, name)
		}
	}
	return next
}

// reap removes expired members until stop is closed, sleeping until the
// earliest expiry or until a member joins.
func (c *coordinator) reap() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := c.expire(time.Now())
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-c.stop:
			return
		case <-c.wake:
		case <-timer.C:
		}
	}
}
