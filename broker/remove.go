package broker

import (
	"context"
	"fmt"
	"slices"

	"github.com/raftmq/raftmq/raftfsm"
)

// RemoveNode removes node id from the group's Raft configuration and
// reports whether it was there. It is the operator's tool for a node that
// is gone for good; nothing removes nodes on its own unless the daemon is
// told to (--dead-node-timeout). Leader only; removing the leader itself
// is refused (transfer leadership first).
func (b *Broker) RemoveNode(ctx context.Context, id string) (bool, error) {
	if id == "" {
		return false, fmt.Errorf("%w: node id is empty", ErrInvalidArgument)
	}
	if err := b.checkLeader(); err != nil {
		return false, err
	}
	if id == b.cfg.NodeID {
		return false, fmt.Errorf("%w: %s is the leader; transfer leadership first", ErrInvalidArgument, id)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	servers, err := b.rep.Servers()
	if err != nil {
		return false, b.writeErr(err)
	}
	if !slices.ContainsFunc(servers, func(p raftfsm.Peer) bool { return p.ID == id }) {
		return false, nil
	}
	if err := b.rep.RemoveServer(id); err != nil {
		return false, b.writeErr(err)
	}
	b.log.Warn("node removed from the group", "removed", id)
	return true, nil
}
