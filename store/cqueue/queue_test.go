package cqueue

import (
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/raftmq/raftmq/store/vfs"
)

func TestPutGetAcrossFiles(t *testing.T) {
	for _, batch := range []int{1, 3, 7, 10, 50} {
		t.Run("batch="+strconv.Itoa(batch), func(t *testing.T) {
			q, dir := newQueue(t, testEPF)
			checkBounds(t, q, 0, 0)
			putRange(t, q, 0, 50, batch)
			checkBounds(t, q, 0, 50)
			// Every window, including ones that straddle file boundaries.
			for from := uint64(0); from <= 50; from++ {
				for _, n := range []int{1, 6, 7, 8, 15, 100} {
					got, err := q.Get(from, n, nil)
					if err != nil {
						t.Fatalf("Get(%d, %d): %v", from, n, err)
					}
					if want := min(uint64(n), 50-from); uint64(len(got)) != want {
						t.Fatalf("Get(%d, %d) = %d entries, want %d", from, n, len(got), want)
					}
					for i, e := range got {
						if e != entryFor(from+uint64(i)) {
							t.Fatalf("Get(%d, %d)[%d] = %+v, want %+v", from, n, i, e, entryFor(from+uint64(i)))
						}
					}
				}
			}
			want := []string{fileName(0), fileName(7), fileName(14), fileName(21), fileName(28), fileName(35), fileName(42), fileName(49)}
			if got := fileNames(t, dir); !slices.Equal(got, want) {
				t.Errorf("files = %v, want %v", got, want)
			}
		})
	}
}

func TestFileNameFormat(t *testing.T) {
	q, dir := newQueue(t, 300000)
	putRange(t, q, 0, 1, 1)
	if got := q.path(1); got != filepath.Join(dir, "00000000000006000000") {
		t.Errorf("path(1) = %s", got)
	}
}

func TestGetBounds(t *testing.T) {
	q, _ := newQueue(t, testEPF)
	putRange(t, q, 0, 20, 5)
	if _, err := q.DeleteBefore(entryFor(9).Offset); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, q, 9, 20)
	buf := make([]Entry, 3, 64)
	tests := []struct {
		name    string
		from    uint64
		max     int
		wantN   int
		wantErr error
	}{
		{"below min", 8, 5, 0, ErrOffset},
		{"at min", 9, 5, 5, nil},
		{"at max", 20, 5, 0, nil},
		{"beyond max", 21, 5, 0, ErrOffset},
		{"clamped at max", 18, 5, 2, nil},
		{"max zero", 10, 0, 0, nil},
		{"max negative", 10, -1, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := q.Get(tt.from, tt.max, buf)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Get(%d, %d) err = %v, want %v", tt.from, tt.max, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got == nil || len(got) != tt.wantN {
				t.Fatalf("Get(%d, %d) = %v, want %d entries (non-nil)", tt.from, tt.max, got, tt.wantN)
			}
			if len(got) > 0 && &got[0] != &buf[:1][0] {
				t.Error("Get did not append to buf[:0]")
			}
		})
	}
}

func TestPutErrors(t *testing.T) {
	q, _ := newQueue(t, testEPF)
	putRange(t, q, 0, 10, 10)
	tests := []struct {
		name    string
		off     uint64
		entries []Entry
		wantErr error
	}{
		{"gap after max", 11, entriesFor(11, 1), ErrOffset},
		{"zero size first", 10, []Entry{{Offset: 5}}, ErrInvalidEntry},
		{"zero size later", 10, []Entry{entryFor(10), {Offset: 5, TagHash: 1}}, ErrInvalidEntry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := q.Put(tt.off, tt.entries); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Put err = %v, want %v", err, tt.wantErr)
			}
			checkBounds(t, q, 0, 10)
			checkRange(t, q, 0, 10)
		})
	}
	t.Run("below min", func(t *testing.T) {
		if _, err := q.DeleteBefore(entryFor(8).Offset); err != nil {
			t.Fatal(err)
		}
		if err := q.Put(7, entriesFor(7, 1)); !errors.Is(err, ErrOffset) {
			t.Fatalf("Put below min err = %v, want ErrOffset", err)
		}
	})
	t.Run("empty batch", func(t *testing.T) {
		if err := q.Put(10, nil); err != nil {
			t.Fatalf("Put(10, nil) = %v", err)
		}
		checkBounds(t, q, 8, 10)
	})
}

func TestOverwriteInPlace(t *testing.T) {
	q, dir := newQueue(t, testEPF)
	putRange(t, q, 0, 20, 20)
	// Re-dispatch rewrites 5..12 (across a file boundary) with new values,
	// then extends past the end from inside the range.
	changed := func(off uint64) Entry {
		e := entryFor(off)
		e.TagHash ^= 0xff
		return e
	}
	var batch []Entry
	for off := uint64(5); off < 13; off++ {
		batch = append(batch, changed(off))
	}
	if err := q.Put(5, batch); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, q, 0, 20)
	if err := q.Put(18, entriesFor(18, 5)); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, q, 0, 23)
	verify := func(q *Queue) {
		got, err := q.Get(0, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 23 {
			t.Fatalf("got %d entries, want 23", len(got))
		}
		for i, e := range got {
			off := uint64(i)
			want := entryFor(off)
			if off >= 5 && off < 13 {
				want = changed(off)
			}
			if e != want {
				t.Fatalf("entry %d = %+v, want %+v", off, e, want)
			}
		}
	}
	verify(q)
	verify(reopen(t, q, dir, testEPF))
}

func TestClosed(t *testing.T) {
	q, dir := newQueue(t, testEPF)
	putRange(t, q, 0, 3, 3)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"Put":          func() error { return q.Put(3, entriesFor(3, 1)) },
		"Get":          func() error { _, err := q.Get(0, 1, nil); return err },
		"Search":       func() error { _, err := q.SearchPhys(0); return err },
		"Truncate":     func() error { return q.Truncate(1) },
		"DeleteBefore": func() error { _, err := q.DeleteBefore(0); return err },
		"Sync":         q.Sync,
		"Close":        q.Close,
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close = %v, want ErrClosed", name, err)
			}
		})
	}
	t.Run("Remove", func(t *testing.T) {
		if err := q.Remove(); err != nil {
			t.Fatalf("Remove after Close: %v", err)
		}
		if _, err := vfs.OS().Stat(dir); err == nil {
			t.Error("directory still exists after Remove")
		}
	})
}

func TestRemoveOpen(t *testing.T) {
	q, dir := newQueue(t, testEPF)
	putRange(t, q, 0, 10, 4)
	if err := q.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := vfs.OS().Stat(dir); err == nil {
		t.Error("directory still exists after Remove")
	}
	if err := q.Put(10, entriesFor(10, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Remove = %v, want ErrClosed", err)
	}
	// A queue opened again in the same place starts empty.
	q2 := openQueue(t, dir, testEPF)
	defer q2.Close()
	checkBounds(t, q2, 0, 0)
}

func TestHandleCacheBounded(t *testing.T) {
	q, _ := newQueue(t, 2)
	putRange(t, q, 0, 40, 3) // 20 files
	if err := q.Sync(); err != nil {
		t.Fatal(err)
	}
	checkRange(t, q, 0, 40)
	for off := uint64(0); off < 40; off += 2 {
		checkRange(t, q, off, off+2)
	}
	q.hdls.mu.Lock()
	n := len(q.hdls.open)
	q.hdls.mu.Unlock()
	if n > maxIdleHandles {
		t.Errorf("%d handles open while idle, want at most %d", n, maxIdleHandles)
	}
}
