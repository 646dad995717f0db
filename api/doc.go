// Package api serves the raftmq.v1.Broker gRPC service (defined in
// api/proto/raftmq/v1/broker.proto, generated into api/raftmqpb) over a
// broker.Broker, together with the standard gRPC health and reflection
// services.
//
// # Leader routing
//
// Writes (Produce, CommitOffsets, CreateTopic, DeleteTopic, clustering
// Heartbeat, LeaveGroup, TransferLeadership) that reach a follower are
// forwarded to the group leader over gRPC, with the caller's context, so
// deadlines and cancellation carry over. A forwarded call carries the
// ForwardedHeader metadata; a node that receives one and is not the leader
// does not forward again but answers FAILED_PRECONDITION with the leader's
// address in the LeaderTrailer ("raftmq-leader") response trailer, which
// the first node relays. A Produce refused before it reached Raft (no
// leader, bad input, unknown topic) also carries OutcomeTrailer
// ("raftmq-outcome: not-applied"): nothing of it was stored, so a client
// need not treat an UNAVAILABLE as an unknown outcome. Reads are served by
// any replica.
//
// # Errors
//
// errors.go holds the one table that maps broker, raftfsm and store errors
// to gRPC codes (see the proto file's header for the contract).
package api
