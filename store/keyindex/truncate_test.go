package keyindex

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

// seqItems are n items with phys 100*i, store time i seconds, and hashes
// cycling over 5 keys.
func seqItems(n int) []Item {
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{Hash: KeyHash("t", fmt.Sprint(i%5)), Phys: int64(i) * 100, StoreTime: int64(i) * 1000}
	}
	return items
}

func seqKeys() *gen {
	g := &gen{}
	for i := range 5 {
		g.keys = append(g.keys, KeyHash("t", fmt.Sprint(i)))
	}
	return g
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name      string
		phys      int64
		wantFiles int
	}{
		{"inside active file", 2250, 3},
		{"at active file start", 2000, 2},
		{"inside sealed file", 1450, 2},
		{"at sealed file start", 1000, 1},
		{"inside first file", 50, 1},
		{"before everything", 0, 0},
		{"past the end", 1 << 40, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			x := openT(t, dir, tiny)
			items := seqItems(27)
			m, g := &model{items: items}, seqKeys()
			if err := x.Add(items); err != nil {
				t.Fatal(err)
			}
			x.MarkCovered(2700)
			if err := x.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := x.Truncate(tt.phys); err != nil {
				t.Fatal(err)
			}
			if x.Files() != tt.wantFiles {
				t.Fatalf("Files() = %d, want %d", x.Files(), tt.wantFiles)
			}
			if want := min(2700, tt.phys); x.Covered() != want && tt.wantFiles > 0 {
				t.Fatalf("Covered() = %d, want %d", x.Covered(), want)
			}
			m = m.below(tt.phys)
			checkAll(t, x, m, g)
			if x.slotTables() > 1 {
				t.Fatalf("%d slot tables", x.slotTables())
			}
			// A new CommitLog tail is added from the cut, then survives a
			// reopen.
			tail := seqItems(40)[len(m.items):]
			for i := range tail {
				tail[i].Hash ^= 1
			}
			if err := x.Add(tail); err != nil {
				t.Fatal(err)
			}
			m.items = append(m.items, tail...)
			x.MarkCovered(4000)
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
			x = openT(t, dir, tiny)
			defer x.Close()
			if x.Covered() != 4000 {
				t.Fatalf("after reopen Covered() = %d, want 4000", x.Covered())
			}
			for _, h := range g.keys {
				g.keys = append(g.keys, h^1)
			}
			checkAll(t, x, m, g)
		})
	}
}

// TestTruncateCrashMidway stops a Truncate after its header writes and
// before any file is removed; Open must finish it.
func TestTruncateCrashMidway(t *testing.T) {
	dir := t.TempDir()
	x := openT(t, dir, tiny)
	items := seqItems(35)
	if err := x.Add(items); err != nil {
		t.Fatal(err)
	}
	x.MarkCovered(3500)
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	const cut = 1450
	x.wmu.Lock()
	last := x.files[len(x.files)-1]
	if err := persist(last, cut); err != nil {
		t.Fatal(err)
	}
	if err := x.trimSurvivor(x.files[1], cut, cut, true); err != nil {
		t.Fatal(err)
	}
	x.wmu.Unlock()
	crash(x)

	x = openT(t, dir, tiny)
	defer x.Close()
	if x.Files() != 2 || x.Covered() != cut {
		t.Fatalf("Files() = %d, Covered() = %d; want 2, %d", x.Files(), x.Covered(), cut)
	}
	checkAll(t, x, (&model{items: items}).below(cut), seqKeys())
}

