package membership

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	const lo, hi = 100 * time.Millisecond, 3 * time.Second
	b := newBackoff(lo, hi, rng.Int64N)
	step := lo
	for i := range 12 {
		d := b.next()
		if d < step/2 || d > step {
			t.Fatalf("delay %d = %v, want in [%v, %v]", i, d, step/2, step)
		}
		step = min(step*2, hi)
	}
	b.reset()
	if d := b.next(); d < lo/2 || d > lo {
		t.Fatalf("delay after reset = %v, want in [%v, %v]", d, lo/2, lo)
	}
}
