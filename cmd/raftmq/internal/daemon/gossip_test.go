package daemon

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/membership"
)

// gossipNode is one daemon of TestGossipCluster.
type gossipNode struct {
	id   string
	args []string
	cl   raftmqpb.BrokerClient
	stop func() int
	logs *syncBuffer
}

// tightenGossip makes gossip and the leader loop fast for the test.
func tightenGossip(t *testing.T) {
	oldDefaults, oldEvery := membershipDefaults, reconcileEvery
	membershipDefaults, reconcileEvery = membership.TestConfig, 100*time.Millisecond
	t.Cleanup(func() { membershipDefaults, reconcileEvery = oldDefaults, oldEvery })
}

// newGossipNode prepares (does not start) a daemon that finds its group
// through the seeds, with no static peers.
func newGossipNode(t *testing.T, id string, dir, gossipAddr string, seeds []string) *gossipNode {
	return newGroupNode(t, id, "g1", 3, dir, gossipAddr, seeds)
}

// newGroupNode is newGossipNode for a node of group that bootstraps once
// expect members of it are seen; extra flags are appended.
func newGroupNode(t *testing.T, id, group string, expect int, dir, gossipAddr string, seeds []string, extra ...string) *gossipNode {
	grpcAddr := testutil.FreeAddr(t)
	args := []string{"--node-id", id, "--group", group, "--data-dir", dir,
		"--grpc-addr", grpcAddr, "--raft-addr", testutil.FreeAddr(t), "--gossip-addr", gossipAddr,
		"--join", strings.Join(seeds, ","), "--bootstrap-expect", fmt.Sprint(expect), "--auto-create-topics", "--log-format", "json"}
	args = append(args, extra...)
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &gossipNode{id: id, args: args, cl: raftmqpb.NewBrokerClient(conn)}
}

func (n *gossipNode) start(t *testing.T) {
	n.stop, n.logs = runDaemon(t, n.args)
}

func (n *gossipNode) shutdown(t *testing.T) {
	t.Helper()
	if n.stop == nil {
		return
	}
	if code := n.stop(); code != ExitOK {
		t.Errorf("%s: exit %d; logs:\n%s", n.id, code, n.logs)
	}
	n.stop = nil
}

func callCtx(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), 2*time.Second)
}

// status asks n for the group's status; nil on error.
func (n *gossipNode) status(t *testing.T) []*raftmqpb.NodeStatus {
	ctx, cancel := callCtx(t)
	defer cancel()
	resp, err := n.cl.ClusterStatus(ctx, &raftmqpb.ClusterStatusRequest{})
	if err != nil {
		return nil
	}
	return resp.GetNodes()
}

func (n *gossipNode) produce(t *testing.T, body string) error {
	ctx, cancel := callCtx(t)
	defer cancel()
	_, err := n.cl.Produce(ctx, &raftmqpb.ProduceRequest{Topic: "T", Messages: []*raftmqpb.ProduceMessage{{Body: []byte(body)}}})
	return err
}

// converged reports whether status lists want nodes, all reachable, one
// leader, and the same CommitLog end everywhere.
func converged(status []*raftmqpb.NodeStatus, want int) bool {
	if len(status) != want {
		return false
	}
	leaders := 0
	for _, s := range status {
		if !s.GetReachable() || s.GetCommitlogEnd() != status[0].GetCommitlogEnd() {
			return false
		}
		if s.GetRole() == "leader" {
			leaders++
		}
	}
	return leaders == 1
}

