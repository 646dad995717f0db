package membership

import (
	"fmt"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testNode is one Membership under test with a switchable HasRaftState.
type testNode struct {
	*Membership
	state atomic.Bool
}

// nodeConfig returns a TestConfig for id in group with fake gRPC and Raft
// addresses derived from n.
func nodeConfig(id, group string, n int, seeds ...string) Config {
	c := TestConfig()
	c.NodeID = id
	c.Group = group
	c.GRPCAddr = fmt.Sprintf("127.0.0.1:%d", 20000+n)
	c.RaftAddr = fmt.Sprintf("127.0.0.1:%d", 30000+n)
	c.Version = "v0.0.0-test"
	c.Join = seeds
	return c
}

// startNode starts a Membership from cfg, wiring HasRaftState to the
// returned node's flag; it is closed when the test ends.
func startNode(t *testing.T, cfg Config) *testNode {
	t.Helper()
	n := &testNode{}
	cfg.HasRaftState = n.state.Load
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", cfg.NodeID, err)
	}
	n.Membership = m
	t.Cleanup(func() { _ = m.Close() })
	return n
}

// memberOf returns the member id as node m sees it.
func memberOf(m *Membership, id string) (Member, bool) {
	for _, mem := range m.Members() {
		if mem.ID == id {
			return mem, true
		}
	}
	return Member{}, false
}

// sees reports whether m sees id in state st.
func sees(m *Membership, id string, st State) bool {
	mem, ok := memberOf(m, id)
	return ok && mem.State == st
}
