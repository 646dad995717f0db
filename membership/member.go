package membership

import (
	"cmp"
	"fmt"
	"slices"
)

// State is what this node believes about a member's liveness.
type State int

const (
	// StateAlive: the member answers probes (or its last alive message is
	// newer than any accusation).
	StateAlive State = iota
	// StateSuspect: a member that missed probes but is not yet declared
	// dead. memberlist v0.5.4 does not report suspicion through its public
	// API, so this package currently reports a suspected member as Alive
	// until memberlist declares it dead; callers treat Suspect as "not
	// Alive" so that they stay correct when it is reported.
	StateSuspect
	// StateDead: memberlist declared the member failed (missed probes and
	// the suspicion timeout expired) without it announcing a leave.
	StateDead
	// StateLeft: the member announced that it is leaving (Membership.Leave).
	StateLeft
)

// String returns "alive", "suspect", "dead" or "left".
func (s State) String() string {
	switch s {
	case StateAlive:
		return "alive"
	case StateSuspect:
		return "suspect"
	case StateDead:
		return "dead"
	case StateLeft:
		return "left"
	default:
		return fmt.Sprintf("state(%d)", int(s))
	}
}

// Member is one node of the cluster as seen through gossip. ID is the
// memberlist node name; the other identity fields travel as node metadata
// (see doc.go for the format).
type Member struct {
	// ID is the node's unique id; it is also its Raft server ID.
	ID string
	// Group is the broker group (Raft group) the node belongs to.
	Group string
	// GRPCAddr is the host:port clients and peers use for the gRPC API.
	GRPCAddr string
	// RaftAddr is the host:port of the node's Raft transport.
	RaftAddr string
	// Version is the node's software version, informational.
	Version string
	// GossipAddr is the host:port memberlist reaches the node on.
	GossipAddr string
	// HasRaftState reports whether the node had Raft state (a bootstrapped
	// or joined Raft configuration) when it last sent its metadata.
	HasRaftState bool
	// State is the member's liveness as seen by this node.
	State State
}

// sortMembers sorts ms by ID in place.
func sortMembers(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
}

// EventType says what happened to a member.
type EventType int

const (
	// EventJoin: a member became alive (first seen, or back after failing
	// or leaving). Member.State is StateAlive.
	EventJoin EventType = iota + 1
	// EventUpdate: an alive member changed its metadata (for example
	// HasRaftState flipped). Member.State is StateAlive.
	EventUpdate
	// EventLeave: a member announced that it is leaving or has left.
	// Member.State is StateLeft.
	EventLeave
	// EventFail: a member was declared dead without leaving. Member.State
	// is StateDead.
	EventFail
)

// String returns "join", "update", "leave" or "fail".
func (t EventType) String() string {
	switch t {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	case EventFail:
		return "fail"
	default:
		return fmt.Sprintf("event(%d)", int(t))
	}
}

// Event is one change of a member, delivered by Subscribe. Member is the
// member's full state after the change, so a handler can act on it alone
// (events are level-triggered: see Subscribe on coalescing).
type Event struct {
	Type   EventType
	Member Member
}
