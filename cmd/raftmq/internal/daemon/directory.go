package daemon

import (
	"maps"
	"slices"

	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/membership"
)

// gossipDirectory is the broker's Directory over gossip: every member
// membership knows, alive or not (a dead member keeps its last known
// addresses, so cluster status reports it unreachable), then the static
// --peers map for nodes gossip has not seen. Left members are not listed
// by Members (they announced they are gone) but keep their address; the
// broker adds the Raft configuration's servers itself.
type gossipDirectory struct {
	m      *membership.Membership
	group  string
	static map[string]string // node id -> gRPC address of --peers; never changed
}

var _ broker.Directory = (*gossipDirectory)(nil)

// GRPCAddr implements broker.Directory.
func (d *gossipDirectory) GRPCAddr(nodeID string) string {
	for _, mb := range d.m.Members() {
		if mb.ID == nodeID {
			return mb.GRPCAddr
		}
	}
	return d.static[nodeID]
}

// Members implements broker.Directory.
func (d *gossipDirectory) Members(group string) []string {
	var ids []string
	for _, mb := range d.m.Members() {
		if mb.Group == group && mb.State != membership.StateLeft {
			ids = append(ids, mb.ID)
		}
	}
	if group == d.group {
		ids = append(ids, slices.Collect(maps.Keys(d.static))...)
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Groups implements broker.Directory: this node's group and every group a
// member that has not left announces.
func (d *gossipDirectory) Groups() []string {
	gs := []string{d.group}
	for _, mb := range d.m.Members() {
		if mb.State != membership.StateLeft {
			gs = append(gs, mb.Group)
		}
	}
	slices.Sort(gs)
	return slices.Compact(gs)
}
