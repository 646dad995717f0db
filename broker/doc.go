// Package broker is one raftmq node's message service: topics and queue
// selection, the produce path with group commit into Raft, the consume
// path (long-polling fetch, consumer groups, offsets), queries and leader
// routing. It sits on a Replicator (*raftfsm.Node in production) and knows
// nothing of gRPC: the api package adapts it to the wire.
//
// # Writes and the leader
//
// Produce, CommitOffsets, CreateTopic, DeleteTopic, Heartbeat (clustering
// mode), LeaveGroup and TransferLeadership need the group's Raft leader.
// On a follower they fail with a *NotLeaderError (errors.Is ErrNotLeader)
// carrying the leader's gRPC address, looked up in the Directory; the API
// layer forwards the call there, one hop. With no leader known they fail
// with ErrNoLeader.
//
// # Group commit
//
// A batcher goroutine per kind (produce, offset commits) takes the first
// waiting request plus every request that queued while the previous Raft
// apply was in flight, bounded by Config.MaxBatchMessages and
// MaxBatchBytes, and submits them as ONE Replicator call (one Raft entry).
// Each caller gets its own results. A request is never split across
// entries, so it is applied wholly or not at all; a request larger than
// one entry is refused with ErrRequestTooLarge. Messages are validated
// (store.ValidateMessage) before batching: bad input never reaches Raft.
//
// # Reads
//
// Fetch, DescribeTopic, ListTopics, GetOffsets, GroupLag, GetMessage and
// QueryByKey are served by any replica from its applied state: a replica
// holds only committed entries. Fetch long-polls: it waits on
// Replicator.Applied (closed at the next FSM apply) and re-reads; there is
// no polling loop. A follower that has not yet applied an offset a
// consumer asks for waits for it rather than reporting it as beyond the
// end.
//
// # Consumer groups
//
// Clustering-mode membership lives in memory on the group leader only;
// members heartbeat there and re-register after a failover. Queues are
// assigned with RocketMQ's "averagely" strategy over the sorted members
// subscribed to each topic and the topic's sorted queues; the generation
// increases on every change of the inputs and embeds the Raft term, so it
// also increases across failovers. For a queue without a committed
// offset the start position (earliest, latest, timestamp) is computed and
// committed through Raft at assignment time, so a failover does not move
// it. A reaper goroutine drops members whose session timed out.
// Broadcasting mode keeps no server state.
//
// # Several broker groups
//
// A cluster may hold several broker groups (Directory.Groups). A topic is
// spread over them: each group holds its own part, Queues queues with ids
// [FirstQueue, FirstQueue+Queues) recorded in its Raft-replicated topic
// table, and the parts' id ranges are disjoint, so a queue id names one
// queue of one group cluster-wide and clients need no (group, queue)
// pairs. Parts are placed by one node only, the leader of the placement
// group (the lowest-named group; any node hands creations over to it),
// one creation at a time, from every group's leader's state: so two
// creators, or a lagging replica's "not found", never hand out the same
// ids twice. On a new topic group i of the sorted target groups gets
// [i*Queues, (i+1)*Queues); groups added to an existing topic get the
// next free ids. Nothing is placed unless every group answered, and a
// group is never forgotten while the process runs (the directory keeps
// groups whose nodes all stopped), since a part must never overlap one
// that could not be seen. Auto-creation does the same over all groups,
// and never extends a topic that some group already holds. Topic
// creation therefore needs the placement group's leader; produce and
// consume of existing topics do not. Every node must run this version
// before a topic is spread over several groups: older nodes cannot
// decode a part whose first queue id is not 0.
//
// Cross-group calls go through Peers, which the api package implements
// over gRPC with local_only requests (a node answers for its own group
// only). DescribeTopic, ListTopics and DeleteTopic are cluster-wide and
// any node answers them; a group that cannot be reached is left out of a
// route, which is then marked incomplete (clients route around the group
// but refuse to hash sharding keys over fewer queues). A produce or fetch for a queue of
// another group is refused with ErrTopicNotFound, which makes a client
// with a stale route refresh it.
//
// Consumer groups: each group's leader assigns its own part of a topic
// among all members subscribed to it (members heartbeat every group of
// their topics' routes with the topics that group holds; a topic held
// only elsewhere is skipped), with the member order rotated by the part's
// position so the extra queues of uneven splits fall on different
// members. Offsets live in the group that holds the queue.
//
// # Lifecycle
//
// New starts the goroutines (two batchers, the reaper, the apply and disk
// watchdogs); Close stops them, wakes long polls, then closes the
// Replicator, which hands leadership to another voter first.
//
// # Apply watchdog
//
// A leader whose store disk stalls keeps its heartbeats (they do not go
// through the disk), so no election deposes it, yet every produce waits
// for its FSM. While this node leads, the watchdog polls Status every
// ApplyStallTimeout/4; when the FSM has been inside one apply of
// committed entries for ApplyStallTimeout (default 2s), it transfers the
// leadership to another voter. The chaos test TestChaosDiskStallLeader
// (cmd/raftmq) exercises it.
//
// # Disk watchdog
//
// A leader whose store disk is used above the store's hard limit refuses
// every produce with store.ErrDiskFull (RESOURCE_EXHAUSTED), while a
// follower's disk may have room (disks of different sizes, or other data
// on one). Every DiskFullCheck (default 1s) every node checks its disk,
// so that its status (NodeStatus.DiskFull and DiskUsed, which status
// reports read without touching the disk) is fresh, and a leader whose
// disk is full asks the other voters for theirs (Peers.NodeStatus) and
// transfers the leadership to a working follower of its term with room,
// the least used disk first, then the most applied; a target whose
// transfer failed is passed over once. With none it stays and keeps
// refusing, and logs why once. Its replica keeps applying what is
// committed (followers never refuse a committed entry).
// TestDiskWatchdog, TestFullLeaderHandsOver (api) and the chaos test
// TestChaosDiskFullLeader exercise it.
package broker
