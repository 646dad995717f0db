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
// # ProduceStream
//
// ProduceStream carries Produce requests on one long-lived bidirectional
// stream (internal/prodstream): each request runs through the Produce
// handler above, forwarding included, with its own timeout_ms as
// deadline, and gets one response with its id, its status code and
// message, and what would have been its trailers. A request costs one
// stream message each way instead of a call. The client library uses it
// and falls back to Produce on a broker that answers UNIMPLEMENTED.
//
// # Errors
//
// errors.go holds the one table that maps broker, raftfsm and store errors
// to gRPC codes (see the proto file's header for the contract).
package api
