package cqueue

import (
	"errors"
	"testing"

	"github.com/raftmq/raftmq/store/vfs"
)

func TestResetStartsAQueueLate(t *testing.T) {
	dir := t.TempDir()
	opts := Options{EntriesPerFile: 7}
	q, err := Open(vfs.OS(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Reset(10); err != nil {
		t.Fatal(err)
	}
	if q.MinOffset() != 10 || q.MaxOffset() != 10 {
		t.Fatalf("after reset: [%d, %d)", q.MinOffset(), q.MaxOffset())
	}
	if err := q.Put(10, []Entry{{Offset: 500, Size: 9}, {Offset: 600, Size: 9}}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Get(9, 1, nil); !errors.Is(err, ErrOffset) {
		t.Fatalf("get below reset start: %v", err)
	}
	if err := q.Reset(20); !errors.Is(err, ErrOffset) {
		t.Fatalf("second reset: %v", err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q, err = Open(vfs.OS(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	// Reopened, MinOffset is the file start until the store passes the
	// CommitLog minimum; fillers lie below every CommitLog offset.
	if _, err := q.DeleteBefore(0); err != nil {
		t.Fatal(err)
	}
	if q.MinOffset() != 10 || q.MaxOffset() != 12 {
		t.Fatalf("after reopen: [%d, %d)", q.MinOffset(), q.MaxOffset())
	}
	got, err := q.Get(10, 5, nil)
	if err != nil || len(got) != 2 || got[1].Offset != 600 {
		t.Fatalf("get: %v %v", got, err)
	}
}

// TestTakeDirtySyncsWhileWriting runs a batch's fsyncs concurrently with
// further Puts (what the store's checkpoint does) under -race.
func TestTakeDirtySyncsWhileWriting(t *testing.T) {
	q, err := Open(vfs.OS(), t.TempDir(), Options{EntriesPerFile: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	put := func(n int) {
		for range n {
			off := q.MaxOffset()
			if err := q.Put(off, []Entry{{Offset: int64(off) * 10, Size: 10}}); err != nil {
				t.Error(err)
				return
			}
		}
	}
	put(12)
	b := q.TakeDirty()
	if len(b.files) != 3 || !b.dir {
		t.Fatalf("batch holds %d files, dir %v", len(b.files), b.dir)
	}
	done := make(chan error, 1)
	go func() { done <- b.Sync() }()
	put(12)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := q.TakeDirty(); len(got.files) == 0 {
		t.Fatal("writes after TakeDirty were not tracked for the next batch")
	} else if err := got.Sync(); err != nil {
		t.Fatal(err)
	}
}
