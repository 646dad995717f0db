package store

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/store/vfs"
)

// faultStore opens a store on a MemFS behind a FaultFS.
func faultStore(t *testing.T, mode FlushMode) (*Store, *vfs.FaultFS, Options) {
	t.Helper()
	ffs := vfs.NewFaultFS(vfs.NewMem())
	o := TestOptions()
	o.FS = ffs
	o.FlushMode = mode
	return mustOpen(t, "/s", o), ffs, o
}

func appendN(t *testing.T, s *Store, n int, prefix string) []AppendResult {
	t.Helper()
	var out []AppendResult
	for i := range n {
		r, err := s.Append([]*Message{msg("t", uint32(i%2), fmt.Sprintf("%s-%d", prefix, i))})
		if err != nil {
			t.Fatalf("append %s-%d: %v", prefix, i, err)
		}
		out = append(out, r...)
	}
	return out
}

func TestIOErrorsFailTheStore(t *testing.T) {
	cases := []struct {
		name     string
		mode     FlushMode
		op       vfs.Op
		path     string
		err      error
		wantDisk bool
	}{
		{"EIO on commitlog write", FlushAsync, vfs.OpWrite, "commitlog", syscall.EIO, false},
		{"ENOSPC on commitlog write", FlushAsync, vfs.OpWrite, "commitlog", syscall.ENOSPC, true},
		{"EIO on commitlog fsync", FlushSync, vfs.OpSync, "commitlog", syscall.EIO, false},
		{"EIO on consume queue write", FlushSync, vfs.OpWrite, "consumequeue", syscall.EIO, false},
		{"ENOSPC on index write", FlushSync, vfs.OpWrite, "index", syscall.ENOSPC, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, ffs, o := faultStore(t, c.mode)
			acked := appendN(t, s, 20, "before")
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			end := s.MaxCommitLogOffset()
			ffs.SetInjector(vfs.FailAlways(c.op, c.path, c.err))
			m := msg("t", 0, "doomed")
			m.Keys = []string{"doomed"}
			_, err := s.Append([]*Message{m})
			if !errors.Is(err, ErrFailed) || !errors.Is(err, c.err) {
				t.Fatalf("append: %v, want ErrFailed wrapping %v", err, c.err)
			}
			if errors.Is(err, ErrDiskFull) != c.wantDisk {
				t.Fatalf("ErrDiskFull: %v", err)
			}
			ffs.SetInjector(nil)
			// The store stays failed even once the disk recovers.
			if _, err := s.Append([]*Message{msg("t", 0, "after")}); !errors.Is(err, ErrFailed) {
				t.Fatalf("append after failure: %v", err)
			}
			// What was acknowledged before is still readable; the failed
			// write is never exposed as a partial record.
			for _, r := range acked {
				if _, err := s.ReadMessage(r.CommitLogOffset); err != nil {
					t.Fatalf("read acked %d: %v", r.CommitLogOffset, err)
				}
			}
			if c.op == vfs.OpWrite && c.path == "commitlog" {
				if s.MaxCommitLogOffset() != end {
					t.Fatalf("failed write published: end %d -> %d", end, s.MaxCommitLogOffset())
				}
			}
			s.Close()
			s = mustOpen(t, "/s", o)
			for _, r := range acked {
				if _, err := s.ReadMessage(r.CommitLogOffset); err != nil {
					t.Fatalf("after reopen, acked %d: %v", r.CommitLogOffset, err)
				}
			}
			if _, err := s.Append([]*Message{msg("t", 0, "reopened")}); err != nil {
				t.Fatalf("append after reopen: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if rep, err := VerifyFS(ffs, "/s", o); err != nil || !rep.OK() {
				t.Fatalf("verify: %v %v", err, rep.Problems)
			}
		})
	}
}

