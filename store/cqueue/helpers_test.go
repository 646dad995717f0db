package cqueue

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/raftmq/raftmq/store/vfs"
)

// testEPF is a tiny EntriesPerFile, so tests cross many file boundaries.
const testEPF = 7

// entryFor is the entry the tests write at queue offset off. CommitLog
// offsets grow with off, as they do along a real queue.
func entryFor(off uint64) Entry {
	return Entry{Offset: int64(off)*64 + 1000, Size: uint32(off%97) + 1, TagHash: off*0x9E3779B97F4A7C15 + 1}
}

func entriesFor(from, n uint64) []Entry {
	es := make([]Entry, 0, n)
	for off := from; off < from+n; off++ {
		es = append(es, entryFor(off))
	}
	return es
}

func openQueue(t testing.TB, dir string, epf int) *Queue {
	t.Helper()
	q, err := Open(vfs.OS(), dir, Options{EntriesPerFile: epf})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return q
}

// newQueue opens a fresh queue in a temporary directory and closes it at
// the end of the test.
func newQueue(t testing.TB, epf int) (*Queue, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "topic-0")
	q := openQueue(t, dir, epf)
	t.Cleanup(func() {
		if err := q.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return q, dir
}

// reopen closes q and opens dir again; the new queue is closed at the end
// of the test.
func reopen(t testing.TB, q *Queue, dir string, epf int) *Queue {
	t.Helper()
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	q2 := openQueue(t, dir, epf)
	t.Cleanup(func() {
		if err := q2.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return q2
}

// putRange appends entryFor(off) for off in [from, from+n) in batches.
func putRange(t testing.TB, q *Queue, from, n uint64, batch int) {
	t.Helper()
	for off := from; off < from+n; {
		k := min(uint64(batch), from+n-off)
		if err := q.Put(off, entriesFor(off, k)); err != nil {
			t.Fatalf("Put(%d, %d entries): %v", off, k, err)
		}
		off += k
	}
}

// checkRange reads [from, to) one Get at a time and compares with entryFor.
func checkRange(t testing.TB, q *Queue, from, to uint64) {
	t.Helper()
	got, err := q.Get(from, int(to-from), nil)
	if err != nil {
		t.Fatalf("Get(%d, %d): %v", from, to-from, err)
	}
	if uint64(len(got)) != to-from {
		t.Fatalf("Get(%d, %d) returned %d entries", from, to-from, len(got))
	}
	for i, e := range got {
		if want := entryFor(from + uint64(i)); e != want {
			t.Fatalf("entry %d = %+v, want %+v", from+uint64(i), e, want)
		}
	}
}

func checkBounds(t testing.TB, q *Queue, minOff, maxOff uint64) {
	t.Helper()
	if got := q.MinOffset(); got != minOff {
		t.Errorf("MinOffset = %d, want %d", got, minOff)
	}
	if got := q.MaxOffset(); got != maxOff {
		t.Errorf("MaxOffset = %d, want %d", got, maxOff)
	}
}

// fileNames lists dir.
func fileNames(t testing.TB, dir string) []string {
	t.Helper()
	names, err := vfs.OS().ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	return names
}

// fileName is the name of the file starting at queue offset qo.
func fileName(qo uint64) string {
	return fmtName(qo * EntrySize)
}

func fmtName(byteOff uint64) string {
	b := []byte("00000000000000000000")
	for i := len(b) - 1; byteOff > 0; i-- {
		b[i] = byte('0' + byteOff%10)
		byteOff /= 10
	}
	return string(b)
}

// appendToFile appends raw bytes to a file, as preallocation or a torn
// write would leave them.
func appendToFile(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
