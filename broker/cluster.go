package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

// Peers is how the broker reaches nodes of other broker groups for the
// cluster-wide topic calls; the api package implements it over gRPC and
// bounds each call by its own timeout. Every method asks the node at addr
// about that node's group ("part" calls); a node that is not its group's
// leader forwards writes to it. Errors are the broker's own
// (ErrTopicNotFound, raftfsm.ErrTopicExists, ErrInvalidArgument), or wrap
// ErrGroupUnavailable when the node cannot be reached or its group has no
// leader.
type Peers interface {
	// TopicPart describes the node's group's part of a topic; with
	// fromLeader the answer comes from that group's leader (the node
	// forwards), as placement needs.
	TopicPart(ctx context.Context, addr, name string, fromLeader bool) (TopicRoute, error)
	TopicParts(ctx context.Context, addr string) ([]Topic, error)
	CreateTopicPart(ctx context.Context, addr string, t Topic) error
	DeleteTopicPart(ctx context.Context, addr, name string) error
	// PlaceTopic hands a cluster-wide creation to a node of the placement
	// group (r.Placement is set), which places it or forwards it to its
	// own leader.
	PlaceTopic(ctx context.Context, addr string, r PlaceRequest) error
	// NodeStatus asks the node at addr for its own status.
	NodeStatus(ctx context.Context, addr string) (NodeStatus, error)
}

// SetPeers installs the transport to other groups (the api server does it
// when it is built over the broker). Without one, the broker serves its
// own group only.
func (b *Broker) SetPeers(p Peers) { b.peers.Store(&p) }

// peersOf returns the installed Peers, or nil.
func (b *Broker) peersOf() Peers {
	if p := b.peers.Load(); p != nil {
		return *p
	}
	return nil
}

// otherGroups returns the known broker groups other than this node's,
// sorted; nil when there is no transport to reach them.
func (b *Broker) otherGroups() []string {
	if b.peersOf() == nil {
		return nil
	}
	return slices.DeleteFunc(b.dir.Groups(), func(g string) bool { return g == b.cfg.GroupID })
}

// onGroup runs call against the nodes of group g, in node id order, until
// one gives an answer other than ErrGroupUnavailable.
func (b *Broker) onGroup(g string, call func(addr string) error) error {
	err := fmt.Errorf("%w: group %s has no node with a known address", ErrGroupUnavailable, g)
	for _, id := range b.dir.Members(g) {
		addr := b.dir.GRPCAddr(id)
		if addr == "" {
			continue
		}
		if err = call(addr); !errors.Is(err, ErrGroupUnavailable) {
			return err
		}
	}
	return err
}

// askGroup runs call against every node of group g at once and returns
// the first answer other than ErrGroupUnavailable (a read: one dead node
// must not cost a timeout), cancelling the others; the last error when
// no node answered.
func askGroup[T any](ctx context.Context, b *Broker, g string, call func(ctx context.Context, addr string) (T, error)) (T, error) {
	var addrs []string
	for _, id := range b.dir.Members(g) {
		if a := b.dir.GRPCAddr(id); a != "" {
			addrs = append(addrs, a)
		}
	}
	var zero T
	if len(addrs) == 0 {
		return zero, fmt.Errorf("%w: group %s has no node with a known address", ErrGroupUnavailable, g)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		v   T
		err error
	}
	answers := make(chan answer, len(addrs))
	for _, a := range addrs {
		go func() {
			v, err := call(ctx, a)
			answers <- answer{v, err}
		}()
	}
	var last error
	for range addrs {
		a := <-answers
		if !errors.Is(a.err, ErrGroupUnavailable) {
			return a.v, a.err
		}
		last = a.err
	}
	return zero, last
}

// part is one group's answer about a topic.
type part struct {
	group string
	route TopicRoute
	err   error // nil, ErrTopicNotFound, or ErrGroupUnavailable (wrapped)
}

// topicParts asks this group and every other known group, concurrently,
// for their part of topic name; with fromLeader, every group's leader
// answers (this node must then lead its own group).
func (b *Broker) topicParts(ctx context.Context, name string, fromLeader bool) []part {
	others := b.otherGroups()
	out := make([]part, 1+len(others))
	r, err := b.TopicPart(name)
	out[0] = part{group: b.cfg.GroupID, route: r, err: err}
	var wg sync.WaitGroup
	for i, g := range others {
		wg.Go(func() {
			r, err := askGroup(ctx, b, g, func(ctx context.Context, addr string) (TopicRoute, error) {
				return b.peersOf().TopicPart(ctx, addr, name, fromLeader)
			})
			out[i+1] = part{group: g, route: r, err: err}
		})
	}
	wg.Wait()
	return out
}

