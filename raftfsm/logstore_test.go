package raftfsm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogStoreKeptAcrossConfigChange writes with one log store, restarts
// the node configured with the other, and checks that it reopens the
// store its directory was created with (nothing is lost, no second log
// appears), then writes again.
func TestLogStoreKeptAcrossConfigChange(t *testing.T) {
	for _, tc := range []struct{ created, reopened, file string }{
		{LogStoreBoltDB, LogStoreWAL, "raft.db"},
		{LogStoreWAL, LogStoreBoltDB, "wal"},
	} {
		t.Run(tc.created, func(t *testing.T) {
			c := newCluster(t, 1, func(cfg *Config) { cfg.LogStore = tc.created })
			_, l := c.leader()
			if err := l.CreateTopic(context.Background(), Topic{Name: "t", Queues: 1}); err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				produce(t, l, "t", 0, fmt.Sprint("a", i))
			}
			c.kill(0)
			c.cfgs[0].LogStore = tc.reopened
			c.start(0)
			_, l = c.leader()
			produce(t, l, "t", 0, "b")
			if got := l.Store().MaxOffset("t", 0); got != 6 {
				t.Fatalf("queue holds %d, want 6", got)
			}
			names, err := os.ReadDir(filepath.Join(c.cfgs[0].Dir, "raft"))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range names {
				if e.Name() == "wal" || e.Name() == "raft.db" {
					got = append(got, e.Name())
				}
			}
			if len(got) != 1 || got[0] != tc.file {
				t.Fatalf("raft directory holds log stores %v, want only %s", got, tc.file)
			}
		})
	}
}

// TestBothLogStoresRefused: a Raft directory with both stores' files is
// ambiguous and the node refuses to open rather than guess.
func TestBothLogStoresRefused(t *testing.T) {
	dir := t.TempDir()
	raftDir := filepath.Join(dir, "raft")
	if err := os.MkdirAll(filepath.Join(raftDir, "wal"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(raftDir, "raft.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := TestConfig()
	cfg.NodeID, cfg.Dir, cfg.Bootstrap = "n0", dir, true
	n, err := Open(cfg)
	if err == nil {
		n.Kill()
		t.Fatal("Open succeeded with both raft.db and wal/ present")
	}
	if !strings.Contains(err.Error(), "both") {
		t.Fatalf("Open: %v, want an error naming both log stores", err)
	}
}
