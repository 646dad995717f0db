package membership

import (
	"context"
	"math/rand/v2"
	"time"
)

// joinLoop joins the seeds until this node sees another alive member, then
// checks every JoinRetryMax whether it is alone again (every other member
// dead, left or reaped: a full restart or a healed partition) and, if so,
// joins again. It runs until ctx is cancelled by Leave or Close.
//
// "Joined" means memberlist knows at least one other alive node after
// Join returns, not that Join reached some address: a seed list usually
// includes the node itself, and reaching only itself must not end the loop.
func (m *Membership) joinLoop(ctx context.Context) {
	defer close(m.joinDone)
	b := newBackoff(m.cfg.JoinRetryMin, m.cfg.JoinRetryMax, rand.Int64N)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if m.ml.NumMembers() > 1 {
			b.reset()
			timer.Reset(m.cfg.JoinRetryMax)
			continue
		}
		n, err := m.ml.Join(m.cfg.Join)
		m.joinAttempts.Add(1)
		if m.ml.NumMembers() > 1 {
			m.log.Info("joined cluster", "contacted", n, "alive", m.ml.NumMembers())
			b.reset()
			timer.Reset(m.cfg.JoinRetryMax)
			continue
		}
		delay := b.next()
		m.log.Debug("join failed, retrying", "seeds", m.cfg.Join, "contacted", n, "err", err, "retry_in", delay)
		timer.Reset(delay)
	}
}

// backoff yields exponentially growing delays between min and max with
// "equal jitter": each delay is uniform in [d/2, d] for the current step d,
// so nodes started together do not retry in lockstep.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
	// int64n returns a uniform value in [0, n); rand.Int64N in production,
	// seeded in tests.
	int64n func(n int64) int64
}

func newBackoff(min, max time.Duration, int64n func(int64) int64) *backoff {
	return &backoff{min: min, max: max, cur: min, int64n: int64n}
}

// next returns the next delay and doubles the step up to max.
func (b *backoff) next() time.Duration {
	d := b.cur
	b.cur = min(b.cur*2, b.max)
	half := d / 2
	return half + time.Duration(b.int64n(int64(d-half)+1))
}

// reset starts again from min.
func (b *backoff) reset() { b.cur = b.min }
