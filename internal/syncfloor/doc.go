// Package syncfloor measures what the machine itself allows for a
// replicated synchronous write: the latency floor that any broker's
// synchronous produce on the same machine and layout stands on.
//
// It runs the chain of a Raft group's synchronous produce with nothing
// else in it: a client process sends one message at a time to a leader
// process; the leader sends it to every follower process and appends it
// to its own log; each follower appends it to its log and acknowledges;
// the leader answers the client once a majority (itself included) holds
// the message durably. Every append is an O_DIRECT write of the message's
// 4 KiB block(s) into a preallocated, zero-filled log file followed by
// fdatasync, as raftmq's Raft log writes (records packed one after
// another, so a block is rewritten until it is full). Messages travel
// over loopback TCP as raw frames; there is no encoding, no RPC framework
// and one goroutine hand-off per hop at most.
//
// scripts/bench-vs-nats.sh runs it beside raftmq and NATS JetStream, so
// the synchronous rows can be read against the floor of the same run.
// The difference between a broker's latency and the floor is the
// broker's own software path: its RPC layer, its replication library's
// goroutines and its CPU use, which on a small shared machine delays
// every other step.
//
// The zero-filled log matters: a block of a file preallocated with
// fallocate is an unwritten extent, and the first write into it makes
// fdatasync commit the extent's conversion to the filesystem journal as
// well (on ext4 about 2.5x the time of a plain data flush). Zero-filling
// once at start keeps that cost out of the measured path; the -fallocate
// flag measures it instead.
//
// hdrhistogram-go records the latencies, as mqctl bench does, so the
// percentiles of both are computed alike.
package syncfloor
