// Package daemon is the raftmq broker daemon: it turns flags and an
// optional YAML configuration file into a raftfsm.Node, a broker.Broker and
// a gRPC server, runs them, and shuts them down gracefully on SIGINT or
// SIGTERM (the gRPC health service turns NOT_SERVING, the broker stops and
// hands Raft leadership to another voter, then the gRPC server drains).
//
// # Configuration
//
// Every flag has a configuration file key of the same name:
//
//	node-id: n1
//	group: broker-a
//	data-dir: /var/lib/raftmq
//	grpc-addr: 0.0.0.0:9876
//	grpc-advertise: n1.example:9876
//	raft-addr: 0.0.0.0:9877
//	raft-advertise: n1.example:9877
//	peers: ["n1=n1.example:9877=n1.example:9876", "n2=...", "n3=..."]
//	bootstrap: true
//	flush: async
//	retention: 72h
//	auto-create-topics: false
//	log-level: info
//	log-format: text
//	shutdown-timeout: 10s
//
// Precedence: built-in defaults, then the file (--config), then flags
// given on the command line.
//
// --peers lists the static members of this node's group as
// id=raftAddr=grpcAddr, comma-separated (this node is added if missing).
// --bootstrap forms the group from them when no Raft state exists; it
// defaults to true without --peers (a single-node group) and to false with
// them. With static peers, give every founding node --bootstrap and the
// same --peers: hashicorp/raft accepts identical bootstrap configurations
// on every founder.
package daemon
