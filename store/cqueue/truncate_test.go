package cqueue

import (
	"slices"
	"testing"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		name      string
		minPhysAt uint64 // DeleteBefore(entryFor(minPhysAt).Offset) first; 0 = none
		to        uint64
		wantMin   uint64
		wantMax   uint64
		wantFiles []string
	}{
		{"middle of file", 0, 10, 0, 10, []string{fileName(0), fileName(7)}},
		{"file boundary", 0, 14, 0, 14, []string{fileName(0), fileName(7), fileName(14)}},
		{"start of first file", 0, 0, 0, 0, []string{fileName(0)}},
		{"at max", 0, 30, 0, 30, []string{fileName(0), fileName(7), fileName(14), fileName(21), fileName(28)}},
		{"beyond max clamps", 0, 99, 0, 30, []string{fileName(0), fileName(7), fileName(14), fileName(21), fileName(28)}},
		{"below min clamps", 16, 3, 16, 16, []string{fileName(14)}},
		{"at min", 16, 16, 16, 16, []string{fileName(14)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, dir := newQueue(t, testEPF)
			putRange(t, q, 0, 30, 8)
			if tt.minPhysAt > 0 {
				if _, err := q.DeleteBefore(entryFor(tt.minPhysAt).Offset); err != nil {
					t.Fatal(err)
				}
			}
			if err := q.Truncate(tt.to); err != nil {
				t.Fatalf("Truncate(%d): %v", tt.to, err)
			}
			checkBounds(t, q, tt.wantMin, tt.wantMax)
			checkRange(t, q, tt.wantMin, tt.wantMax)
			if got := fileNames(t, dir); !slices.Equal(got, tt.wantFiles) {
				t.Errorf("files = %v, want %v", got, tt.wantFiles)
			}

			// Reopen finds the cut, and DeleteBefore restores MinOffset.
			q = reopen(t, q, dir, testEPF)
			if tt.minPhysAt > 0 {
				if _, err := q.DeleteBefore(entryFor(tt.minPhysAt).Offset); err != nil {
					t.Fatal(err)
				}
			}
			checkBounds(t, q, tt.wantMin, tt.wantMax)
			checkRange(t, q, tt.wantMin, tt.wantMax)

			// Appending after the cut works and survives another reopen.
			putRange(t, q, tt.wantMax, 12, 5)
			q = reopen(t, q, dir, testEPF)
			checkBounds(t, q, fileStart(tt.wantMin), tt.wantMax+12)
			checkRange(t, q, fileStart(tt.wantMin), tt.wantMax+12)
		})
	}
}

// TestTruncateThenOverwrite cuts the tail and re-dispatches different
// entries, as recovery does after the CommitLog lost its torn tail.
func TestTruncateThenOverwrite(t *testing.T) {
	q, dir := newQueue(t, testEPF)
	putRange(t, q, 0, 20, 20)
	if err := q.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := q.Truncate(9); err != nil {
		t.Fatal(err)
	}
	if got, err := q.Get(9, 5, nil); err != nil || len(got) != 0 {
		t.Errorf("Get(9) after Truncate(9) = %v, %v; want nothing", got, err)
	}
	putRange(t, q, 9, 2, 2)
	if err := q.Sync(); err != nil {
		t.Fatal(err)
	}
	q = reopen(t, q, dir, testEPF)
	checkBounds(t, q, 0, 11)
	checkRange(t, q, 0, 11)
}

func fileStart(qo uint64) uint64 { return qo / testEPF * testEPF }
