package daemon

import (
	"maps"
	"slices"
	"sync"

	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/membership"
)

// gossipDirectory is the broker's Directory over gossip: every member
// membership knows, alive or not (a dead member keeps its last known
// addresses, so cluster status reports it unreachable), then the static
// --peers map for nodes gossip has not seen. Left members of this node's
// group are not listed by Members (they announced they are gone; the
// broker adds the Raft configuration's servers itself).
//
// Members of other groups are remembered for the life of the process,
// whatever their state and even after memberlist forgets them: a group
// whose nodes were all stopped must stay known, so that topic placement
// and deletion fail as unavailable instead of ignoring the group's parts
// (its queue ids would be handed out again).
type gossipDirectory struct {
	m      *membership.Membership
	group  string
	static map[string]string // node id -> gRPC address of --peers; never changed

	mu   sync.Mutex                   // guards seen
	seen map[string]map[string]string // other group -> node id -> last gRPC address
}

var _ broker.Directory = (*gossipDirectory)(nil)

func newGossipDirectory(m *membership.Membership, group string, static map[string]string) *gossipDirectory {
	return &gossipDirectory{m: m, group: group, static: static, seen: make(map[string]map[string]string)}
}

// remember folds the current members of other groups into seen and
// returns the current members.
func (d *gossipDirectory) remember() []membership.Member {
	ms := d.m.Members()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, mb := range ms {
		if mb.Group == d.group || mb.Group == "" {
			continue
		}
		g := d.seen[mb.Group]
		if g == nil {
			g = make(map[string]string)
			d.seen[mb.Group] = g
		}
		if mb.GRPCAddr != "" || g[mb.ID] == "" {
			g[mb.ID] = mb.GRPCAddr
		}
	}
	return ms
}

// GRPCAddr implements broker.Directory.
func (d *gossipDirectory) GRPCAddr(nodeID string) string {
	for _, mb := range d.remember() {
		if mb.ID == nodeID {
			return mb.GRPCAddr
		}
	}
	d.mu.Lock()
	for _, g := range d.seen {
		if a, ok := g[nodeID]; ok {
			d.mu.Unlock()
			return a
		}
	}
	d.mu.Unlock()
	return d.static[nodeID]
}

// Members implements broker.Directory.
func (d *gossipDirectory) Members(group string) []string {
	ms := d.remember()
	if group != d.group {
		d.mu.Lock()
		defer d.mu.Unlock()
		if len(d.seen[group]) == 0 {
			return nil
		}
		return slices.Sorted(maps.Keys(d.seen[group]))
	}
	var ids []string
	for _, mb := range ms {
		if mb.Group == group && mb.State != membership.StateLeft {
			ids = append(ids, mb.ID)
		}
	}
	ids = append(ids, slices.Collect(maps.Keys(d.static))...)
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Groups implements broker.Directory: this node's group and every other
// group ever seen.
func (d *gossipDirectory) Groups() []string {
	d.remember()
	d.mu.Lock()
	defer d.mu.Unlock()
	gs := append([]string{d.group}, slices.Collect(maps.Keys(d.seen))...)
	slices.Sort(gs)
	return slices.Compact(gs)
}
