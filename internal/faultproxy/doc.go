// Package faultproxy is a TCP proxy that injects network faults for
// tests: it forwards every connection accepted on its listen address to a
// target address, both ways, and can block traffic or delay it.
//
// # Faults
//
//   - Block drops everything: it closes the connections in flight and
//     blackholes new ones (they are accepted, what they send is read and
//     discarded, nothing is ever answered) until Unblock, which closes the
//     blackholed connections so their clients dial again. A blackhole is
//     closer to a real partition than a refused connection: the client
//     sees a timeout, not an immediate error.
//   - BlockFrom(peer) does the same to the connections of one peer only,
//     when the proxy can tell who a connection is from (below).
//   - SetDelay(d) delays every chunk of bytes by d in each direction
//     (latency, not bandwidth: chunks are read as they come and written
//     when due, in order).
//
// # Telling peers apart
//
// Behind one proxy every client looks like 127.0.0.1:<ephemeral>, so the
// source address does not say which peer dialed. WithSniffer gives the
// proxy a function that reads the first bytes a client sends and names its
// peer; the bytes are then forwarded untouched. For hashicorp/raft's
// network transport the first request of every connection starts with an
// RPCHeader holding the sender's advertised address, so a sniffer that
// looks for the known addresses identifies the sender (testcluster's
// partitions do this). A connection the sniffer cannot name is the peer
// "" and only obeys Block.
//
// # Goroutines
//
// New starts one accept goroutine; each connection has two copy
// goroutines per direction (a reader and a writer, so a delay does not
// limit the throughput). Close stops and waits for all of them.
package faultproxy
