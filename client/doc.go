// Package client is the Go client of raftmq: a Producer, a Consumer and
// admin calls over the raftmq.v1 Broker gRPC protocol.
//
// # Dependencies
//
// The package depends only on the generated protocol code
// (github.com/raftmq/raftmq/api/raftmqpb), google.golang.org/grpc and the
// standard library. It imports no server package (broker, raftfsm, store),
// so applications that embed it do not build the broker. The test double
// in client/internal/fakebroker serves the same protocol in memory for
// this package's tests.
//
// # Connections and routes
//
// Dial takes seed addresses of any nodes. One grpc.ClientConn per node
// address is created on first use and cached until Client.Close
// (insecure by default; WithTransportCredentials for TLS). A topic's route
// (queue -> broker group -> leader and replicas, from DescribeTopic) is
// cached per topic for WithRouteTTL and dropped on NOT_FOUND, UNAVAILABLE
// or FAILED_PRECONDITION. Calls without a route (admin calls, route
// lookups) go to the seed that answered last, moving to the next seed when
// one is unavailable. Writes go to the group leader; Fetch goes to the
// leader, or to a replica when the group has no leader.
//
// Queue ids are taken to be unique within a topic across broker groups, so
// a topic's total queue count is the number of routes DescribeTopic
// returns.
//
// # Retries and errors
//
// UNAVAILABLE and FAILED_PRECONDITION are retried with exponential backoff
// and jitter (WithBackoff) up to WithMaxRetries retries and the earlier of
// the caller's deadline and WithRetryTimeout. A FAILED_PRECONDITION that
// names the leader in the "raftmq-leader" trailer is retried at once at
// that address, and the cached route learns the new leader. A NOT_FOUND on
// a routed call is retried once after refreshing the route. DATA_LOSS
// means the replica asked holds a damaged copy (it never serves it and
// repairs itself from the others): the call is retried at once at another
// replica of the group (a call without a route at the next seed).
//
// Produce is idempotent: a Producer has a random 64-bit id and numbers
// its requests (one sequence per Send or SendAsync batch, in order); every
// attempt of a request carries the same id and sequence, and the broker
// group stores a request at most once, answering a retry with the first
// attempt's message ids and offsets, also after a failover to another
// replica. So DEADLINE_EXCEEDED on Produce (from the broker or the
// per-attempt timeout) and UNAVAILABLE are retried within the retry
// budget; only when the budget ends (or the caller's context is canceled
// while a Produce is in flight) after an attempt whose outcome was unknown
// does Send fail with ErrUnknownOutcome (still matching the last
// attempt's own sentinel, e.g. ErrUnavailable): the messages may have
// been stored, once. An attempt the broker refused before Raft (it says so
// in the "raftmq-outcome: not-applied" trailer, e.g. while the group has
// no leader) stored nothing and does not make the outcome unknown. An
// unrouted Send (no route for the topic yet) retries at the seed node that
// may have stored it, since another seed may be in another broker group.
//
// A leader that stops answering without closing its connections (paused,
// cut off from its group) would hold a Produce, and a consumer's Fetch,
// Heartbeat, CommitOffsets or LeaveGroup, for the whole per-attempt
// timeout, long after the group elected another leader. So once an
// attempt at a group's leader is unanswered for WithLeaderProbe (default
// 1s; for a Fetch, that long beyond its long-poll wait, so a healthy idle
// long poll causes no probes) the client asks the group's nodes, and
// again every quarter of it, which one leads (one round at a time per
// group, shared by every slow attempt; the claim of the highest term wins,
// so a deposed leader that does not know it yet is not followed once the
// client has seen its successor's term; a client's first round takes the
// first claim, and a wrong one is left at the next round); if
// another node leads, the attempt is given up like a timed-out one (a
// Produce's outcome is unknown) and retried at once at the new leader,
// which is also asked first for routes from then on (consumer calls are
// safe to repeat). A leader that is only slow (no other replica leads) is
// waited for, and so is a replica that a Fetch was sent to because the
// group had no leader. Likewise a route lookup at a seed that has not
// answered within the probe time is sent to the next seed as well; the
// first answer wins, and its seed is asked first next time.
//
// A Producer keeps fewer than 128 sequences between its
// oldest request in flight and its newest, so a late retry is never too
// old for the broker to recognise (a request waits while the span is
// full). Delivery to consumers is at-least-once in any case.
//
// Every RPC failure is an *Error carrying the method, node, gRPC code and
// server message; errors.Is matches it against ErrNotFound,
// ErrInvalidArgument, ErrAlreadyExists, ErrNotLeader, ErrUnavailable,
// ErrResourceExhausted and ErrUnknownOutcome, and status.Code works on it.
//
// # Producing
//
// The broker group's leader picks the queue. When a topic spans several
// broker groups the producer picks the group: an explicit Message.QueueID
// selects its group; a ShardingKey selects queue
// fnv1a32(key) mod total-queue-count, sent with has_queue_id; otherwise
// groups take turns (round robin per topic). On a single-group topic a
// sharding key is left to the leader's own hash. Producer.Send sends one
// batch as one Produce request (on the node's ProduceStream, one per node
// and Client, or as a unary Produce call with WithUnaryProduce or on a
// broker without the stream; either way with the same answers, retries
// and unknown outcomes); Producer.SendAsync batches the messages
// that arrive while a Produce to the same topic and group is in flight.
//
// # Consuming
//
// In Clustering mode (the default) a Consumer heartbeats the leader of
// every broker group serving its topics every WithHeartbeatInterval and
// consumes the queues the broker assigns, each with one goroutine that
// long-polls Fetch from the assigned offset and calls the handler for each
// message in order. Progress is committed with CommitOffsets every
// WithCommitInterval, when a queue is revoked (after its goroutine
// stopped) and on Close. A handler error redelivers the same message after
// a backoff, so order within a queue is kept. Delivery is at-least-once:
// after a rebalance or a crash, messages after the last commit are
// delivered again.
//
// In Broadcasting mode every member reads every queue (those the route
// listed at Start) from its own offsets, starting at the start position. Broadcasting progress is kept
// in memory only and is NOT persisted: a restarted member starts again
// from its start position. There are no heartbeats or commits.
//
// # Goroutines
//
// Every goroutine has an owner that stops it: an attempt waits for its
// leader probe, Producer.Close for the batch senders, Consumer.Close for the heartbeat and commit loops, queue
// workers and running handlers. Close Producers and Consumers before the
// Client.
package client
