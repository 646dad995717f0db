package testcluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/raftmq/raftmq/api/raftmqpb"
)

// Poll settings of the waits.
const (
	pollInterval  = 20 * time.Millisecond
	statusTimeout = time.Second // one ClusterStatus call
)

// Status returns node i's own view of itself (ClusterStatus with
// local_only), each call bounded by 1s.
func (c *Cluster) Status(ctx context.Context, i int) (*raftmqpb.NodeStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	resp, err := c.nodes[i].client.ClusterStatus(ctx, &raftmqpb.ClusterStatusRequest{LocalOnly: true})
	if err != nil {
		return nil, err
	}
	if len(resp.GetNodes()) != 1 {
		return nil, fmt.Errorf("%s: %d statuses for a local-only ClusterStatus", c.nodes[i].id, len(resp.GetNodes()))
	}
	return resp.GetNodes()[0], nil
}

// live reports whether node i can answer: running and not paused.
func (c *Cluster) live(i int) bool { return c.Running(i) && !c.nodes[i].paused }

// FindLeader asks every live node for its status once and returns the
// leader: the node reporting role "leader" with the highest term, when a
// majority of the group reports that term and none a higher one.
// Otherwise it returns -1 and a description of what it saw.
func (c *Cluster) FindLeader(ctx context.Context) (int, string) {
	leader, term := -1, uint64(0)
	terms := make([]uint64, len(c.nodes))
	var seen []string
	for i := range c.nodes {
		if !c.live(i) {
			seen = append(seen, c.nodes[i].id+": down")
			continue
		}
		st, err := c.Status(ctx, i)
		if err != nil {
			seen = append(seen, fmt.Sprintf("%s: %v", c.nodes[i].id, err))
			continue
		}
		terms[i] = st.GetTerm()
		seen = append(seen, fmt.Sprintf("%s: %s term %d end %d", c.nodes[i].id, st.GetRole(), st.GetTerm(), st.GetCommitlogEnd()))
		if st.GetRole() == "leader" && st.GetTerm() >= term {
			leader, term = i, st.GetTerm()
		}
	}
	agree := 0
	for _, tm := range terms {
		if tm > term {
			return -1, strings.Join(seen, "; ")
		}
		if tm == term {
			agree++
		}
	}
	if leader < 0 || agree < len(c.nodes)/2+1 {
		return -1, strings.Join(seen, "; ")
	}
	return leader, strings.Join(seen, "; ")
}

// Leader waits until FindLeader finds a leader and returns its index; it
// fails the test when ctx ends first.
func (c *Cluster) Leader(ctx context.Context) int {
	c.t.Helper()
	var last string
	err := poll(ctx, func() bool {
		var i int
		i, last = c.FindLeader(ctx)
		return i >= 0
	})
	if err != nil {
		c.t.Fatalf("testcluster: no leader: %v; last seen: %s", err, last)
	}
	i, _ := c.FindLeader(ctx)
	return i
}

// WaitHealthy waits (up to Options.StartTimeout) until node i answers
// ClusterStatus as a leader or follower.
func (c *Cluster) WaitHealthy(i int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.StartTimeout)
	defer cancel()
	c.waitHealthy(ctx, i)
}

func (c *Cluster) waitHealthy(ctx context.Context, i int) {
	c.t.Helper()
	var last string
	err := poll(ctx, func() bool {
		if !c.Running(i) {
			last = fmt.Sprintf("process exited: %v", c.nodes[i].proc.err)
			return false
		}
		st, err := c.Status(ctx, i)
		if err != nil {
			last = err.Error()
			return false
		}
		last = "role " + st.GetRole()
		return st.GetRole() == "leader" || st.GetRole() == "follower"
	})
	if err != nil {
		c.t.Fatalf("testcluster: %s not healthy: %v; last: %s", c.nodes[i].id, err, last)
	}
}

// WaitCaughtUp waits until node i has caught up with the leader: its
// CommitLog end, read after the leader's, is at least the leader's. Under
// a steady write load the two are rarely equal at one instant, so this is
// "node i reached where the leader was"; once writes stop it means equal.
func (c *Cluster) WaitCaughtUp(ctx context.Context, i int) {
	c.t.Helper()
	var last string
	err := poll(ctx, func() bool {
		l, seen := c.FindLeader(ctx)
		if l < 0 {
			last = "no leader: " + seen
			return false
		}
		ls, err := c.Status(ctx, l)
		if err != nil {
			last = err.Error()
			return false
		}
		ns, err := c.Status(ctx, i)
		if err != nil {
			last = err.Error()
			return false
		}
		last = fmt.Sprintf("leader %s end %d, %s end %d", c.nodes[l].id, ls.GetCommitlogEnd(), c.nodes[i].id, ns.GetCommitlogEnd())
		return ns.GetCommitlogEnd() >= ls.GetCommitlogEnd()
	})
	if err != nil {
		c.t.Fatalf("testcluster: %s did not catch up: %v; last: %s", c.nodes[i].id, err, last)
	}
}

// WaitConverged waits until every node runs, answers, and reports the
// same applied index and CommitLog end (use it once writes stopped).
func (c *Cluster) WaitConverged(ctx context.Context) {
	c.t.Helper()
	var last string
	err := poll(ctx, func() bool {
		var sts []*raftmqpb.NodeStatus
		var desc []string
		for i := range c.nodes {
			if !c.live(i) {
				last = c.nodes[i].id + " is down or paused"
				return false
			}
			st, err := c.Status(ctx, i)
			if err != nil {
				last = err.Error()
				return false
			}
			sts = append(sts, st)
			desc = append(desc, fmt.Sprintf("%s: %s applied %d end %d", st.GetNodeId(), st.GetRole(), st.GetAppliedIndex(), st.GetCommitlogEnd()))
		}
		last = strings.Join(desc, "; ")
		for _, st := range sts[1:] {
			if st.GetAppliedIndex() != sts[0].GetAppliedIndex() || st.GetCommitlogEnd() != sts[0].GetCommitlogEnd() {
				return false
			}
		}
		return true
	})
	if err != nil {
		c.t.Fatalf("testcluster: nodes did not converge: %v; last: %s", err, last)
	}
}

// poll calls cond every pollInterval until it holds (nil) or ctx ends
// (ctx's error).
func poll(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
