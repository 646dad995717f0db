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
//	gossip-addr: 0.0.0.0:7946
//	gossip-advertise: n1.example:7946
//	join: ["n1.example:7946", "n2.example:7946", "n3.example:7946"]
//	bootstrap-expect: 3
//	gossip-key: <base64 of 16, 24 or 32 bytes>
//	dead-node-timeout: 0s
//	flush: async
//	raft-log-store: wal
//	raft-leader-append: parallel
//	retention: 72h
//	auto-create-topics: false
//	log-level: info
//	log-format: text
//	shutdown-timeout: 10s
//	scrub-interval: 6h
//	pprof-addr: 127.0.0.1:6060
//	pprof-block-rate: 0
//	pprof-mutex-fraction: 0
//
// raft-log-store picks the Raft log of a new data directory (wal, the
// default, or boltdb); an existing directory keeps the one it was created
// with. raft-leader-append parallel (the default) writes the leader's copy
// of new Raft entries in parallel with the followers' and applies an entry
// once a quorum holds it durably, with or without the leader's copy; own
// also waits for the leader's copy; serial makes the leader fsync its copy
// before replicating (own and serial only for comparisons). pprof-addr (default off) serves net/http/pprof's /debug/pprof/ for
// profiling; bind it to a loopback address. pprof-block-rate and
// pprof-mutex-fraction (default 0, off; they need pprof-addr) turn on the
// block and mutex profiles there (runtime.SetBlockProfileRate,
// runtime.SetMutexProfileFraction); both cost CPU on every blocking
// operation while on.
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
//
// # Gossip
//
// With --gossip-addr, --join or --bootstrap-expect the node runs
// membership (hashicorp/memberlist, package membership) on --gossip-addr
// (default 0.0.0.0:7946 then; without any of the three, gossip is off and
// the static behaviour above is unchanged, so several static daemons can
// share a host). Advertised host names (--raft-advertise,
// --gossip-advertise) are resolved to IP addresses at startup, retried for
// up to a minute because container DNS may lag.
//
// A node without Raft state started with --bootstrap-expect N waits until
// membership.BootstrapPeers says it is one of the N founders and then
// bootstraps with them; if the group already has state (or this node is
// not among the founders) it opens Raft without bootstrapping and waits to
// be added. A node that has Raft state never bootstraps. Once Raft has
// state the node gossips HasRaftState.
//
// While the node leads its group, a loop (on membership events and every
// two seconds) adds alive members of the group as voters
// (membership.Reconciler). Servers missing from gossip are logged and
// removed only with --dead-node-timeout > 0 once missing that long;
// otherwise an operator removes them with `mqctl cluster remove-node`.
// The broker's Directory comes from gossip (dead members keep their last
// known addresses, so cluster status lists them as unreachable), then
// --peers. On shutdown the node leaves the gossip cluster after the broker
// has closed.
//
// # Test hook: disk faults
//
// This is a hook for the chaos suite (cmd/raftmq/disk_chaos_test.go,
// internal/testcluster), not a user feature. When the environment variable
// RAFTMQ_TEST_FAULTFS names a control file, the store's file system is
// vfs.OS wrapped in a vfs.DiskFaultFS whose mode follows the file: the
// daemon reads it at startup (before the store opens) and then every 50ms.
// The file holds one mode, as vfs.ParseDiskMode reads it:
//
//	normal            (also: empty or missing file)
//	slow <duration>   every CommitLog/ConsumeQueue/index write and sync
//	                  and every Raft log append waits the duration
//	                  first, e.g. "slow 20ms"
//	stall             the store's writes and syncs and the Raft log's
//	                  appends block until the mode changes
//	lazy              the store's written bytes stay in process memory
//	                  until the file's fsync, so kill -9 loses what was
//	                  not synced (the Raft log is not lazy)
//	fail              the store's writes, syncs, creates, renames and
//	                  removes and the Raft log's appends fail with EIO
//	                  (the node stops; see raftfsm's Node.fail)
//	full              statfs reports the store's disk full (above the
//	                  hard limit) while writes still succeed: as leader
//	                  the node refuses produces and hands over
//
// The daemon logs a warning naming the hook at startup and at every mode
// change, and sets the mode back to normal before a graceful shutdown.
// The message store is behind the seam, and the Raft log's appends and
// deletions follow the slow, stall and fail modes too (a disk fault is
// the whole disk's; raftfsm.Config.WrapLogStore). The Raft stable store
// (term and vote) and the snapshot metadata write to the OS directly.
package daemon
