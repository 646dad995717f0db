package testcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftmq/raftmq/api/raftmqpb"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := RemoveBuilds(); err != nil {
		fmt.Fprintln(os.Stderr, "remove test builds:", err)
	}
	os.Exit(code)
}

// TestCluster drives every fault method on a real three-node group and
// checks, after the cluster's cleanup ran, that no process is left.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test (builds raftmq, runs 3 brokers); skipped with -short")
	}
	var pgids []int
	t.Run("faults", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		c := Start(t, Options{Nodes: 3, AutoCreateTopics: true})
		leader := c.Leader(ctx)
		follower := (leader + 1) % c.Size()
		produce(t, ctx, c, leader)

		c.Stop(follower) // SIGTERM: a clean exit, status 0
		if c.Running(follower) {
			t.Fatalf("%s still running after Stop", c.NodeID(follower))
		}
		c.Restart(follower)
		c.WaitHealthy(follower)

		c.Pause(follower)
		if !c.Paused(follower) || !c.Running(follower) {
			t.Fatal("a paused node must count as paused and running")
		}
		sctx, scancel := context.WithTimeout(ctx, 300*time.Millisecond)
		if _, err := c.Status(sctx, follower); err == nil {
			t.Fatal("a paused node answered")
		}
		scancel()
		produce(t, ctx, c, leader) // a majority is still up
		c.Resume(follower)
		c.WaitHealthy(follower)

		c.Kill9(leader)
		next := c.Leader(ctx)
		if next == leader {
			t.Fatalf("killed node %s is still the leader", c.NodeID(leader))
		}
		produce(t, ctx, c, next)
		c.Restart(leader)
		c.WaitHealthy(leader)
		c.WaitCaughtUp(ctx, leader)
		c.WaitConverged(ctx)
		if out, err := exec.Command(c.Binaries().Mqctl, "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "mqctl") {
			t.Fatalf("mqctl --help: %v\n%s", err, out)
		}
		// Leave one node paused: cleanup must still reap it.
		c.Pause((next + 1) % c.Size())
		pgids = append(pgids, c.pgids...)
	})
	if len(pgids) < 5 {
		t.Fatalf("%d process groups recorded, want 5 (3 starts, 2 restarts)", len(pgids))
	}
	for _, pg := range pgids {
		if err := syscall.Kill(-pg, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process group %d after cleanup: %v, want ESRCH", pg, err)
		}
	}
}

// produce writes one message to topic "T" through node i.
func produce(t *testing.T, ctx context.Context, c *Cluster, i int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req := &raftmqpb.ProduceRequest{Topic: "T", Messages: []*raftmqpb.ProduceMessage{{Body: []byte("x")}}}
	if _, err := c.Client(i).Produce(ctx, req); err != nil {
		t.Fatalf("produce via %s: %v", c.NodeID(i), err)
	}
}

func TestOptionsDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Options
		want Options
	}{
		{"zero", Options{}, Options{Nodes: 3, Group: "g", LogLevel: "info", StartTimeout: 30 * time.Second}},
		{"kept", Options{Nodes: 1, Group: "x", LogLevel: "debug", StartTimeout: time.Second, Flush: "sync"},
			Options{Nodes: 1, Group: "x", LogLevel: "debug", StartTimeout: time.Second, Flush: "sync"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.withDefaults(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLogTail(t *testing.T) {
	dir := t.TempDir()
	c := &Cluster{t: t, nodes: []*node{{logPath: dir + "/log"}}}
	if err := os.WriteFile(c.nodes[0].logPath, []byte("a\nb\nc\nd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lines int
		want  string
	}{{1, "d"}, {2, "c\nd"}, {4, "a\nb\nc\nd"}, {10, "a\nb\nc\nd"}}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.lines), func(t *testing.T) {
			if got := c.logTail(0, tc.lines); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
