package cli

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftmq/raftmq/api"
	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/raftfsm"
)

// The broker these tests drive is wired the way cmd/raftmq's daemon
// wires it (raftfsm node, broker, api gRPC server with the health
// service), in this process. The daemon package itself cannot be
// imported from here: it is internal to cmd/raftmq.

// testGroup and testNode name the test broker's group and node.
const (
	testGroup = "broker-a"
	testNode  = "n1"
)

// startBroker starts a real single-node group on 127.0.0.1 ports (with
// topics auto-created on first produce if autoCreate is set), waits until `mqctl health` passes against it, and
// stops it when the test ends. It returns the gRPC address.
func startBroker(t *testing.T, autoCreate bool) string {
	t.Helper()
	addr, _ := startStoppableBroker(t, autoCreate)
	return addr
}

// startStoppableBroker is startBroker that also returns a function that
// stops the broker before the test ends (idempotent).
func startStoppableBroker(t *testing.T, autoCreate bool) (addr string, stop func()) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	rc := raftfsm.TestConfig()
	rc.NodeID, rc.Dir, rc.RaftBind, rc.Bootstrap, rc.Logger = testNode, t.TempDir(), "127.0.0.1:0", true, log
	node, err := raftfsm.Open(rc)
	if err != nil {
		t.Fatalf("open raft node: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = node.Close()
		t.Fatal(err)
	}
	addr = lis.Addr().String()
	bc := broker.TestConfig()
	bc.GroupID, bc.NodeID, bc.GRPCAddr = testGroup, testNode, addr
	bc.AutoCreateTopics, bc.MessageLimits, bc.Logger = autoCreate, rc.Store, log
	b, err := broker.New(bc, node)
	if err != nil {
		_ = node.Close()
		_ = lis.Close()
		t.Fatalf("start broker: %v", err)
	}
	gs, srv := api.NewServer(b, api.Options{Logger: log})
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			// The daemon's shutdown order: health NOT_SERVING, broker
			// (and Raft node) closed, then gRPC drained.
			if err := srv.Close(); err != nil {
				t.Errorf("close api server: %v", err)
			}
			if err := b.Close(); err != nil {
				t.Errorf("close broker: %v", err)
			}
			gs.GracefulStop()
			if err := <-served; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	testutil.WaitFor(t, 20*time.Second, "mqctl health to pass", func() bool {
		code, _, _ := runQuiet(t, "health", "-s", addr, "--timeout", "1s")
		return code == ExitOK
	})
	// Health is SERVING as soon as gRPC serves; wait for the election and
	// for the leader to apply its first entry too.
	testutil.WaitFor(t, 20*time.Second, "a leader that applied an entry", func() bool {
		code, out, _ := runQuiet(t, "cluster", "status", "-s", addr, "--timeout", "1s", "--json")
		return code == ExitOK && strings.Contains(out, `"role": "leader"`) && !strings.Contains(out, `"applied_index": 0,`)
	})
	return addr, stop
}

// runIn runs mqctl with stdin and the test's context, logging the result.
func runIn(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = execute(t.Context(), "test-version", args, strings.NewReader(stdin), &out, &errOut)
	t.Logf("mqctl %s -> %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return code, out.String(), errOut.String()
}

// runQuiet runs mqctl without logging (for polling).
func runQuiet(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = execute(t.Context(), "test-version", args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
