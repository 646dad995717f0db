// Package syncfloor measures what the machine itself allows for a
// replicated synchronous write: the latency floor under any broker's
// synchronous produce on the same machine and with the same processes.
//
// It runs the chain of a Raft group's synchronous produce with nothing
// else in it: a client process sends one message at a time to a leader
// process; the leader sends it to every follower process and appends it
// to its own log; each follower appends it to its log and acknowledges;
// the leader answers the client once a majority (itself included) holds
// the message durably. Every append is an O_DIRECT write of the
// message's 4 KiB block(s) into a preallocated, zero-filled log file
// followed by fdatasync, as raftmq's Raft log writes a lone entry
// (records packed one after another, so a block is rewritten until it is
// full), but without raft-wal's frame headers and commit frames, and into
// a zero-filled file where raft-wal's segments are fallocated (see
// below). Messages travel over loopback TCP as raw frames: no encoding,
// no RPC framework, at most one goroutine hand-off per hop.
//
// The wire format (all integers little-endian):
//
//	frame (client -> leader -> follower)   acknowledgement (back)
//	+------------+-----------------+       +------------+
//	| seq uint64 | body, Size bytes|       | seq uint64 |
//	+------------+-----------------+       +------------+
//
// and a log is frames back to back from offset 0, wrapping to 0 at the
// file's size; it is never read back, so it has no lengths or CRCs.
//
// scripts/bench-vs-nats.sh runs it beside raftmq and NATS JetStream, so
// the synchronous rows can be read against the floor of the same run.
// Most of the difference between a broker's latency and the floor is the
// broker's own software path (its RPC layer, its replication library's
// goroutines and its CPU use, which on a small shared machine delays
// every other step); the rest is how its storage writes: NATS, for one,
// writes through the page cache into files that grow, so each of its
// fsyncs also commits the file's new size.
//
// The zero-filled log matters: a block of a file preallocated with
// fallocate is an unwritten extent, and the first write into it makes
// fdatasync commit the extent's conversion to the filesystem journal as
// well (on ext4 here, in a first prototype that gave every record a
// block of its own: 1.9x the latency of a plain data flush). Zero-filling once at start keeps that cost
// out of the measured path; the -fallocate flag measures it instead.
//
// Dependencies: hdrhistogram-go records the latencies, as mqctl bench
// does, so the percentiles of both are computed alike; golang.org/x/sys/unix
// gives O_DIRECT, fallocate and fdatasync.
package syncfloor
