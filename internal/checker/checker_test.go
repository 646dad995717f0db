package checker_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/checker"
	"github.com/raftmq/raftmq/internal/testcluster"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := testcluster.RemoveBuilds(); err != nil {
		fmt.Fprintln(os.Stderr, "remove test builds:", err)
	}
	os.Exit(code)
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  checker.Config
		ok   bool
	}{
		{"defaults", checker.Config{Addrs: []string{"a:1"}}, true},
		{"no address", checker.Config{}, false},
		{"negative producers", checker.Config{Addrs: []string{"a:1"}, Producers: -1}, false},
		{"bad run id", checker.Config{Addrs: []string{"a:1"}, RunID: "a|b"}, false},
		{"send below request timeout", checker.Config{Addrs: []string{"a:1"}, RequestTimeout: time.Minute, SendTimeout: time.Second}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checker.New(tc.cfg)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, checker.ErrInvalidConfig)) {
				t.Fatalf("New: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestPhases(t *testing.T) {
	ck, err := checker.New(checker.Config{Addrs: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ck.Stop(); !errors.Is(err, checker.ErrState) {
		t.Fatalf("Stop before Start: %v", err)
	}
	if _, err := ck.Check(t.Context()); !errors.Is(err, checker.ErrState) {
		t.Fatalf("Check before Start: %v", err)
	}
	if err := ck.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ck.Start(t.Context()); !errors.Is(err, checker.ErrState) {
		t.Fatalf("Start after Close: %v", err)
	}
}

// TestRunAgainstCluster runs a short workload on a healthy three-node
// group: every send is acked, the report is OK, and the history holds
// every send and read.
func TestRunAgainstCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test (builds raftmq, runs 3 brokers); skipped with -short")
	}
	c := testcluster.Start(t, testcluster.Options{Nodes: 3})
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	ck, err := checker.New(checker.Config{Addrs: c.Addrs(), Queues: 3, Producers: 3, BodySize: 200, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	rep, err := ck.Run(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", rep)
	if !rep.OK() || rep.Acked == 0 || rep.Acked != rep.Attempted || rep.Queues != 3 || len(rep.Sources) != 4 || rep.Duplicates != 0 {
		t.Fatalf("unexpected report:\n%s", rep)
	}
	var buf bytes.Buffer
	if err := ck.WriteHistory(&buf); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var line struct{ Kind string }
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("history line %q: %v", sc.Text(), err)
		}
		kinds[line.Kind]++
	}
	// Each acked message is read from 3 replicas and by the group.
	if kinds["send"] != rep.Attempted || kinds["read"] < 4*rep.Acked || kinds["fault"] != 0 {
		t.Fatalf("history kinds %v for %d sends", kinds, rep.Attempted)
	}
}
