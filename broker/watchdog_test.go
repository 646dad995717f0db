package broker

import (
	"errors"
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/testutil"
)

// TestApplyWatchdog: a leader whose FSM has been stuck in one apply for
// ApplyStallTimeout hands its leadership over; a leader with nothing to
// apply keeps it, also when its commit index is ahead of the applied index
// (a new leader's no-op, which the FSM is never given), and a negative
// timeout turns the watchdog off.
func TestApplyWatchdog(t *testing.T) {
	fast := func(c *Config) { c.ApplyStallTimeout = 40 * time.Millisecond }
	t.Run("stuck leader transfers", func(t *testing.T) {
		b, f := newTestBroker(t, fast)
		f.SetCommitAhead(3)
		f.SetApplyingFor(time.Second)
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
	t.Run("idle leader after its no-op stays", func(t *testing.T) {
		b, f := newTestBroker(t, fast)
		f.SetCommitAhead(1)
		testutil.WaitFor(t, 5*time.Second, "20 watchdog looks", func() bool { return f.StatusCalls() >= 20 })
		if !b.IsLeader() {
			t.Fatal("a leader whose FSM applies nothing, with only a no-op committed past it, handed its leadership over")
		}
	})
	t.Run("failing hand-over is retried once per timeout", func(t *testing.T) {
		b, f := newTestBroker(t, fast)
		f.FailTransfers(errors.New("no other voter"))
		f.SetApplyingFor(time.Second)
		// 40 looks at limit/4 apart span ten timeouts: one attempt per
		// timeout, not one per look.
		testutil.WaitFor(t, 5*time.Second, "40 watchdog looks", func() bool { return f.StatusCalls() >= 40 })
		if n := f.Transfers(); n < 2 || n > 12 {
			t.Fatalf("%d hand-over attempts over 40 looks (10 timeouts); want one per timeout", n)
		}
		if !b.IsLeader() {
			t.Fatal("the leader changed although every transfer failed")
		}
	})
	t.Run("disabled", func(t *testing.T) {
		b, f := newTestBroker(t, func(c *Config) { c.ApplyStallTimeout = -1 })
		f.SetCommitAhead(3)
		f.SetApplyingFor(time.Second)
		mustCreate(t, b, "t", 1) // a broker call, so the test runs past any tick
		if !b.IsLeader() || f.StatusCalls() != 0 {
			t.Fatalf("disabled watchdog: leader %v, %d Status calls", b.IsLeader(), f.StatusCalls())
		}
	})
}
