// Package cli implements mqctl's commands. main only calls Run, so every
// command can be tested in-process with its output captured.
//
// Every command that talks to a broker goes through the Go client
// (package client) and never imports server packages; health uses the
// standard gRPC health service (grpc_health_v1). One file per command
// group: produce.go, consume.go, topic.go, group.go, cluster.go, msg.go,
// health.go, check.go (the durability checker against a live cluster) and
// store.go (offline store checks).
//
// # Global flags
//
//	-s, --server   comma-separated seed addresses (host:port of any nodes);
//	               default $RAFTMQ_SERVER, else 127.0.0.1:9876
//	    --addr-map advertised=reachable address pairs for nodes whose
//	               advertised names this host cannot reach (compose);
//	               default $RAFTMQ_ADDR_MAP
//	    --timeout  bounds one command's calls (for produce: each send; for
//	               consume: joining; for health: the check), default 10s
//	    --json     machine-readable output; streaming commands (produce,
//	               consume) print one JSON object per line, the others one
//	               JSON document
//
// Without --json, output is aligned tables (text/tabwriter) for humans.
//
// # Exit status
//
// For every command:
//
//	0  success
//	1  the command ran and failed: an RPC error, something not found, no
//	   match (msg query), problems found (store verify), a node unreachable
//	   or no leader (cluster status), not SERVING (health)
//	2  the command could not run: bad usage (unknown command or flag,
//	   missing or malformed argument), or a store directory that could not
//	   be opened (store verify)
//
// Errors go to stderr prefixed "mqctl: "; an RPC error carries the gRPC
// code, the node and the server's status message.
package cli
