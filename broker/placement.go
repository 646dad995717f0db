package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

// PlaceRequest is a cluster-wide topic creation.
type PlaceRequest struct {
	// Topic names the topic and its queue count per group; FirstQueue is
	// ignored (placement chooses it).
	Topic Topic
	// Groups are the target broker groups; nil means every known group.
	Groups []string
	// IfAbsent creates the topic only if no group holds it yet
	// (auto-creation never extends a topic).
	IfAbsent bool
	// Placement says this node's group was chosen as the placement group
	// by the node that handed the request over: place it here (or at
	// this group's leader), never hand it to another group, so nodes with
	// different views of the cluster cannot bounce it around.
	Placement bool
}

// placementGroup is the group whose leader places every topic part: the
// lowest-named known group. Placing in one place, one creation at a time
// (placeMu) and from the groups' leaders' state, is what keeps the parts'
// queue-id ranges disjoint when several nodes create or extend topics at
// once.
func (b *Broker) placementGroup() string {
	gs := b.dir.Groups()
	if len(gs) == 0 || b.cfg.GroupID < gs[0] {
		return b.cfg.GroupID
	}
	return gs[0]
}

// CreateTopic creates a topic with t.Queues queues in each of groups (nil
// means every known group); see Place.
func (b *Broker) CreateTopic(ctx context.Context, t Topic, groups []string) error {
	return b.Place(ctx, PlaceRequest{Topic: Topic{Name: t.Name, Queues: t.Queues}, Groups: groups})
}

// Place creates a topic's parts so that its queue ids are unique
// cluster-wide. Any node accepts it and hands it to the leader of the
// placement group (placementGroup), which describes the topic at every
// group's leader and gives the target groups that lack a part
// consecutive id ranges after the highest id in use (a new topic: group
// i of the sorted targets gets [i*Queues, (i+1)*Queues)). A topic that
// exists in every target group with the same queue count is left as it
// is; naming a new group extends the topic onto it; another queue count
// is raftfsm.ErrTopicExists. Every group must answer (ErrGroupUnavailable
// otherwise): a part is never placed without knowing the others. Parts
// created before a failure stay; the call is safe to repeat.
func (b *Broker) Place(ctx context.Context, r PlaceRequest) error {
	t := Topic{Name: r.Topic.Name, Queues: r.Topic.Queues}
	if err := validateUserTopic(t.Name); err != nil {
		return err
	}
	if t.Queues == 0 || t.Queues > b.cfg.MaxQueuesPerTopic {
		return invalid("queue count %d outside [1, %d]", t.Queues, b.cfg.MaxQueuesPerTopic)
	}
	if err := b.checkOpen(); err != nil {
		return err
	}
	targets, err := b.targetGroups(r.Groups)
	if err != nil {
		return err
	}
	if len(b.otherGroups()) == 0 {
		return b.createPartAnywhere(ctx, b.cfg.GroupID, t)
	}
	if pg := b.placementGroup(); pg != b.cfg.GroupID && !r.Placement {
		r.Placement = true
		return b.onGroup(pg, func(addr string) error { return b.peersOf().PlaceTopic(ctx, addr, r) })
	}
	if !b.rep.IsLeader() {
		err := b.notLeader()
		var nl *NotLeaderError
		if r.Placement || !errors.As(err, &nl) {
			return err // a forwarded placement goes one hop: the API forwards it
		}
		r.Placement = true
		return b.peersOf().PlaceTopic(ctx, nl.LeaderAddr, r)
	}
	b.placeMu.Lock()
	defer b.placeMu.Unlock()
	plan, err := b.placeParts(ctx, t, targets, r.IfAbsent)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range plan {
		if err := b.createPartAnywhere(ctx, p.group, p.route.Topic); err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", p.group, err))
		}
	}
	if len(plan) > 0 && len(errs) == 0 {
		b.log.Info("topic placed", "topic", t.Name, "queues", t.Queues, "new_parts", len(plan))
	}
	return errors.Join(errs...)
}

// targetGroups checks an explicit group list against the directory, or
// returns every known group.
func (b *Broker) targetGroups(groups []string) ([]string, error) {
	known := b.dir.Groups()
	if !slices.Contains(known, b.cfg.GroupID) {
		known = append(known, b.cfg.GroupID)
		slices.Sort(known)
	}
	if len(groups) == 0 {
		if b.peersOf() == nil {
			return []string{b.cfg.GroupID}, nil
		}
		return known, nil
	}
	out := slices.Clone(groups)
	slices.Sort(out)
	out = slices.Compact(out)
	for _, g := range out {
		if !slices.Contains(known, g) {
			return nil, invalid("unknown broker group %q (known: %v)", g, known)
		}
		if g != b.cfg.GroupID && b.peersOf() == nil {
			return nil, invalid("broker group %q cannot be reached from this node", g)
		}
	}
	return out, nil
}

// placeParts describes the topic at every group's leader and returns the
// parts to create in the target groups that lack it. With ifAbsent, a
// topic that exists anywhere gets no new part. The caller leads its group
// and holds placeMu.
func (b *Broker) placeParts(ctx context.Context, t Topic, targets []string, ifAbsent bool) ([]part, error) {
	parts := b.topicParts(ctx, t.Name, true)
	var next uint64
	have := make(map[string]bool)
	for _, p := range parts {
		switch {
		case p.err == nil:
			if slices.Contains(targets, p.group) && p.route.Topic.Queues != t.Queues {
				return nil, fmt.Errorf("%w: topic %s has %d queues in group %s, not %d",
					raftfsm.ErrTopicExists, t.Name, p.route.Topic.Queues, p.group, t.Queues)
			}
			have[p.group] = true
			next = max(next, uint64(p.route.Topic.FirstQueue)+uint64(p.route.Topic.Queues))
		case errors.Is(p.err, ErrTopicNotFound) || errors.Is(p.err, raftfsm.ErrTopicNotFound):
		default:
			return nil, fmt.Errorf("%w: cannot place topic %s without group %s: %w", ErrGroupUnavailable, t.Name, p.group, p.err)
		}
	}
	if ifAbsent && len(have) > 0 {
		return nil, nil
	}
	var plan []part
	for i, g := range targets {
		if have[g] {
			continue
		}
		first := next
		if len(have) == 0 {
			first = uint64(i) * uint64(t.Queues)
		} else {
			next += uint64(t.Queues)
		}
		if first+uint64(t.Queues) > uint64(store.MaxQueueID)+1 {
			return nil, invalid("topic %s: no queue ids left for group %s", t.Name, g)
		}
		plan = append(plan, part{group: g, route: TopicRoute{Topic: Topic{Name: t.Name, Queues: t.Queues, FirstQueue: uint32(first)}}})
	}
	return plan, nil
}

// createPartAnywhere creates part t in group g from any node: here when
// this node leads g, through g's leader otherwise.
func (b *Broker) createPartAnywhere(ctx context.Context, g string, t Topic) error {
	if g != b.cfg.GroupID {
		return b.onGroup(g, func(addr string) error { return b.peersOf().CreateTopicPart(ctx, addr, t) })
	}
	err := b.CreateTopicPart(ctx, t)
	var nl *NotLeaderError
	if errors.As(err, &nl) && b.peersOf() != nil {
		return b.peersOf().CreateTopicPart(ctx, nl.LeaderAddr, t)
	}
	return err
}
