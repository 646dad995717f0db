package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/raftmq/raftmq/raftfsm"
)

// fakePeers is a Peers whose other groups are in-memory topic tables,
// keyed by node address; down addresses answer ErrGroupUnavailable.
type fakePeers struct {
	mu       sync.Mutex
	parts    map[string]map[string]Topic // addr -> topic -> part
	down     map[string]bool
	statuses map[string]NodeStatus // addr -> what NodeStatus answers
}

func (f *fakePeers) NodeStatus(_ context.Context, addr string) (NodeStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.statuses[addr]
	if !ok || f.down[addr] {
		return NodeStatus{}, fmt.Errorf("%w: %s down", ErrGroupUnavailable, addr)
	}
	return st, nil
}

func (f *fakePeers) table(addr string) (map[string]Topic, error) {
	if f.down[addr] {
		return nil, fmt.Errorf("%w: %s down", ErrGroupUnavailable, addr)
	}
	return f.parts[addr], nil
}

func (f *fakePeers) TopicPart(_ context.Context, addr, name string, _ bool) (TopicRoute, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tb, err := f.table(addr)
	if err != nil {
		return TopicRoute{}, err
	}
	t, ok := tb[name]
	if !ok {
		return TopicRoute{}, ErrTopicNotFound
	}
	r := TopicRoute{Topic: t}
	for _, q := range t.fsm().QueueIDs() {
		r.Routes = append(r.Routes, QueueRoute{QueueID: q, Group: "h", LeaderAddr: addr})
	}
	return r, nil
}

func (f *fakePeers) TopicParts(_ context.Context, addr string) ([]Topic, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tb, err := f.table(addr)
	var out []Topic
	for _, t := range tb {
		out = append(out, t)
	}
	return out, err
}

func (f *fakePeers) CreateTopicPart(_ context.Context, addr string, t Topic) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	tb, err := f.table(addr)
	if err != nil {
		return err
	}
	if old, ok := tb[t.Name]; ok && old != t {
		return raftfsm.ErrTopicExists
	}
	tb[t.Name] = t
	return nil
}

func (f *fakePeers) PlaceTopic(context.Context, string, PlaceRequest) error {
	return fmt.Errorf("%w: this test's broker is the placement leader", ErrGroupUnavailable)
}

func (f *fakePeers) DeleteTopicPart(_ context.Context, addr, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	tb, err := f.table(addr)
	if err != nil {
		return err
	}
	if _, ok := tb[name]; !ok {
		return ErrTopicNotFound
	}
	delete(tb, name)
	return nil
}

