package cqueue

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentReaders runs one writer (appends, overwrites with the same
// data, syncs, retention, and optionally truncation followed by
// re-dispatch) against readers that check every entry they get is the one
// written at its offset. Run it under -race.
func TestConcurrentReaders(t *testing.T) {
	tests := []struct {
		name     string
		truncate bool
	}{
		{"append and retention", false},
		{"with truncate", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			q, _ := newQueue(t, testEPF)
			var done atomic.Bool
			var wg sync.WaitGroup
			var reads atomic.Int64
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rnd := rand.New(rand.NewPCG(seed, uint64(i)+1))
					for !done.Load() || reads.Load() < 100 {
						if err := readAndCheck(q, rnd, !tt.truncate); err != nil {
							t.Error(err)
							return
						}
						reads.Add(1)
					}
				}()
			}
			err := writeLoad(q, rand.New(rand.NewPCG(seed, 0)), 3000, tt.truncate)
			done.Store(true)
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d reads", reads.Load())
			checkRange(t, q, q.MinOffset(), q.MaxOffset())
		})
	}
}

// writeLoad appends n entries in random batches, as the dispatcher would.
func writeLoad(q *Queue, rnd *rand.Rand, n uint64, truncate bool) error {
	for q.MaxOffset() < n {
		maxOff := q.MaxOffset()
		switch r := rnd.IntN(100); {
		case r < 5 && maxOff > q.MinOffset()+5: // re-dispatch over the tail
			from := maxOff - 5
			if err := q.Put(from, entriesFor(from, 5+uint64(rnd.IntN(5)))); err != nil {
				return err
			}
		case r < 8 && truncate && maxOff > q.MinOffset()+10:
			cut := maxOff - uint64(rnd.IntN(10))
			if err := q.Truncate(cut); err != nil {
				return err
			}
			if err := q.Put(cut, entriesFor(cut, maxOff-cut)); err != nil {
				return err
			}
		case r < 15:
			if err := q.Sync(); err != nil {
				return err
			}
		case r < 18 && maxOff > 100:
			if _, err := q.DeleteBefore(entryFor(maxOff - 100).Offset); err != nil {
				return err
			}
		default:
			k := uint64(rnd.IntN(20)) + 1
			if err := q.Put(maxOff, entriesFor(maxOff, k)); err != nil {
				return err
			}
		}
	}
	return nil
}

// readAndCheck does one random Get or SearchPhys and checks what it got.
// strict also checks that nothing at or past MaxOffset came back, which is
// only meaningful while MaxOffset never decreases (no Truncate).
func readAndCheck(q *Queue, rnd *rand.Rand, strict bool) error {
	lo, hi := q.MinOffset(), q.MaxOffset()
	from := lo + uint64(rnd.IntN(int(hi-lo)+1))
	if rnd.IntN(4) == 0 && hi > lo {
		k := lo + uint64(rnd.IntN(int(hi-lo)))
		got, err := q.SearchPhys(entryFor(k).Offset)
		if errors.Is(err, ErrOffset) {
			return nil // retention or a cut moved the bounds under the search
		}
		if err != nil {
			return err
		}
		if strict && got != k {
			return errors.New("SearchPhys found the wrong offset")
		}
		return nil
	}
	n := rnd.IntN(40) + 1
	got, err := q.Get(from, n, make([]Entry, 0, n))
	after := q.MaxOffset()
	if errors.Is(err, ErrOffset) {
		if strict && from >= q.MinOffset() {
			return err // only retention may make a valid offset invalid
		}
		return nil
	}
	if err != nil {
		return err
	}
	if len(got) > n || (strict && (from+uint64(len(got)) > after || uint64(len(got)) < min(uint64(n), hi-from))) {
		return errors.New("Get returned a wrong number of entries")
	}
	for i, e := range got {
		if e != entryFor(from+uint64(i)) {
			return errors.New("Get returned an entry that was never written at its offset")
		}
	}
	return nil
}