func TestDiskHardLimitAndPressureRetention(t *testing.T) {
	mem := vfs.NewMem()
	mem.SetCapacity(1 << 20)
	o := TestOptions()
	o.FS = mem
	o.RetentionTime = 0 // age never expires; only disk pressure deletes
	o.DiskCleanRatio, o.DiskHardLimitRatio = 0.5, 0.7
	s := mustOpen(t, "/s", o)
	defer func() { s.Close() }()
	body := string(make([]byte, 4000))
	var full error
	deadline := time.Now().Add(10 * time.Second)
	n := 0
	for full == nil && time.Now().Before(deadline) {
		_, full = s.Append([]*Message{msg("t", 0, body)})
		n++
	}
	if !errors.Is(full, ErrDiskFull) || errors.Is(full, ErrFailed) {
		t.Fatalf("after %d appends: %v, want ErrDiskFull before the disk is actually full", n, full)
	}
	u, _ := mem.DiskUsage("/s")
	if u.UsedRatio() >= 1 {
		t.Fatalf("disk filled completely (%v)", u.UsedRatio())
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	before := s.MinCommitLogOffset()
	deleted, err := s.DeleteExpired(time.Now())
	if err != nil || deleted == 0 {
		t.Fatalf("pressure retention deleted %d segments: %v", deleted, err)
	}
	u, _ = mem.DiskUsage("/s")
	if u.UsedRatio() > o.DiskCleanRatio+0.1 {
		t.Fatalf("still %.2f used after retention", u.UsedRatio())
	}
	if s.MinCommitLogOffset() <= before {
		t.Fatal("min offset did not move")
	}
	// Appends resume once the cached disk check refreshes.
	testutil.WaitFor(t, 5*time.Second, "appends to resume after retention", func() bool {
		_, err := s.Append([]*Message{msg("t", 0, "resumed")})
		return err == nil
	})
	r, err := s.GetMessages(GetRequest{Topic: "t", Offset: 0})
	if !errors.Is(err, ErrOffsetTooSmall) || r.MinOffset == 0 {
		t.Fatalf("read below earliest: %v, min %d", err, r.MinOffset)
	}
	if r, err = s.GetMessages(GetRequest{Topic: "t", Offset: r.MinOffset, MaxMessages: 1}); err != nil || len(r.Messages) != 1 {
		t.Fatalf("read at earliest: %v", err)
	}
}

func TestRetentionByTime(t *testing.T) {
	dir := t.TempDir()
	o := TestOptions()
	o.RetentionTime = time.Hour
	s := mustOpen(t, dir, o)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	old, fresh := now.Add(-2*time.Hour).UnixMilli(), now.Add(-time.Minute).UnixMilli()
	add := func(ts int64, i int) AppendResult {
		m := msg("t", 0, fmt.Sprintf("%d-%0500d", i, 0))
		m.StoreTimestamp = ts
		m.Keys = []string{fmt.Sprint("k", i)}
		r, err := s.Append([]*Message{m})
		if err != nil {
			t.Fatal(err)
		}
		return r[0]
	}
	var oldRes []AppendResult
	for i := range 400 { // several segments of old messages
		oldRes = append(oldRes, add(old, i))
	}
	for i := 400; i < 800; i++ {
		add(fresh, i)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	segs := s.Stats().Segments
	n, err := s.DeleteExpired(now)
	if err != nil || n == 0 {
		t.Fatalf("deleted %d: %v", n, err)
	}
	if s.Stats().Segments != segs-n {
		t.Fatalf("segments %d -> %d after deleting %d", segs, s.Stats().Segments, n)
	}
	minQ := s.MinOffset("t", 0)
	if minQ == 0 || minQ > 400 {
		t.Fatalf("queue min offset %d (segments %d, deleted %d, min log offset %d)", minQ, segs, n, s.MinCommitLogOffset())
	}
	// Nothing fresh was deleted and the boundary message is readable.
	for i := range 3 {
		r, err := s.GetMessages(GetRequest{Topic: "t", Offset: minQ + uint64(i), MaxMessages: 1})
		if err != nil || len(r.Messages) != 1 {
			t.Fatalf("read at %d: %v", minQ+uint64(i), err)
		}
	}
	if got, _ := s.QueryByKey("t", "k0", 0, 1<<62, 5); len(got) != 0 {
		t.Fatal("query found a deleted message")
	}
	if _, err := s.ReadMessage(oldRes[0].CommitLogOffset); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read deleted id: %v", err)
	}
	if got, _ := s.QueryByKey("t", "k799", 0, 1<<62, 5); len(got) != 1 {
		t.Fatal("query lost a fresh message")
	}
	// A second pass deletes nothing more: the rest is fresh.
	if n, err := s.DeleteExpired(now); err != nil || n != 0 {
		t.Fatalf("second pass deleted %d: %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, o)
	defer s.Close()
	if got := s.MinOffset("t", 0); got != minQ {
		t.Fatalf("min offset after reopen %d, want %d", got, minQ)
	}
	if rep, err := Verify(dir); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
}
