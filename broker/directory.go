package broker

import (
	"maps"
	"slices"
)

// Directory tells the broker where the nodes of the cluster are: every
// broker group, its members and their gRPC addresses. The static one
// comes from configuration; the daemon's gossip-based one follows the
// cluster. Methods are called from request goroutines and must be safe for
// concurrent use.
type Directory interface {
	// GRPCAddr returns the advertised gRPC address of node id, or "" if
	// the node is unknown.
	GRPCAddr(nodeID string) string
	// Members returns the node ids of broker group group, sorted; nil if
	// the group is unknown.
	Members(group string) []string
	// Groups returns the names of every known broker group, sorted.
	Groups() []string
}

// StaticDirectory is a Directory over a fixed map of groups and nodes.
type StaticDirectory struct {
	groups map[string]map[string]string // group -> node id -> gRPC address; never changed
}

var _ Directory = (*StaticDirectory)(nil)

// NewStaticDirectory returns a directory holding one group whose nodes are
// the keys of addrs (node id -> gRPC address). addrs is copied.
func NewStaticDirectory(group string, addrs map[string]string) *StaticDirectory {
	return NewStaticGroups(map[string]map[string]string{group: addrs})
}

// NewStaticGroups returns a directory of several groups: group -> node id
// -> gRPC address. The maps are copied.
func NewStaticGroups(groups map[string]map[string]string) *StaticDirectory {
	d := &StaticDirectory{groups: make(map[string]map[string]string, len(groups))}
	for g, addrs := range groups {
		d.groups[g] = maps.Clone(addrs)
	}
	return d
}

// GRPCAddr implements Directory.
func (d *StaticDirectory) GRPCAddr(nodeID string) string {
	for _, addrs := range d.groups {
		if a, ok := addrs[nodeID]; ok {
			return a
		}
	}
	return ""
}

// Members implements Directory.
func (d *StaticDirectory) Members(group string) []string {
	addrs, ok := d.groups[group]
	if !ok {
		return nil
	}
	return slices.Sorted(maps.Keys(addrs))
}

// Groups implements Directory.
func (d *StaticDirectory) Groups() []string { return slices.Sorted(maps.Keys(d.groups)) }