func TestDeleteBefore(t *testing.T) {
	dir := t.TempDir()
	x := openT(t, dir, tiny)
	defer x.Close()
	items := seqItems(45) // files start at 0, 1000, 2000, 3000, 4000
	if err := x.Add(items); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		phys      int64
		deleted   int
		wantFiles int
	}{
		{0, 0, 5},
		{900, 0, 5},     // file 0 ends at 900, which is not below 900
		{901, 1, 4},     // file 0
		{2950, 2, 2},    // files 1 and 2 (ends 1900 and 2900)
		{1 << 40, 1, 1}, // file 3; the active file stays
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.phys), func(t *testing.T) {
			n, err := x.DeleteBefore(tt.phys)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.deleted || x.Files() != tt.wantFiles {
				t.Fatalf("deleted %d, %d files; want %d, %d", n, x.Files(), tt.deleted, tt.wantFiles)
			}
		})
	}
	// Only the active file is left, and it still answers.
	first := x.files[0].beginPhys
	checkAll(t, x, &model{items: slices.DeleteFunc(slices.Clone(items), func(it Item) bool { return it.Phys < first })}, seqKeys())
	if err := x.Add(seqItems(50)[45:]); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptChain(t *testing.T) {
	setup := func(t *testing.T) (string, []string) {
		dir := t.TempDir()
		x := openT(t, dir, tiny)
		items := make([]Item, 15)
		for i := range items {
			items[i] = Item{Hash: 7, Phys: int64(i), StoreTime: 1000}
		}
		if err := x.Add(items); err != nil {
			t.Fatal(err)
		}
		x.MarkCovered(15)
		if err := x.Close(); err != nil {
			t.Fatal(err)
		}
		return dir, filePaths(t, dir)
	}
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	entryOff := func(n uint32) int64 { return tiny.entryOffset(n) }
	tests := []struct {
		name     string
		file     int
		off      int64
		b        []byte
		openFail bool
	}{
		{"sealed prev points at itself", 0, entryOff(9) + eOffPrev, u32(10), false},
		{"sealed prev points forward", 0, entryOff(5) + eOffPrev, u32(9), false},
		{"sealed slot out of range", 0, slotsOffset + 3*slotSize, u32(11), false},
		{"sealed entry in the wrong chain", 0, entryOff(8) + eOffHash, u32(6), false},
		{"active prev broken", 1, entryOff(3) + eOffPrev, u32(4), true},
		{"active phys out of order", 1, entryOff(2) + eOffPhys, binary.BigEndian.AppendUint64(nil, 1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, paths := setup(t)
			writeBytes(t, paths[tt.file], tt.off, tt.b)
			x, err := Open(vfsOS, dir, tiny)
			if tt.openFail {
				wantErr(t, err, ErrCorrupt)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			_, err = x.Lookup(7, 0, 1<<40, 0)
			wantErr(t, err, ErrCorrupt)
		})
	}
}

// TestTruncateEverythingKeepsCovered cuts below the first entry: an empty
// carrier file keeps covered, and the next Add replaces it.
func TestTruncateEverythingKeepsCovered(t *testing.T) {
	dir := t.TempDir()
	x := openT(t, dir, tiny)
	items := seqItems(25)
	for i := range items {
		items[i].Phys += 1000
	}
	if err := x.Add(items); err != nil {
		t.Fatal(err)
	}
	x.MarkCovered(3500)
	if err := x.Truncate(500); err != nil {
		t.Fatal(err)
	}
	if x.Files() != 1 || x.Covered() != 500 {
		t.Fatalf("Files() = %d, Covered() = %d; want 1, 500", x.Files(), x.Covered())
	}
	if got := filePaths(t, dir); len(got) != 1 || filepath.Base(got[0]) != fileName(500) {
		t.Fatalf("files %v, want only %s", got, fileName(500))
	}
	crash(x)
	x = openT(t, dir, tiny)
	if x.Covered() != 500 {
		t.Fatalf("after reopen Covered() = %d, want 500", x.Covered())
	}
	checkAll(t, x, &model{}, seqKeys())
	next := Item{Hash: KeyHash("t", "0"), Phys: 600, StoreTime: 5000}
	if err := x.Add([]Item{next}); err != nil {
		t.Fatal(err)
	}
	x.MarkCovered(700)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if got := filePaths(t, dir); len(got) != 1 || filepath.Base(got[0]) != fileName(600) {
		t.Fatalf("files %v, want only %s", got, fileName(600))
	}
	x = openT(t, dir, tiny)
	defer x.Close()
	if x.Covered() != 700 {
		t.Fatalf("Covered() = %d, want 700", x.Covered())
	}
	checkAll(t, x, &model{items: []Item{next}}, seqKeys())
}
