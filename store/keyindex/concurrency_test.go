package keyindex

import (
	"sync"
	"testing"
)

// TestConcurrentLookup runs lookups while one writer adds, seals, flushes,
// truncates and deletes; run it with -race. Every result must be a phys
// that was added with that hash, newest first.
func TestConcurrentLookup(t *testing.T) {
	r := newRand(t)
	x := openT(t, t.TempDir(), tiny)
	defer x.Close()
	g := newGen(r, 4)
	batches := make([][]Item, 60)
	hashOf := map[int64]uint32{}
	for i := range batches {
		batches[i] = g.next(1 + r.IntN(15))
		for _, it := range batches[i] {
			hashOf[it.Phys] = it.Hash
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := g.keys[w]
			for {
				select {
				case <-done:
					return
				default:
				}
				got, err := x.Lookup(h, 0, 1<<62, 0)
				if err != nil {
					errs <- err
					return
				}
				for i, p := range got {
					if hashOf[p] != h || (i > 0 && got[i-1] <= p) {
						t.Errorf("lookup %#x returned %v: %d is wrong or out of order", h, got, p)
						return
					}
				}
			}
		}()
	}
	for i, b := range batches {
		if err := x.Add(b); err != nil {
			t.Fatal(err)
		}
		x.MarkCovered(b[len(b)-1].Phys + 1)
		switch i % 10 {
		case 3:
			if err := x.Flush(); err != nil {
				t.Fatal(err)
			}
		case 7:
			if _, err := x.DeleteBefore(b[0].Phys); err != nil {
				t.Fatal(err)
			}
		case 9:
			if err := x.Truncate(b[len(b)-1].Phys); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
