package cqueue

import (
	"errors"
	"slices"
	"testing"
)

func TestDeleteBefore(t *testing.T) {
	beyond := entryFor(1000).Offset
	tests := []struct {
		name      string
		n         uint64 // entries written
		phys      int64
		wantFiles int
		wantMin   uint64
		wantLeft  []string
	}{
		{"nothing below", 30, entryFor(0).Offset, 0, 0, []string{fileName(0), fileName(7), fileName(14), fileName(21), fileName(28)}},
		{"inside first file", 30, entryFor(5).Offset, 0, 5, []string{fileName(0), fileName(7), fileName(14), fileName(21), fileName(28)}},
		{"between entries", 30, entryFor(5).Offset - 1, 0, 5, []string{fileName(0), fileName(7), fileName(14), fileName(21), fileName(28)}},
		{"first file exactly", 30, entryFor(7).Offset, 1, 7, []string{fileName(7), fileName(14), fileName(21), fileName(28)}},
		{"two files and a bit", 30, entryFor(16).Offset, 2, 16, []string{fileName(14), fileName(21), fileName(28)}},
		{"into live file", 30, entryFor(29).Offset, 4, 29, []string{fileName(28)}},
		{"all below keeps live", 30, beyond, 4, 30, []string{fileName(28)}},
		{"all below, live file full", 28, beyond, 3, 28, []string{fileName(21)}},
		{"single file", 5, beyond, 0, 5, []string{fileName(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, dir := newQueue(t, testEPF)
			putRange(t, q, 0, tt.n, 6)
			files, err := q.DeleteBefore(tt.phys)
			if err != nil || files != tt.wantFiles {
				t.Fatalf("DeleteBefore = %d, %v; want %d files", files, err, tt.wantFiles)
			}
			checkBounds(t, q, tt.wantMin, tt.n)
			checkRange(t, q, tt.wantMin, tt.n)
			if got := fileNames(t, dir); !slices.Equal(got, tt.wantLeft) {
				t.Errorf("files = %v, want %v", got, tt.wantLeft)
			}
			if _, err := q.Get(tt.wantMin-min(tt.wantMin, 1), 1, nil); tt.wantMin > 0 && !errors.Is(err, ErrOffset) {
				t.Errorf("Get below MinOffset = %v, want ErrOffset", err)
			}

			// Idempotent, and a lower phys never moves MinOffset back.
			for _, phys := range []int64{tt.phys, entryFor(0).Offset} {
				if files, err := q.DeleteBefore(phys); err != nil || files != 0 {
					t.Fatalf("DeleteBefore(%d) again = %d, %v; want 0 files", phys, files, err)
				}
				checkBounds(t, q, tt.wantMin, tt.n)
			}

			// After a reopen, the same call restores the same MinOffset.
			q = reopen(t, q, dir, testEPF)
			if files, err := q.DeleteBefore(tt.phys); err != nil || files != 0 {
				t.Fatalf("DeleteBefore after reopen = %d, %v; want 0 files", files, err)
			}
			checkBounds(t, q, tt.wantMin, tt.n)
			checkRange(t, q, tt.wantMin, tt.n)

			// The queue keeps growing from where it was.
			putRange(t, q, tt.n, 10, 4)
			checkRange(t, q, tt.wantMin, tt.n+10)
		})
	}
}

func TestDeleteBeforeEmptyQueue(t *testing.T) {
	q, dir := newQueue(t, testEPF)
	if files, err := q.DeleteBefore(1 << 40); err != nil || files != 0 {
		t.Fatalf("DeleteBefore on empty queue = %d, %v", files, err)
	}
	checkBounds(t, q, 0, 0)
	if names := fileNames(t, dir); len(names) != 0 {
		t.Errorf("files = %v, want none", names)
	}
}

// TestDeleteBeforeStopsAtHole checks that retention neither removes a file
// whose last entry is unwritten nor moves MinOffset past the hole, which
// re-dispatch must still be able to fill.
func TestDeleteBeforeStopsAtHole(t *testing.T) {
	q, _ := newQueue(t, testEPF)
	putRange(t, q, 0, 6, 6) // file 0 misses its last entry
	// Write file 1 directly, as a crash that kept file 1 but not the end of
	// file 0 would leave it; then pretend Open found MaxOffset 10.
	h, err := q.acquire(1)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, e := range entriesFor(7, 3) {
		b = e.AppendTo(b)
	}
	if _, err := h.f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	q.hdls.release(h)
	q.end = 2
	q.max.Store(10)

	files, err := q.DeleteBefore(entryFor(8).Offset)
	if err != nil || files != 0 {
		t.Fatalf("DeleteBefore = %d, %v; want 0 files", files, err)
	}
	if got := q.MinOffset(); got != 6 {
		t.Errorf("MinOffset = %d, want 6 (the hole)", got)
	}
	if _, err := q.Get(6, 2, nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get over the hole = %v, want ErrCorrupt", err)
	}
	if err := q.Put(6, entriesFor(6, 1)); err != nil {
		t.Fatalf("filling the hole: %v", err)
	}
	checkRange(t, q, 6, 10)
	if files, err := q.DeleteBefore(entryFor(8).Offset); err != nil || files != 1 {
		t.Fatalf("DeleteBefore after fill = %d, %v; want 1 file", files, err)
	}
	checkBounds(t, q, 8, 10)
}
