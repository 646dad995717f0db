package broker

import (
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/testutil"
)

// TestApplyWatchdog: a leader whose FSM stops applying while entries are
// committed hands its leadership over after ApplyStallTimeout; a leader
// with nothing pending keeps it, and a negative timeout turns the
// watchdog off.
func TestApplyWatchdog(t *testing.T) {
	fast := func(c *Config) { c.ApplyStallTimeout = 40 * time.Millisecond }
	t.Run("stuck leader transfers", func(t *testing.T) {
		b, f := newTestBroker(t, fast)
		f.SetCommitAhead(3)
		testutil.WaitFor(t, 5*time.Second, "the stuck leader to hand over", func() bool { return !b.IsLeader() })
		if id, _ := f.Leader(); id != "n2" {
			t.Fatalf("leader after the transfer %q; want n2", id)
		}
	})
	t.Run("idle leader stays", func(t *testing.T) {
		b, f := newTestBroker(t, fast)
		testutil.WaitFor(t, 5*time.Second, "20 watchdog looks", func() bool { return f.StatusCalls() >= 20 })
		if !b.IsLeader() {
			t.Fatal("a leader with nothing pending handed its leadership over")
		}
	})
	t.Run("disabled", func(t *testing.T) {
		b, f := newTestBroker(t, func(c *Config) { c.ApplyStallTimeout = -1 })
		f.SetCommitAhead(3)
		mustCreate(t, b, "t", 1) // a broker call, so the test runs past any tick
		if !b.IsLeader() || f.StatusCalls() != 0 {
			t.Fatalf("disabled watchdog: leader %v, %d Status calls", b.IsLeader(), f.StatusCalls())
		}
	})
}
