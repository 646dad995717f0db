// Package checker is a Jepsen-style durability checker for raftmq: it
// runs a produce workload against a live cluster, records the outcome of
// every send, reads everything back through a consumer group and directly
// from every replica, and reports what the promises of DESIGN.md
// ("Promises to users" 1 and 2) forbid: acknowledged messages lost,
// replicas disagreeing, per-queue order broken, payloads corrupted. It is
// a library so that tests and, later, `mqctl check` share it.
//
// # Workload
//
// Config.Producers goroutines each own a client.Producer (sharing one
// client.Client) and send one message per synchronous Send, in sequence
// 0, 1, 2, ... until Stop. The broker picks the queue (round robin). Every
// send is recorded with its start and end time and one outcome:
//
//	ok       Send returned results: msg id, queue, queue offset
//	failed   the client says nothing was stored (ErrNotLeader,
//	         ErrInvalidArgument, ErrNotFound, ErrResourceExhausted, ...)
//	unknown  the message may or may not be stored: ErrUnknownOutcome,
//	         ErrUnavailable (a connection may break after the broker
//	         received the request), a context error
//
// Fault records a fault (a kill, a pause) with the current time; for each
// fault the report gives the failover time: from the fault to the end of
// the first successful send that STARTED after it. A send started after
// the fault was certainly served by the post-fault cluster, so the sample
// never underestimates; producers blocked in a send across the fault add
// at most one round trip of delay, because the client retries with short
// back-offs (10ms to 200ms).
//
// # Payload
//
// Each body is text, verifiable on its own (no '|' inside a field):
//
//	rmqc1|<run>|<producer>|<seq>|<sum>|<pad>
//
//	run       the run id (Config.RunID): bodies of other runs are counted
//	          as foreign and otherwise ignored
//	producer  decimal producer index
//	seq       decimal sequence number within the producer
//	sum       16 hex digits: the first 8 bytes of SHA-256 over
//	          "rmqc1|<run>|<producer>|<seq>|<pad>"
//	pad       lower-case letters filling the body to Config.BodySize,
//	          derived from the seed, producer and seq
//
// A body that does not parse or whose sum does not match is corrupt.
//
// # Read-back and analysis
//
// Check (after Stop) waits up to Config.SettleTimeout until every replica
// reports the same max offset for every queue, then reads every queue of
// every replica from its min to its max offset with raftmqpb Fetch
// directly at that replica's address (any replica serves reads; one that
// answers DATA_LOSS, a copy that failed its checksum, is asked again until
// it has repaired itself), and
// consumes the topic from the earliest offset with a fresh consumer group
// until it has seen every offset the replicas hold (bounded by
// Config.ConsumeTimeout). From what it read it computes:
//
//	lost             acked, found by no source
//	missing[source]  acked, not found by that source (a replica or the
//	                 consumer group)
//	duplicates       extra queue positions holding the same (producer,
//	                 seq) beyond the first
//	unknown-present  unknown outcome, found stored
//	failed-present   failed outcome, found stored (the client's "nothing
//	                 was stored" was wrong)
//	unexpected       well-formed payloads of this run never sent
//	corrupt          payloads that do not parse or fail their sum
//	inconsistent     a queue position holding different messages (id or
//	                 body) on different sources, a message id read at
//	                 different positions, or an acked position that holds
//	                 another message than the ack named
//	order            a producer's acked messages in one queue not in
//	                 increasing sequence (at their acked positions), or
//	                 the consumer group delivering an offset of a queue
//	                 after a higher one it had not delivered before
//
// Report.OK is false on lost, missing, inconsistent, order violations,
// corrupt payloads and incomplete reads. Duplicates and unknown-present
// are allowed (delivery is at-least-once); they are reported.
//
// # History
//
// WriteHistory writes every send, fault and read as one JSON object per
// line ("kind": "send", "fault" or "read"), for offline analysis.
package checker
