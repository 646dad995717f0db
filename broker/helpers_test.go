package broker

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/raftmq/raftmq/broker/internal/fakerepl"
	"github.com/raftmq/raftmq/raftfsm"
	"github.com/raftmq/raftmq/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Compile-time checks: the real node and the fake both satisfy Replicator.
var (
	_ Replicator = (*raftfsm.Node)(nil)
	_ Replicator = (*fakerepl.Fake)(nil)
)

// newTestBroker starts a broker over a fresh fake replica (the leader of
// group "g" as node "n1" at "n1:9876"; "n2" is a follower at "n2:9876").
func newTestBroker(t *testing.T, mod func(*Config)) (*Broker, *fakerepl.Fake) {
	t.Helper()
	return newTestBrokerStore(t, store.TestOptions(), mod)
}

// newTestBrokerStore is newTestBroker with the fake's store options.
func newTestBrokerStore(t *testing.T, opts store.Options, mod func(*Config)) (*Broker, *fakerepl.Fake) {
	t.Helper()
	f, err := fakerepl.New("n1", t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	f.SetServers([]raftfsm.Peer{{ID: "n1", RaftAddr: "n1:raft"}, {ID: "n2", RaftAddr: "n2:raft"}})
	cfg := TestConfig()
	cfg.GroupID, cfg.NodeID, cfg.GRPCAddr = "g", "n1", "n1:9876"
	cfg.Peers = map[string]string{"n2": "n2:9876"}
	if mod != nil {
		mod(&cfg)
	}
	b, err := New(cfg, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b, f
}

func mustCreate(t *testing.T, b *Broker, name string, queues uint32) {
	t.Helper()
	if err := b.CreateTopic(t.Context(), Topic{Name: name, Queues: queues}, nil); err != nil {
		t.Fatalf("CreateTopic(%s): %v", name, err)
	}
}
