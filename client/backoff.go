package client

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoffDelay is the wait before retry number n (0-based): initial doubled
// n times, capped at maxWait, then jittered to a random value in [d/2, d] so
// that clients retrying the same failure spread out.
func backoffDelay(initial, maxWait time.Duration, n int) time.Duration {
	d := initial
	for i := 0; i < n && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1))
}

// sleepCtx waits for d or until ctx ends, and reports whether the full wait
// elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
