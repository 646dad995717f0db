package testcluster

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/raftmq/raftmq/api/raftmqpb"
	"github.com/raftmq/raftmq/store/vfs"
)

// TestSetDisk: a node started with DiskFaults announces the test hook;
// a produce blocked by a stalled disk finishes once SetDisk makes the
// disk normal again.
func TestSetDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test (builds raftmq, runs a broker); skipped with -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c := Start(t, Options{Nodes: 1, DiskFaults: true, AutoCreateTopics: true})
	produce(t, ctx, c, 0)
	if log, err := os.ReadFile(c.LogPath(0)); err != nil || !strings.Contains(string(log), "TEST HOOK ACTIVE") {
		t.Fatalf("node log lacks the hook warning (%v)", err)
	}
	c.SetDisk(0, vfs.DiskMode{Kind: vfs.DiskStall})
	req := &raftmqpb.ProduceRequest{Topic: "T", Messages: []*raftmqpb.ProduceMessage{{Body: []byte("y")}}}
	sctx, scancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err := c.Client(0).Produce(sctx, req)
	scancel()
	if err == nil {
		t.Fatal("a produce succeeded on a stalled disk")
	}
	c.SetDisk(0, vfs.DiskMode{})
	if c.Disk(0) != (vfs.DiskMode{}) {
		t.Fatalf("Disk(0) = %v after SetDisk normal", c.Disk(0))
	}
	produce(t, ctx, c, 0)
}