// TestGossipCluster starts three daemons that know each other only
// through gossip seeds and --bootstrap-expect 3, produces, adds a fourth
// daemon that the leader must make a voter, and restarts a founder, which
// must reopen its state instead of bootstrapping again.
func TestGossipCluster(t *testing.T) {
	tightenGossip(t)
	seeds := []string{testutil.FreeAddr(t), testutil.FreeAddr(t), testutil.FreeAddr(t)}
	var nodes []*gossipNode
	for i := range 4 {
		gossip := testutil.FreeAddr(t)
		if i < 3 {
			gossip = seeds[i]
		}
		nodes = append(nodes, newGossipNode(t, fmt.Sprint("n", i+1), filepath.Join(t.TempDir(), "data"), gossip, seeds))
	}
	defer func() {
		for _, n := range nodes {
			n.shutdown(t)
		}
	}()
	for _, n := range nodes[:3] {
		n.start(t)
	}
	testutil.WaitFor(t, 30*time.Second, "a produce through n3", func() bool { return nodes[2].produce(t, "first") == nil })
	// A founder that sees the others' Raft state before it sees all three
	// alive opens without bootstrapping; the founders' configuration
	// already lists it, so the leader replicates to it.
	bootstrapped := 0
	for _, n := range nodes[:3] {
		switch logs := n.logs.String(); {
		case strings.Contains(logs, "bootstrapping the group"):
			bootstrapped++
		case !strings.Contains(logs, "waiting to be added"):
			t.Fatalf("%s neither bootstrapped nor waited to be added; logs:\n%s", n.id, logs)
		}
	}
	if bootstrapped == 0 {
		t.Fatal("no founder bootstrapped")
	}

	n4 := nodes[3]
	n4.start(t)
	testutil.WaitFor(t, 30*time.Second, "four converged nodes", func() bool {
		return converged(nodes[0].status(t), 4) && nodes[0].produce(t, "more") == nil
	})
	if strings.Contains(n4.logs.String(), "bootstrapping the group") || !strings.Contains(n4.logs.String(), "waiting to be added") {
		t.Fatalf("n4 should have waited to be added; logs:\n%s", n4.logs)
	}
	// Only a voter can take leadership.
	testutil.WaitFor(t, 20*time.Second, "n4 to lead after a transfer", func() bool {
		ctx, cancel := callCtx(t)
		defer cancel()
		resp, err := nodes[0].cl.TransferLeadership(ctx, &raftmqpb.TransferLeadershipRequest{TargetNodeId: "n4"})
		return err == nil && resp.GetNewLeaderId() == "n4"
	})

	n2 := nodes[1]
	n2.shutdown(t)
	testutil.WaitFor(t, 20*time.Second, "a produce without n2", func() bool { return n4.produce(t, "while n2 is down") == nil })
	n2.start(t)
	testutil.WaitFor(t, 30*time.Second, "n2 back and caught up", func() bool { return converged(n4.status(t), 4) })
	logs := n2.logs.String()
	if strings.Contains(logs, "bootstrapping the group") || strings.Contains(logs, "waiting for the group's founding nodes") ||
		!strings.Contains(logs, `"has_raft_state":true`) {
		t.Fatalf("restarted n2 must reopen its state without bootstrapping; logs:\n%s", logs)
	}
}

func TestParseGossipConfig(t *testing.T) {
	key := "MDEyMzQ1Njc4OWFiY2RlZg==" // 16 bytes
	tests := []struct {
		name    string
		args    []string
		check   func(Config) bool
		wantErr string
	}{
		{"off by default", nil, func(c Config) bool { return !c.gossip() && c.bootstrap() }, ""},
		{"join turns it on", []string{"--join", "a:7946, b:7946", "--raft-addr", "10.0.0.1:9877"}, func(c Config) bool {
			return c.gossip() && c.gossipBind() == DefaultGossipAddr && len(c.Join) == 2 && c.Join[1] == "b:7946" && !c.bootstrap()
		}, ""},
		{"all flags", []string{"--gossip-addr", "127.0.0.1:7000", "--gossip-advertise", "n1:7000", "--bootstrap-expect", "3",
			"--gossip-key", key, "--dead-node-timeout", "5m"}, func(c Config) bool {
			k, _ := c.gossipKey()
			return c.gossip() && c.gossipBind() == "127.0.0.1:7000" && c.BootstrapExpect == 3 && len(k) == 16 && c.DeadNodeTimeout == 5*time.Minute
		}, ""},
		{"bad key", []string{"--join", "a:1", "--gossip-key", "c2hvcnQ="}, nil, "want 16, 24 or 32"},
		{"key not base64", []string{"--join", "a:1", "--gossip-key", "!!"}, nil, "not base64"},
		{"expect with peers", []string{"--bootstrap-expect", "3", "--peers", "a=r:1=g:1"}, nil, "do not combine"},
		{"negative expect", []string{"--bootstrap-expect", "-1"}, nil, "negative"},
		{"gossip options without gossip", []string{"--dead-node-timeout", "1m"}, nil, "need gossip"},
		{"raft port 0", []string{"--join", "a:1", "--raft-addr", "127.0.0.1:0"}, nil, "fixed Raft port"},
		{"bad seed", []string{"--join", "nohost"}, nil, "nohost"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := parseConfig(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(cfg) {
				t.Fatalf("config %+v, err %v", cfg, err)
			}
		})
	}
}
