package cqueue

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/raftmq/raftmq/store/vfs"
)

func TestReopenClean(t *testing.T) {
	tests := []struct {
		name string
		n    uint64
	}{
		{"empty", 0},
		{"one", 1},
		{"mid file", 10},
		{"file boundary", 14},
		{"many files", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, dir := newQueue(t, testEPF)
			putRange(t, q, 0, tt.n, 4)
			q = reopen(t, q, dir, testEPF)
			checkBounds(t, q, 0, tt.n)
			checkRange(t, q, 0, tt.n)
			putRange(t, q, tt.n, 10, 3)
			checkRange(t, q, 0, tt.n+10)
		})
	}
}

func TestOpenCreatesNestedDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "topic-3")
	q := openQueue(t, dir, testEPF)
	defer q.Close()
	if st, err := vfs.OS().Stat(dir); err != nil || !st.IsDir {
		t.Fatalf("Stat(%s) = %+v, %v", dir, st, err)
	}
	checkBounds(t, q, 0, 0)
}

// TestReopenTornTail damages the last file the ways a crash or
// preallocation can, and checks that Open finds the logical end, cuts the
// rest, and that appends after it are read back correctly.
func TestReopenTornTail(t *testing.T) {
	partial := entryFor(12).AppendTo(nil)[:11]
	tests := []struct {
		name   string
		n      uint64 // entries written
		damage []byte // appended to the last file
		want   uint64 // MaxOffset after reopen
	}{
		{"zero filled", 12, make([]byte, 4096), 12},
		{"zero filled at boundary", 14, make([]byte, 100), 14},
		{"partial entry", 12, partial, 12},
		{"zeros then partial", 12, append(make([]byte, 3), partial...), 12},
		{"partial at boundary", 7, partial, 7},
		{"hole then stale entry", 12, append(make([]byte, EntrySize), entryFor(99).AppendTo(nil)...), 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, dir := newQueue(t, testEPF)
			putRange(t, q, 0, tt.n, 5)
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			names := fileNames(t, dir)
			appendToFile(t, filepath.Join(dir, names[len(names)-1]), tt.damage)

			q = openQueue(t, dir, testEPF)
			defer q.Close()
			checkBounds(t, q, 0, tt.want)
			checkRange(t, q, 0, tt.want)
			// Appending must not revive anything that was past the end.
			putRange(t, q, tt.want, 1, 1)
			q2 := reopen(t, q, dir, testEPF)
			checkBounds(t, q2, 0, tt.want+1)
			checkRange(t, q2, 0, tt.want+1)
		})
	}
}

// TestReopenEmptyTailFiles covers files created before a crash whose
// contents never reached the disk: Open steps back to the last file with
// data and removes the empty ones after it.
func TestReopenEmptyTailFiles(t *testing.T) {
	q, dir := newQueue(t, testEPF)
	putRange(t, q, 0, 10, 10)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	// Files 2 and 3 exist but hold only zeros (file 1 is 3/7 full).
	for _, start := range []uint64{14, 21} {
		if err := os.WriteFile(filepath.Join(dir, fileName(start)), make([]byte, 7*EntrySize), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	q = openQueue(t, dir, testEPF)
	defer q.Close()
	checkBounds(t, q, 0, 10)
	if got, want := fileNames(t, dir), []string{fileName(0), fileName(7)}; !slices.Equal(got, want) {
		t.Errorf("files after Open = %v, want %v", got, want)
	}
	putRange(t, q, 10, 20, 6)
	checkRange(t, q, 0, 30)
}

func TestReopenAllEmpty(t *testing.T) {
	dir := t.TempDir()
	for _, start := range []uint64{14, 21} {
		if err := os.WriteFile(filepath.Join(dir, fileName(start)), make([]byte, 30), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	q := openQueue(t, dir, testEPF)
	defer q.Close()
	checkBounds(t, q, 14, 14)
	putRange(t, q, 14, 10, 4)
	checkRange(t, q, 14, 24)
}

func TestOpenCorrupt(t *testing.T) {
	tests := []struct {
		name  string
		files []string
	}{
		{"gap", []string{fileName(0), fileName(14)}},
		{"not digits", []string{fileName(0), "0000000000000000014x"}},
		{"short name", []string{fileName(0), "140"}},
		{"temp file", []string{fileName(0), fileName(7) + ".tmp"}},
		{"off boundary", []string{fileName(0), fileName(8)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), entryFor(0).AppendTo(nil), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			q, err := Open(vfs.OS(), dir, Options{EntriesPerFile: testEPF})
			if !errors.Is(err, ErrCorrupt) {
				if err == nil {
					q.Close()
				}
				t.Fatalf("Open = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestOpenInvalidOptions(t *testing.T) {
	if _, err := Open(vfs.OS(), t.TempDir(), Options{}); err == nil {
		t.Fatal("Open with EntriesPerFile 0 succeeded")
	}
}
