package testcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/store/vfs"
)

// Options configures a cluster; zero fields take the defaults noted.
type Options struct {
	// Nodes is the group size (default 3).
	Nodes int
	// Group is the broker group name (default "g").
	Group string
	// Flush is the --flush mode; empty keeps the daemon's default.
	Flush string
	// AutoCreateTopics passes --auto-create-topics.
	AutoCreateTopics bool
	// LogLevel is the --log-level (default "info").
	LogLevel string
	// ExtraArgs are appended to every node's command line.
	ExtraArgs []string
	// StartTimeout bounds Start's wait for every node to serve and for a
	// leader, and each later wait that takes no context (default 30s).
	StartTimeout time.Duration
	// PartitionProxies puts a fault-injecting TCP proxy in front of every
	// node's Raft listener, advertised as its Raft address, so that
	// Isolate, Partition, CutLink and Heal can cut Raft links (see
	// partition.go). Off by default: nodes dial each other directly.
	PartitionProxies bool
	// DiskFaults runs every node with the daemon's disk fault test hook
	// (RAFTMQ_TEST_FAULTFS), so SetDisk can make its store's disk slow,
	// stalled or lazy (see disk.go). Off by default.
	DiskFaults bool
}

func (o Options) withDefaults() Options {
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	if o.Group == "" {
		o.Group = "g"
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	return o
}

// Cluster is one broker group of raftmq processes. Its methods are meant
// for the test's goroutine (see the package doc).
type Cluster struct {
	t     testing.TB
	bins  Binaries
	opts  Options
	nodes []*node
	// pgids are the process groups of every process ever started, checked
	// for strays in cleanup.
	pgids []int
	// part holds the Raft proxies when opts.PartitionProxies is set.
	part *partitions
}

// node is one member of the group; its process changes on restart.
type node struct {
	id, grpcAddr, raftAddr, dataDir, logPath string
	args                                     []string
	proc                                     *process // nil when not running
	paused                                   bool
	disk                                     vfs.DiskMode // last SetDisk
	conn                                     *grpc.ClientConn
	client                                   raftmqpb.BrokerClient
}

// Start builds the binaries (once), starts opts.Nodes raftmq processes
// forming one group, and waits until every node serves and a leader is
// elected. Cleanup is registered on t.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	opts = opts.withDefaults()
	c := &Cluster{t: t, bins: Build(t), opts: opts}
	base := t.TempDir() // before Cleanup: cleanup reads the logs in it
	t.Cleanup(c.cleanup)
	var peers []string
	for i := range opts.Nodes {
		n := &node{
			id:       fmt.Sprintf("n%d", i+1),
			grpcAddr: testutil.FreeAddr(t),
			raftAddr: testutil.FreeAddr(t),
			dataDir:  filepath.Join(base, fmt.Sprintf("n%d", i+1), "data"),
			logPath:  filepath.Join(base, fmt.Sprintf("n%d", i+1), "raftmq.log"),
		}
		if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
			t.Fatal(err)
		}
		conn, err := grpc.NewClient(n.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		n.conn, n.client = conn, raftmqpb.NewBrokerClient(conn)
		c.nodes = append(c.nodes, n)
	}
	if opts.PartitionProxies {
		c.startProxies()
	}
	for i, n := range c.nodes {
		peers = append(peers, n.id+"="+c.raftAdvertise(i)+"="+n.grpcAddr)
	}
	for i, n := range c.nodes {
		n.args = append([]string{
			"--node-id", n.id, "--group", opts.Group, "--data-dir", n.dataDir,
			"--grpc-addr", n.grpcAddr, "--raft-addr", n.raftAddr,
			"--raft-advertise", c.raftAdvertise(i),
			"--peers", strings.Join(peers, ","), "--bootstrap",
			"--log-level", opts.LogLevel,
		}, c.flagArgs()...)
	}
	for i := range c.nodes {
		c.startNode(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.StartTimeout)
	defer cancel()
	for i := range c.nodes {
		c.waitHealthy(ctx, i)
	}
	c.Leader(ctx)
	return c
}

func (c *Cluster) flagArgs() []string {
	var args []string
	if c.opts.Flush != "" {
		args = append(args, "--flush", c.opts.Flush)
	}
	if c.opts.AutoCreateTopics {
		args = append(args, "--auto-create-topics")
	}
	return append(args, c.opts.ExtraArgs...)
}

// Size returns the number of nodes.
func (c *Cluster) Size() int { return len(c.nodes) }

// Addrs returns every node's gRPC address, in node order.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.grpcAddr
	}
	return out
}

// GRPCAddr returns node i's gRPC address.
func (c *Cluster) GRPCAddr(i int) string { return c.nodes[i].grpcAddr }

// RaftAddr returns node i's Raft address.
func (c *Cluster) RaftAddr(i int) string { return c.nodes[i].raftAddr }

// NodeID returns node i's id.
func (c *Cluster) NodeID(i int) string { return c.nodes[i].id }

// DataDir returns node i's data directory.
func (c *Cluster) DataDir(i int) string { return c.nodes[i].dataDir }

// LogPath returns node i's log file (stdout and stderr of every run).
func (c *Cluster) LogPath(i int) string { return c.nodes[i].logPath }

// Client returns a gRPC client of node i (one connection per node, kept
// across restarts).
func (c *Cluster) Client(i int) raftmqpb.BrokerClient { return c.nodes[i].client }

// Binaries returns the paths of the built executables.
func (c *Cluster) Binaries() Binaries { return c.bins }

// Running reports whether node i's process is running (paused counts as
// running).
func (c *Cluster) Running(i int) bool {
	p := c.nodes[i].proc
	return p != nil && !p.exited()
}

// Paused reports whether node i is stopped with SIGSTOP.
func (c *Cluster) Paused(i int) bool { return c.nodes[i].paused }
