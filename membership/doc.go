// Package membership is raftmq's gossip layer: it tells every node which
// nodes exist, which broker group (Raft group) each belongs to, where to
// reach it (gRPC and Raft addresses) and whether it is alive, using
// hashicorp/memberlist (SWIM). It replaces static peer lists: a node is
// started with a few seed gossip addresses (Config.Join) and finds the rest.
//
// It knows nothing of Raft, the store or the broker. The daemon wires it:
//
//	m, _ := membership.New(cfg)            // cfg.HasRaftState reads the raft dir
//	events, cancel := m.Subscribe()
//	// founding: wait until BootstrapPeers(m.Members(), group, expect, id)
//	// says ok, BootstrapCluster with the voters, then m.UpdateMeta().
//	// leader: on every event (and on a timer), Reconciler.Plan(m.Members(),
//	// raftServers) and AddVoter each Plan.Add entry.
//	// shutdown: m.Leave(timeout); m.Close()
//
// # Identity and metadata
//
// A node's ID is its memberlist node name and its Raft server ID. The other
// identity fields travel as memberlist node metadata, compact JSON (format;
// the keys must not change without bumping "v"):
//
//	+-----+--------+----------+---------------------------------------------+
//	| key | type   | required | meaning                                     |
//	+-----+--------+----------+---------------------------------------------+
//	| v   | number | yes      | format version, 1                           |
//	| g   | string | yes      | group                                       |
//	| a   | string | yes      | gRPC host:port                              |
//	| r   | string | yes      | Raft host:port                              |
//	| ver | string | no       | software version                            |
//	| s   | bool   | no       | has Raft state (omitted when false)         |
//	| l   | bool   | no       | leaving (omitted when false)                |
//	+-----+--------+----------+---------------------------------------------+
//
// Example: {"v":1,"g":"g1","a":"10.0.0.1:9876","r":"10.0.0.1:9877","s":true}.
// New optional keys may be added without a version bump (decoders ignore
// unknown keys); a node whose metadata has another version, or is not
// raftmq metadata, is logged and left out of Members. memberlist caps
// metadata at 512 bytes; Config.Validate sizes the largest metadata the
// config can produce (every flag set) and rejects it if it would not fit.
//
// # States and events
//
// memberlist v0.5.4 reports joins, metadata updates and departures, but
// neither suspicion nor whether a departure was a leave or a failure. So
// Leave, before memberlist's own leave broadcast, re-gossips the metadata
// with the leaving flag and sends a leave intent straight to every alive
// peer as a memberlist user message over TCP (format, compact JSON:
// {"v":1,"t":"leave","id":"<node id>"}). A member that announced either is
// Left; one that disappears without them is Dead. A member is reported
// Alive while memberlist suspects it (StateSuspect is never produced with
// v0.5.4). Dead and left members stay in Members for Config.ReapAfter.
//
// Subscribe never blocks memberlist: each subscriber has a pump goroutine
// and a pending set holding at most one event per member, so a slow
// subscriber gets coalesced, level-triggered events rather than dropped
// ones, and memory stays bounded by the number of members.
//
// # Joining
//
// New starts a join loop when Config.Join is set: Join on all seeds, with
// exponential backoff and jitter between Config.JoinRetryMin and
// JoinRetryMax, until this node sees another alive member. Afterwards it
// checks every JoinRetryMax and joins again if the node has become alone,
// so a cluster restarted at once, or a healed partition, comes back
// together. The seed list may contain the node's own address.
//
// # Bootstrap-expect and voters
//
// BootstrapPeers is the bootstrap-expect rule as a pure function (its doc
// gives the safety argument and its limits). Reconciler computes, for the
// group leader, which alive members to add as voters; it never removes a
// server: missing ones are reported with how long they have been missing so
// that an operator, or an opt-in timeout in the caller, decides.
//
// # Security
//
// Config.SecretKey turns on memberlist's AES-GCM gossip encryption; nodes
// without the same key cannot join or read the gossip. Without a key
// anyone who reaches the gossip port can join and claim any identity, so
// run without one only on a trusted network.
package membership
