package keyindex

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/raftmq/raftmq/store/vfs"
)

func writeBytes(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func readBytes(t *testing.T, path string, off int64, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

func filePaths(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "[0-9]*"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func TestReopenAfterFlush(t *testing.T) {
	r := newRand(t)
	dir := t.TempDir()
	x := openT(t, dir, tiny)
	g, m := newGen(r, 5), &model{}
	addAll(t, x, m, r, g.next(57))
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	want := m.items[len(m.items)-1].Phys + 1
	if x.Covered() != want {
		t.Fatalf("Covered() = %d, want %d", x.Covered(), want)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x = openT(t, dir, tiny)
	defer x.Close()
	if x.Covered() != want {
		t.Fatalf("after reopen Covered() = %d, want %d", x.Covered(), want)
	}
	checkAll(t, x, m, g)
	// The reopened index accepts the next records.
	addAll(t, x, m, r, g.next(13))
	checkAll(t, x, m, g)
}

func TestCrashBeforeFlush(t *testing.T) {
	dir := t.TempDir()
	x := openT(t, dir, tiny)
	h := KeyHash("t", "k")
	items := make([]Item, 28)
	for i := range items {
		items[i] = Item{Hash: h, Phys: int64(i) * 100, StoreTime: int64(i) * 1000}
	}
	if err := x.Add(items[:25]); err != nil {
		t.Fatal(err)
	}
	x.MarkCovered(2450)
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	// Written with WriteAt, visible to lookups, but never flushed.
	if err := x.Add(items[25:]); err != nil {
		t.Fatal(err)
	}
	x.MarkCovered(2750)
	if got, _ := x.Lookup(h, 0, 1<<40, 1); !slices.Equal(got, []int64{2700}) {
		t.Fatalf("before crash: newest = %v, want [2700]", got)
	}
	crash(x)

	x = openT(t, dir, tiny)
	defer x.Close()
	if x.Covered() != 2450 {
		t.Fatalf("Covered() = %d, want the last flushed 2450", x.Covered())
	}
	got, err := x.Lookup(h, 0, 1<<40, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := (&model{items: items}).below(2450).lookup(h, 0, 1<<40, 0)
	if !slices.Equal(got, want) {
		t.Fatalf("after crash: %v, want %v", got, want)
	}
	// Recovery re-offers the CommitLog from Covered().
	if err := x.Add(items[25:]); err != nil {
		t.Fatalf("re-adding from Covered(): %v", err)
	}
	if got, _ := x.Lookup(h, 0, 1<<40, 1); !slices.Equal(got, []int64{2700}) {
		t.Fatalf("after re-add: newest = %v, want [2700]", got)
	}
}

// TestCrashRandom adds, flushes and crashes at random points; after each
// reopen the index must hold exactly the records below Covered(), and
// Covered() must equal what it was just before the crash.
func TestCrashRandom(t *testing.T) {
	r := newRand(t)
	dir := t.TempDir()
	opts := Options{Slots: 3, EntriesPerFile: 8}
	g, m := newGen(r, 4), &model{}
	x := openT(t, dir, opts)
	for round := range 12 {
		for range 1 + r.IntN(4) {
			addAll(t, x, m, r, g.next(r.IntN(20)))
			if r.IntN(2) == 0 {
				if err := x.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
		covered := x.Covered()
		crash(x)
		x = openT(t, dir, opts)
		if x.Covered() != covered {
			t.Fatalf("round %d: Covered() = %d after crash, %d before", round, x.Covered(), covered)
		}
		*m = *m.below(covered)
		checkAll(t, x, m, g)
		if n := x.slotTables(); n > 1 {
			t.Fatalf("round %d: %d slot tables", round, n)
		}
		// The store re-offers from covered; the generator continues past
		// the dropped items, which is a valid (different) CommitLog tail.
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTornHeader(t *testing.T) {
	dir := t.TempDir()
	x := openT(t, dir, tiny)
	h := KeyHash("t", "k")
	add := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := x.Add([]Item{{Hash: h, Phys: int64(i) * 10, StoreTime: int64(i) * 1000}}); err != nil {
				t.Fatal(err)
			}
		}
		x.MarkCovered(int64(to) * 10)
		if err := x.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	add(0, 12) // seals file 0, header copy 0 of file 1 (seq 1), then copy 1 (seq 2)
	add(12, 15)
	if x.Covered() != 150 {
		t.Fatalf("Covered() = %d", x.Covered())
	}
	crash(x)
	active := filePaths(t, dir)[1]
	// The newest header (seq 3) is in copy 0: the copies alternate.
	if seq := binary.BigEndian.Uint64(readBytes(t, active, hOffSequence, 8)); seq != 3 {
		t.Fatalf("copy 0 sequence = %d, want 3", seq)
	}
	writeBytes(t, active, 20, []byte{0xde, 0xad}) // tear copy 0

	x = openT(t, dir, tiny)
	if x.Covered() != 120 {
		t.Fatalf("Covered() = %d, want 120 from the older copy", x.Covered())
	}
	got, _ := x.Lookup(h, 0, 1<<40, 0)
	if want := []int64{110, 100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 0}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// The next header write must go to the torn copy, keeping the good one.
	add(12, 13)
	crash(x)
	if seq := binary.BigEndian.Uint64(readBytes(t, active, hOffSequence, 8)); seq != 3 {
		t.Fatalf("copy 0 sequence = %d after rewrite, want 3", seq)
	}
	x = openT(t, dir, tiny)
	if x.Covered() != 130 {
		t.Fatalf("Covered() = %d, want 130", x.Covered())
	}
	crash(x)
}

func TestCorruptHeaders(t *testing.T) {
	setup := func(t *testing.T) (dir string, paths []string) {
		dir = t.TempDir()
		x := openT(t, dir, tiny)
		items := make([]Item, 15)
		for i := range items {
			items[i] = Item{Hash: uint32(i), Phys: int64(i), StoreTime: int64(i) * 1000}
		}
		if err := x.Add(items[:10]); err != nil {
			t.Fatal(err)
		}
		x.MarkCovered(10)
		if err := x.Add(items[10:]); err != nil { // seals file 0 with covered 10
			t.Fatal(err)
		}
		x.MarkCovered(15)
		if err := x.Close(); err != nil {
			t.Fatal(err)
		}
		return dir, filePaths(t, dir)
	}
	junk := make([]byte, 2*headerSize)
	for i := range junk {
		junk[i] = byte(i + 1)
	}
	t.Run("sealed both copies", func(t *testing.T) {
		dir, paths := setup(t)
		writeBytes(t, paths[0], 0, junk)
		_, err := Open(vfs.OS(), dir, tiny)
		wantErr(t, err, ErrCorrupt)
		if !strings.Contains(err.Error(), paths[0]) {
			t.Fatalf("error %q does not name %s", err, paths[0])
		}
	})
	t.Run("active both copies once valid", func(t *testing.T) {
		dir, paths := setup(t)
		writeBytes(t, paths[1], 0, junk)
		_, err := Open(vfs.OS(), dir, tiny)
		wantErr(t, err, ErrCorrupt)
	})
	t.Run("active never valid", func(t *testing.T) {
		dir, paths := setup(t)
		writeBytes(t, paths[1], 0, junk[:headerSize])
		writeBytes(t, paths[1], headerSize, make([]byte, headerSize))
		x, err := Open(vfs.OS(), dir, tiny)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer x.Close()
		if x.Files() != 1 {
			t.Fatalf("Files() = %d, want 1 (the headerless file removed)", x.Files())
		}
		if _, err := os.Stat(paths[1]); !os.IsNotExist(err) {
			t.Fatalf("headerless file still there: %v", err)
		}
		if x.Covered() != 10 {
			t.Fatalf("Covered() = %d, want 10 (the sealed file's covered)", x.Covered())
		}
		if got, _ := x.Lookup(9, 0, 1<<40, 0); !slices.Equal(got, []int64{9}) {
			t.Fatalf("Lookup(9) = %v, want [9]", got)
		}
	})
	t.Run("options changed", func(t *testing.T) {
		dir, _ := setup(t)
		_, err := Open(vfs.OS(), dir, Options{Slots: 8, EntriesPerFile: 10})
		wantErr(t, err, ErrCorrupt)
	})
	t.Run("unknown version", func(t *testing.T) {
		dir, paths := setup(t)
		b := readBytes(t, paths[0], 0, headerSize)
		h, ok, err := decodeHeader(b)
		if !ok || err != nil {
			t.Fatalf("decode: %v %v", ok, err)
		}
		h.encode(b)
		binary.BigEndian.PutUint16(b[hOffVersion:], 2)
		binary.BigEndian.PutUint32(b[hOffCRC:], crc32c(b[:hOffCRC]))
		writeBytes(t, paths[0], 0, b)
		writeBytes(t, paths[0], headerSize, b)
		_, err = Open(vfs.OS(), dir, tiny)
		wantErr(t, err, ErrCorrupt)
	})
}
