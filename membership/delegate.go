package membership

import (
	"github.com/hashicorp/memberlist"
)

// delegate receives memberlist's callbacks. memberlist calls the Notify*
// methods with its node lock held, from its packet and timer goroutines, in
// the order it changes its node table; they must not call back into
// memberlist and must not block.
type delegate struct {
	m *Membership
}

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*delegate)(nil)
)

// NodeMeta returns this node's metadata. memberlist calls it when it
// builds an alive message (at start, UpdateMeta, Leave, refutations).
func (d *delegate) NodeMeta(limit int) []byte {
	m := d.m
	b, err := encodeMeta(m.cfg.meta(m.hasRaftState(), m.leaving.Load()))
	if err != nil || len(b) > limit {
		// Validate rules this out (it sizes the largest possible metadata);
		// sending none keeps memberlist from panicking.
		m.log.Error("node metadata does not fit", "bytes", len(b), "limit", limit, "err", err)
		return nil
	}
	return b
}

// NotifyMsg receives user messages: the leave intent a leaving peer sends
// directly (see Leave). memberlist may reuse buf after the call; it is
// decoded before returning.
func (d *delegate) NotifyMsg(buf []byte) { d.m.observeIntent(buf) }

// GetBroadcasts returns nothing: raftmq gossips no user broadcasts (node
// identity travels as metadata, leave intents as direct messages).
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState returns nothing: push/pull carries node metadata only.
func (d *delegate) LocalState(join bool) []byte { return nil }

// MergeRemoteState ignores remote user state: LocalState sends none.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {}

// NotifyJoin records a node that became alive.
func (d *delegate) NotifyJoin(n *memberlist.Node) { d.m.observe(n, false) }

// NotifyUpdate records a node's new metadata.
func (d *delegate) NotifyUpdate(n *memberlist.Node) { d.m.observe(n, false) }

// NotifyLeave records a node that left or was declared dead.
func (d *delegate) NotifyLeave(n *memberlist.Node) { d.m.observe(n, true) }

// observe folds one memberlist notification into the member table and
// publishes the resulting event, if any. gone is true for NotifyLeave.
//
// memberlist's Node.State is not maintained in v0.5.4 and its leave
// notification is the same for a graceful leave and a failure, so Left is
// told apart by what Leave sends before memberlist's leave message: the
// leaving flag in the node's metadata (gossiped) and a leave intent sent
// directly to every alive peer (observeIntent). A member already Left, or
// whose last metadata says leaving, is Left when it goes; any other is
// Dead. A peer that got neither (unreachable while the node left) records
// the leave as Dead; both mean "not alive" to every caller.
func (m *Membership) observe(n *memberlist.Node, gone bool) {
	meta, err := decodeMeta(n.Meta)
	if err != nil {
		m.log.Warn("ignoring gossip node", "id", n.Name, "gossip", n.Address(), "err", err)
		return
	}
	mem := Member{
		ID:           n.Name,
		Group:        meta.Group,
		GRPCAddr:     meta.GRPCAddr,
		RaftAddr:     meta.RaftAddr,
		Version:      meta.Version,
		GossipAddr:   n.Address(),
		HasRaftState: meta.HasRaftState,
		State:        StateAlive,
	}
	m.mu.Lock()
	r, known := m.members[mem.ID]
	prev := StateDead
	if known {
		prev = r.member.State
	}
	switch {
	case meta.Leaving || (gone && prev == StateLeft):
		mem.State = StateLeft
	case gone:
		mem.State = StateDead
	}
	since := m.now()
	if known && prev == mem.State {
		since = r.since
	}
	m.members[mem.ID] = &record{member: mem, since: since}
	typ, publish := eventFor(known, prev, mem.State)
	m.mu.Unlock()
	if publish {
		m.log.Debug("member "+typ.String(), "id", mem.ID, "group", mem.Group, "gossip", mem.GossipAddr)
		m.hub.publish(Event{Type: typ, Member: mem})
	}
}

// eventFor maps a member's state transition to the event to publish.
func eventFor(known bool, prev, next State) (EventType, bool) {
	switch next {
	case StateAlive:
		if known && prev == StateAlive {
			return EventUpdate, true
		}
		return EventJoin, true
	case StateLeft:
		return EventLeave, !known || prev != StateLeft
	case StateDead:
		return EventFail, !known || prev != StateDead
	default:
		return 0, false
	}
}
