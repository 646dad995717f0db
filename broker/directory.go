package broker

import (
	"maps"
	"slices"
)

// Directory tells the broker where the nodes of the cluster are. Today it
// is static (NewStaticDirectory, from configuration); the gossip-based
// membership package will provide one that follows the cluster. Methods
// are called from request goroutines and must be safe for concurrent use.
type Directory interface {
	// GRPCAddr returns the advertised gRPC address of node id, or "" if
	// the node is unknown.
	GRPCAddr(nodeID string) string
	// Members returns the node ids of broker group group, sorted; nil if
	// the group is unknown.
	Members(group string) []string
}

// StaticDirectory is a Directory over a fixed map of one group's nodes.
type StaticDirectory struct {
	group string
	addrs map[string]string // node id -> gRPC address; never changed
}

var _ Directory = (*StaticDirectory)(nil)

// NewStaticDirectory returns a directory holding one group whose nodes are
// the keys of addrs (node id -> gRPC address). addrs is copied.
func NewStaticDirectory(group string, addrs map[string]string) *StaticDirectory {
	return &StaticDirectory{group: group, addrs: maps.Clone(addrs)}
}

// GRPCAddr implements Directory.
func (d *StaticDirectory) GRPCAddr(nodeID string) string { return d.addrs[nodeID] }

// Members implements Directory.
func (d *StaticDirectory) Members(group string) []string {
	if group != d.group {
		return nil
	}
	return slices.Sorted(maps.Keys(d.addrs))
}