// DescribeTopic returns a topic's routes in every broker group that holds
// part of it. Any node answers. A group that cannot be reached is left
// out and the route marked Incomplete (clients route around it, but do
// not hash sharding keys over it) unless no reachable group holds the
// topic, which is then ErrGroupUnavailable rather than ErrTopicNotFound.
func (b *Broker) DescribeTopic(ctx context.Context, name string) (TopicRoute, error) {
	if err := b.checkOpen(); err != nil {
		return TopicRoute{}, err
	}
	if err := store.ValidateTopic(name); err != nil {
		return TopicRoute{}, err
	}
	var out TopicRoute
	var unavailable error
	for _, p := range b.topicParts(ctx, name, false) {
		switch {
		case p.err == nil:
			if out.Topic.Name == "" {
				out.Topic = Topic{Name: name, Queues: p.route.Topic.Queues}
			}
			out.Routes = append(out.Routes, p.route.Routes...)
		case errors.Is(p.err, ErrTopicNotFound) || errors.Is(p.err, raftfsm.ErrTopicNotFound):
		case errors.Is(p.err, ErrClosed) && p.group == b.cfg.GroupID:
			return TopicRoute{}, p.err
		default:
			b.log.Warn("topic route of a group unavailable", "topic", name, "group", p.group, "err", p.err)
			unavailable = errors.Join(unavailable, p.err)
		}
	}
	if len(out.Routes) == 0 {
		if unavailable != nil {
			return TopicRoute{}, fmt.Errorf("%w: topic %s: %w", ErrGroupUnavailable, name, unavailable)
		}
		return TopicRoute{}, fmt.Errorf("%w: %s", ErrTopicNotFound, name)
	}
	slices.SortStableFunc(out.Routes, func(a, b QueueRoute) int { return cmp.Compare(a.QueueID, b.QueueID) })
	out.Incomplete = unavailable != nil
	return out, nil
}

// ListTopics returns every topic of the cluster, sorted by name, with its
// queue count per group. Any node answers; groups that cannot be reached
// are left out (and logged).
func (b *Broker) ListTopics(ctx context.Context) ([]Topic, error) {
	local, err := b.TopicParts()
	if err != nil {
		return nil, err
	}
	others := b.otherGroups()
	remote := make([][]Topic, len(others))
	var wg sync.WaitGroup
	for i, g := range others {
		wg.Go(func() {
			var err error
			remote[i], err = askGroup(ctx, b, g, func(ctx context.Context, addr string) ([]Topic, error) {
				return b.peersOf().TopicParts(ctx, addr)
			})
			if err != nil {
				b.log.Warn("topic list of a group unavailable", "group", g, "err", err)
			}
		})
	}
	wg.Wait()
	seen := make(map[string]bool)
	var out []Topic
	for _, ts := range append([][]Topic{local}, remote...) {
		for _, t := range ts {
			if !seen[t.Name] {
				seen[t.Name] = true
				out = append(out, Topic{Name: t.Name, Queues: t.Queues})
			}
		}
	}
	slices.SortFunc(out, func(a, b Topic) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteTopic deletes a topic's part in every group that holds it. Any
// node accepts it. A topic no reachable group holds is ErrTopicNotFound;
// a group that cannot be reached fails the call (repeat it: the groups
// already done then answer not found, which is skipped).
func (b *Broker) DeleteTopic(ctx context.Context, name string) error {
	if err := validateUserTopic(name); err != nil {
		return err
	}
	if err := b.checkOpen(); err != nil {
		return err
	}
	deleted := 0
	var errs []error
	for _, g := range append([]string{b.cfg.GroupID}, b.otherGroups()...) {
		var err error
		if g == b.cfg.GroupID {
			err = b.DeleteTopicPart(ctx, name)
			var nl *NotLeaderError
			if errors.As(err, &nl) && b.peersOf() != nil {
				err = b.peersOf().DeleteTopicPart(ctx, nl.LeaderAddr, name)
			}
		} else {
			err = b.onGroup(g, func(addr string) error { return b.peersOf().DeleteTopicPart(ctx, addr, name) })
		}
		switch {
		case err == nil:
			deleted++
		case errors.Is(err, ErrTopicNotFound) || errors.Is(err, raftfsm.ErrTopicNotFound):
		default:
			errs = append(errs, fmt.Errorf("group %s: %w", g, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if deleted == 0 {
		return fmt.Errorf("%w: %s", ErrTopicNotFound, name)
	}
	return nil
}
