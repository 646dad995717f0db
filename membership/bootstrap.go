package membership

// BootstrapPeers decides whether node self should bootstrap a new Raft
// group for group with bootstrap-expect = expect, and with which voters.
// It is a pure function of the gossip view, so every founding node that
// sees the same members computes the same voter set.
//
// It returns the expect alive members of group with the smallest IDs, in ID
// order, when at least expect members of the group are alive and none of
// the group's members — alive, dead or left — reports HasRaftState;
// otherwise nil. ok is true only when voters is non-nil and self is among
// them: a node outside the voter set must not bootstrap (the leader adds it
// later). Members of other groups are ignored; expect <= 0 never
// bootstraps.
//
// Why this is safe: hashicorp/raft's BootstrapCluster is safe to call on
// several servers as long as they all pass the identical configuration.
// When exactly expect empty nodes are started for a new group, every one of
// them bootstraps only once it sees all of them alive, and then its view is
// exactly that set, so all pass the same voters. A member with Raft state
// means the group already exists; then nobody bootstraps and new nodes wait
// to be added as voters by the leader (see Reconciler).
//
// Limits, which operators must respect:
//   - Do not start more than expect empty founding nodes of a group at the
//     same time: two nodes that see different supersets (A,B,C vs B,C,D
//     before A is seen) would bootstrap two different configurations, a
//     split brain. Start expect nodes, let them bootstrap, then add more.
//   - HasRaftState is only seen once a node re-gossips it (Membership
//     .UpdateMeta after bootstrapping); it narrows the window for late
//     nodes but is not a lock.
//   - The decision only knows members this node has heard of. A node that
//     starts after the whole group died learns nothing about the dead
//     members, so if every node holding the group's state is down, starting
//     expect empty nodes under the same group name founds a NEW group with
//     none of the old data. Bring the old nodes back instead.
//   - A node that lost its disk must come back under a new ID; under its
//     old ID the group still counts it as a voter with a log it no longer
//     has.
func BootstrapPeers(members []Member, group string, expect int, self string) (voters []Member, ok bool) {
	if expect <= 0 {
		return nil, false
	}
	var alive []Member
	for _, m := range members {
		if m.Group != group {
			continue
		}
		if m.HasRaftState {
			return nil, false
		}
		if m.State == StateAlive {
			alive = append(alive, m)
		}
	}
	if len(alive) < expect {
		return nil, false
	}
	sortMembers(alive)
	voters = alive[:expect:expect]
	for _, v := range voters {
		if v.ID == self {
			return voters, true
		}
	}
	return voters, false
}