// TestCreateTopicAcrossGroups places topics over this group "g" and a
// second group "h" (one node, h1:9876) through fake peers.
func TestCreateTopicAcrossGroups(t *testing.T) {
	b, f := newTestBroker(t, func(c *Config) {
		c.Directory = NewStaticGroups(map[string]map[string]string{
			"g": {"n1": "n1:9876", "n2": "n2:9876"},
			"h": {"h1": "h1:9876"},
		})
	})
	peers := &fakePeers{parts: map[string]map[string]Topic{"h1:9876": {}}, down: map[string]bool{}}
	b.SetPeers(peers)
	ctx := t.Context()

	// A new topic: g (first in order) gets 0-3, h 4-7.
	if err := b.CreateTopic(ctx, Topic{Name: "T", Queues: 4}, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Topic("T"); got != (raftfsm.Topic{Name: "T", Queues: 4}) {
		t.Fatalf("local part %+v", got)
	}
	if got := peers.parts["h1:9876"]["T"]; got != (Topic{Name: "T", Queues: 4, FirstQueue: 4}) {
		t.Fatalf("remote part %+v", got)
	}
	r, err := b.DescribeTopic(ctx, "T")
	if err != nil || len(r.Routes) != 8 || r.Routes[7].QueueID != 7 || r.Routes[7].Group != "h" {
		t.Fatalf("DescribeTopic: %+v, %v", r, err)
	}
	if err := b.CreateTopic(ctx, Topic{Name: "T", Queues: 4}, nil); err != nil {
		t.Fatalf("identical re-create: %v", err)
	}
	if err := b.CreateTopic(ctx, Topic{Name: "T", Queues: 2}, nil); !errors.Is(err, raftfsm.ErrTopicExists) {
		t.Fatalf("other queue count: %v", err)
	}

	// Creations of one topic in different groups at once are placed one
	// at a time: the parts never overlap.
	var wg sync.WaitGroup
	for _, g := range []string{"h", "g"} {
		wg.Go(func() {
			if err := b.CreateTopic(ctx, Topic{Name: "R", Queues: 3}, []string{g}); err != nil {
				t.Errorf("create R in %s: %v", g, err)
			}
		})
	}
	wg.Wait()
	local, _ := f.Topic("R")
	remote := peers.parts["h1:9876"]["R"]
	if local.Queues != 3 || remote.Queues != 3 || local.FirstQueue == remote.FirstQueue {
		t.Fatalf("concurrent creations overlap: g %+v, h %+v", local, remote)
	}

	// A topic created in h only, then extended onto g: g's part comes
	// after h's.
	if err := b.CreateTopic(ctx, Topic{Name: "U", Queues: 2}, []string{"h"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Topic("U"); ok {
		t.Fatal("U created in g too")
	}
	if err := b.CreateTopic(ctx, Topic{Name: "U", Queues: 2}, []string{"g", "h"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Topic("U"); got != (raftfsm.Topic{Name: "U", Queues: 2, FirstQueue: 2}) {
		t.Fatalf("extended part %+v", got)
	}
	if err := b.CreateTopic(ctx, Topic{Name: "V", Queues: 2}, []string{"nope"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("unknown group: %v", err)
	}

	// With h down nothing new is placed, and routes of existing topics
	// still come from g alone.
	peers.down["h1:9876"] = true
	if err := b.CreateTopic(ctx, Topic{Name: "W", Queues: 2}, nil); !errors.Is(err, ErrGroupUnavailable) {
		t.Fatalf("create with h down: %v", err)
	}
	if _, ok := f.Topic("W"); ok {
		t.Fatal("W placed without h")
	}
	if r, err := b.DescribeTopic(ctx, "T"); err != nil || len(r.Routes) != 4 {
		t.Fatalf("DescribeTopic with h down: %+v, %v", r, err)
	}
	if _, err := b.DescribeTopic(ctx, "only-in-h"); !errors.Is(err, ErrGroupUnavailable) {
		t.Fatalf("unknown topic with h down: %v, want ErrGroupUnavailable", err)
	}
	peers.down["h1:9876"] = false

	// Delete removes both parts; a second delete is not found.
	if err := b.DeleteTopic(ctx, "T"); err != nil {
		t.Fatal(err)
	}
	if _, ok := peers.parts["h1:9876"]["T"]; ok {
		t.Fatal("remote part of T not deleted")
	}
	if err := b.DeleteTopic(ctx, "T"); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	ts, err := b.ListTopics(ctx)
	if err != nil || fmt.Sprint(ts) != "[{R 3 0} {U 2 0}]" {
		t.Fatalf("ListTopics: %v, %v", ts, err)
	}
}

// TestAssignmentRotatesByPart checks that two groups' leaders, each
// assigning its own part of a topic among the same three members, do not
// give the extra queue to the same member.
func TestAssignmentRotatesByPart(t *testing.T) {
	total := map[string]int{}
	for _, part := range []raftfsm.Topic{{Name: "T", Queues: 4}, {Name: "T", Queues: 4, FirstQueue: 4}} {
		c := newCoordinator(make(chan struct{}))
		for _, m := range []string{"a", "b", "c"} {
			c.join(1, "G", m, []string{"T"}, 1<<40, func(string) raftfsm.Topic { return part })
		}
		seen := map[uint32]bool{}
		for _, m := range []string{"a", "b", "c"} {
			_, refs := c.join(1, "G", m, []string{"T"}, 1<<40, func(string) raftfsm.Topic { return part })
			for _, r := range refs {
				if !part.HasQueue(r.QueueID) || seen[r.QueueID] {
					t.Fatalf("part %+v: member %s got queue %d (seen %v)", part, m, r.QueueID, seen)
				}
				seen[r.QueueID] = true
				total[m]++
			}
		}
		if len(seen) != 4 {
			t.Fatalf("part %+v: %d queues assigned", part, len(seen))
		}
	}
	// 8 queues over 3 members: 3, 3 and 2 (without the rotation: 4, 2, 2).
	lo, hi := 8, 0
	for _, n := range total {
		lo, hi = min(lo, n), max(hi, n)
	}
	if hi-lo > 1 {
		t.Errorf("queues per member over both parts: %v", total)
	}
}

// TestHeartbeatSkipsTopicsOfOtherGroups: a member subscribed to A (held
// here) and B (held by group h only) gets A's queues from this group.
func TestHeartbeatSkipsTopicsOfOtherGroups(t *testing.T) {
	b, _ := newTestBroker(t, func(c *Config) {
		c.Directory = NewStaticGroups(map[string]map[string]string{
			"g": {"n1": "n1:9876", "n2": "n2:9876"}, "h": {"h1": "h1:9876"},
		})
	})
	b.SetPeers(&fakePeers{parts: map[string]map[string]Topic{"h1:9876": {"B": {Name: "B", Queues: 2}}}, down: map[string]bool{}})
	ctx := t.Context()
	if err := b.CreateTopic(ctx, Topic{Name: "A", Queues: 2}, []string{"g"}); err != nil {
		t.Fatal(err)
	}
	res, err := b.Heartbeat(ctx, HeartbeatRequest{Group: "cg", MemberID: "m1", Topics: []string{"A", "B"}, Mode: Clustering})
	if err != nil || len(res.Assignments) != 2 || res.Assignments[0].Topic != "A" {
		t.Fatalf("heartbeat: %+v, %v", res, err)
	}
}
