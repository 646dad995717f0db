// Package fakebroker is an in-memory test double of the raftmq Broker gRPC
// service, for client tests. It is not a broker: no Raft, no disk, no
// retention.
//
// A Broker holds the shared state of a fake cluster (topics, queues,
// consumer groups, committed offsets) and implements raftmqpb.BrokerServer.
// A Server is one fake node: a real gRPC server on 127.0.0.1:0 serving a
// Broker as a member of one broker group. Several Servers may share one
// Broker (the nodes of one cluster). A Server can be told to act as a
// follower (answer writes with FAILED_PRECONDITION and the "raftmq-leader"
// trailer) and to fail chosen calls with chosen codes, before or after the
// call takes effect; it counts the calls it received.
//
// Model:
//   - Broker groups are configured with SetGroup; a topic with N queues per
//     group has N*len(groups) queues, group i owning queue ids
//     [i*N, (i+1)*N). DescribeTopic advertises each group's configured
//     leader and replicas.
//   - Produce picks the queue like a leader: has_queue_id, else the FNV-1a
//     hash of sharding_key over the node's group's queues, else round robin
//     over them. Message ids are "<group>:<16 hex digits>" of a fake
//     CommitLog offset.
//   - Fetch long-polls: with no new message it waits up to max_wait_ms for
//     any append (or the call's end).
//   - Heartbeat: members of a consumer group expire after their session
//     timeout; each topic's queues are dealt round robin to the members
//     subscribed to it, sorted by member id. A queue without a committed
//     offset starts at the requested start position, committed at
//     assignment.
package fakebroker
