package client

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// errLeaderMoved is the cause with which an attempt at a group's leader is
// given up when another node of the group claims the leadership
// (watchLeader).
var errLeaderMoved = errors.New("client: another node leads the group now")

// leaderProbes answers, for a broker group, which node claims to lead it,
// for every slow attempt of the client at once (produces, consumer calls):
// one probe round per group at a time, its answer reused for a quarter of
// the probe time, so that a slow cluster with many calls in flight is
// asked a few times a second, not once per attempt.
type leaderProbes struct {
	mu     sync.Mutex
	groups map[string]*groupProbe
}

// groupProbe is one group's probe state.
type groupProbe struct {
	round  chan struct{} // closed when the round in flight ends; nil when none
	at     time.Time     // when the last round ended
	leader string        // its answer: the claimant's advertised address, "" if none
	term   uint64        // the highest term in which any node claimed to lead
}

// watchLeader asks, now and then every quarter of the leader probe while
// ctx lasts, which node claims to lead topic's group (leaderOf); it
// returns that node's advertised address once it is not addr, or "" when
// ctx ends.
func (c *Client) watchLeader(ctx context.Context, topic, group, addr string) string {
	for {
		if l := c.leaderOf(ctx, topic, group); l != "" && l != addr {
			return l
		}
		t := time.NewTimer(c.cfg.leaderProbe / 4)
		select {
		case <-ctx.Done():
			t.Stop()
			return ""
		case <-t.C:
		}
	}
}

// leaderOf returns the advertised address of the node that claims to lead
// group in the highest term seen so far, "" if none does: the answer of
// the last probe round if it is younger than a quarter probe, else of a
// new round (or the one in flight).
func (c *Client) leaderOf(ctx context.Context, topic, group string) string {
	p := &c.probes
	p.mu.Lock()
	if p.groups == nil {
		p.groups = make(map[string]*groupProbe)
	}
	g := p.groups[group]
	if g == nil {
		g = &groupProbe{}
		p.groups[group] = g
	}
	if g.round == nil && time.Since(g.at) < c.cfg.leaderProbe/4 {
		defer p.mu.Unlock()
		return g.leader
	}
	round := g.round
	if round == nil {
		// The round runs on its own, so that every caller, the one that
		// started it included, stops waiting as soon as its context ends
		// (an attempt that got its answer meanwhile), while the round
		// still completes, within half a probe, for the others.
		round = make(chan struct{})
		g.round = round
		term := g.term
		go func() {
			leader, claimed := c.probeRound(topic, group, term)
			p.mu.Lock()
			defer p.mu.Unlock()
			switch {
			case leader != "" && claimed >= term:
				g.leader, g.term = leader, claimed
			default:
				g.leader = "" // none, or a node of an older term (deposed, not knowing it)
			}
			g.at, g.round = time.Now(), nil
			close(round)
		}()
	}
	p.mu.Unlock()
	select {
	case <-round:
	case <-ctx.Done():
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return g.leader
}

// probeRound asks every node of group at once (the replicas of its topic's
// route when the client has one, else every seed), within half a leader
// probe, whether it leads, and returns the advertised address and term of
// the claimant of the highest term; it returns early on a claim of a term
// above known (the highest claimed so far), without waiting for a node
// that does not answer (the frozen leader). Only a node's word about
// itself counts: a follower's idea of who leads may be stale, and a node
// asked under another name (an address map, a seed spelled otherwise)
// answers with its advertised address.
func (c *Client) probeRound(topic, group string, known uint64) (leader string, term uint64) {
	var nodes []string
	if rt := c.routes.get(topic, math.MaxInt64, time.Now()); rt != nil && rt.byName[group] != nil {
		nodes = rt.byName[group].replicas
	}
	if len(nodes) == 0 {
		nodes = c.seeds
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.leaderProbe/2)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	claims := make(chan leaderClaim, len(nodes))
	for _, n := range nodes {
		wg.Go(func() {
			claims <- c.claim(ctx, n, group)
		})
	}
	for range nodes {
		cl := <-claims
		if !cl.ok {
			continue
		}
		if cl.term > term || leader == "" {
			leader, term = cl.addr, cl.term
		}
		if term > known {
			return leader, term
		}
	}
	return leader, term
}

// leaderClaim is a node's answer to "do you lead": its advertised address
// and term, ok if it leads.
type leaderClaim struct {
	addr string
	term uint64
	ok   bool
}

// claim asks the node at addr whether it leads group.
func (c *Client) claim(ctx context.Context, addr, group string) (cl leaderClaim) {
	b, err := c.conn(addr)
	if err != nil {
		return cl
	}
	resp, err := b.ClusterStatus(ctx, &pb.ClusterStatusRequest{LocalOnly: true})
	if err != nil || len(resp.GetNodes()) != 1 {
		return cl
	}
	st := resp.GetNodes()[0]
	if st.GetGroup() != group || st.GetRole() != "leader" {
		return cl
	}
	cl.addr, cl.term, cl.ok = st.GetGrpcAddr(), st.GetTerm(), true
	if cl.addr == "" {
		cl.addr = addr
	}
	return cl
}
