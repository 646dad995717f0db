package membership

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Server is one entry of a Raft configuration as the caller reads it from
// Raft (raft.Server's ID and Address as strings).
type Server struct {
	ID      string
	Address string
}

// Missing is a server of the Raft configuration that gossip does not show
// alive. It is reported, never removed by the Reconciler.
type Missing struct {
	Server
	// Known is true when membership knows the member (then State says how
	// it went); false when gossip has never seen it (for example this node
	// started after it died).
	Known bool
	// State is the member's state when Known (Dead, Left or Suspect), and
	// StateDead when not: a server gossip has no record of counts as dead.
	State State
	// For is how long this Reconciler has seen the server missing.
	For time.Duration
}

// Plan is what the group leader should do to match the Raft configuration
// to the gossip view.
type Plan struct {
	// Add lists voters to add, sorted by ID: alive members of the group
	// that are not in the configuration, and members in it whose Raft
	// address changed (hashicorp/raft's AddVoter with an existing ID
	// updates the address).
	Add []Server
	// Missing lists configuration servers with no alive member, sorted by
	// ID. Removing them is an operator's decision or an opt-in timeout the
	// caller implements with Missing.For or DeadFor.
	Missing []Missing
	// Conflicts lists alive members that cannot be added because another
	// server ID in the configuration already uses their Raft address (a node
	// that came back under a new ID); an operator must remove the old ID.
	Conflicts []Member
}

// Reconciler computes Plans for one group and remembers since when each
// configuration server has been missing. It does no I/O and never talks to
// Raft; the leader calls Plan with Membership.Members() (or Alive) and its
// current configuration, applies Add with AddVoter, and decides on
// removals itself. Safe for concurrent use.
//
// The missing-since times live in memory: a new leader (or a restart)
// starts counting again, which delays an automatic removal but never
// hastens one.
type Reconciler struct {
	group string
	now   func() time.Time

	mu sync.Mutex // guards missingSince
	// missingSince maps a configuration server ID to when Plan first saw
	// it without an alive member.
	missingSince map[string]time.Time
}

// NewReconciler returns a Reconciler for group. now is the clock (nil
// means time.Now).
func NewReconciler(group string, now func() time.Time) *Reconciler {
	if now == nil {
		now = time.Now
	}
	return &Reconciler{group: group, now: now, missingSince: make(map[string]time.Time)}
}

// Plan compares members (any groups, any states: only alive members of the
// Reconciler's group with a Raft address are considered for adding) with
// the current Raft configuration servers. It never proposes a removal.
func (r *Reconciler) Plan(members []Member, servers []Server) Plan {
	byID := make(map[string]Member)
	alive := make(map[string]Member)
	for _, m := range members {
		if m.Group != r.group {
			continue
		}
		byID[m.ID] = m
		if m.State == StateAlive && m.RaftAddr != "" {
			alive[m.ID] = m
		}
	}
	inConfig := make(map[string]string, len(servers))
	addrOwner := make(map[string]string, len(servers))
	for _, s := range servers {
		inConfig[s.ID] = s.Address
		addrOwner[s.Address] = s.ID
	}
	var p Plan
	for id, m := range alive {
		addr, ok := inConfig[id]
		if ok && addr == m.RaftAddr {
			continue
		}
		if owner, taken := addrOwner[m.RaftAddr]; taken && owner != id {
			p.Conflicts = append(p.Conflicts, m)
			continue
		}
		p.Add = append(p.Add, Server{ID: id, Address: m.RaftAddr})
	}
	p.Missing = r.trackMissing(servers, alive, byID)
	slices.SortFunc(p.Add, func(a, b Server) int { return cmp.Compare(a.ID, b.ID) })
	sortMembers(p.Conflicts)
	return p
}

// trackMissing updates missingSince from one view and returns the missing
// servers sorted by ID.
func (r *Reconciler) trackMissing(servers []Server, alive, byID map[string]Member) []Missing {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]bool, len(servers))
	var out []Missing
	for _, s := range servers {
		seen[s.ID] = true
		if _, ok := alive[s.ID]; ok {
			delete(r.missingSince, s.ID)
			continue
		}
		since, ok := r.missingSince[s.ID]
		if !ok {
			since = now
			r.missingSince[s.ID] = now
		}
		st := StateDead
		m, known := byID[s.ID]
		if known {
			st = m.State
		}
		out = append(out, Missing{Server: s, Known: known, State: st, For: now.Sub(since)})
	}
	for id := range r.missingSince {
		if !seen[id] {
			delete(r.missingSince, id)
		}
	}
	slices.SortFunc(out, func(a, b Missing) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// DeadFor returns how long the configuration server id has been missing
// (no alive member) as of the latest Plan, measured from the first Plan
// that saw it missing; 0 when it was alive or not in the configuration at
// the latest Plan, or never planned.
func (r *Reconciler) DeadFor(id string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	since, ok := r.missingSince[id]
	if !ok {
		return 0
	}
	return r.now().Sub(since)
}
