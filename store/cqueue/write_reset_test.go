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
