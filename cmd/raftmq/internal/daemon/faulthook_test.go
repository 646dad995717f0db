package daemon

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/internal/testutil"
	"github.com/raftmq/raftmq/store/vfs"
)

// TestDiskFaultHookFollowsControlFile: without the variable there is no
// hook; with it the mode read at start applies at once, later rewrites of
// the file apply within a poll or two, a bad mode is logged and ignored,
// and stop leaves the disk normal.
func TestDiskFaultHookFollowsControlFile(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	t.Setenv(faultFSEnv, "")
	if h := startDiskFaultHook(t.Context(), log); h != nil {
		t.Fatal("hook started without " + faultFSEnv)
	}
	control := filepath.Join(t.TempDir(), "disk")
	write := func(s string) {
		if err := os.WriteFile(control, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("lazy\n")
	t.Setenv(faultFSEnv, control)
	h := startDiskFaultHook(t.Context(), log)
	if h == nil {
		t.Fatal("no hook with " + faultFSEnv + " set")
	}
	defer h.stop()
	if m := h.fs.Mode(); m.Kind != vfs.DiskLazy {
		t.Fatalf("mode at start %v; want lazy", m)
	}
	if !strings.Contains(logs.String(), "TEST HOOK ACTIVE") {
		t.Fatalf("no startup warning in %q", logs.String())
	}
	write("slow 5ms")
	testutil.WaitFor(t, 5*time.Second, "slow mode", func() bool { return h.fs.Mode() == vfs.DiskMode{Kind: vfs.DiskSlow, Delay: 5 * time.Millisecond} })
	write("sideways")
	testutil.WaitFor(t, 5*time.Second, "the bad mode to be logged", func() bool { return strings.Contains(logs.String(), "bad disk fault mode") })
	if m := h.fs.Mode(); m.Kind != vfs.DiskSlow {
		t.Fatalf("a bad mode changed the mode to %v", m)
	}
	write("stall")
	testutil.WaitFor(t, 5*time.Second, "stall mode", func() bool { return h.fs.Mode().Kind == vfs.DiskStall })
	h.stop()
	if m := h.fs.Mode(); m.Kind != vfs.DiskNormal {
		t.Fatalf("mode after stop %v; want normal", m)
	}
}

// TestDiskFaultHookGatesRaftLog: the Raft log the hook wraps waits in a
// stalled disk for appends and deletions, not for reads, goes on once the
// disk is normal again, and fails appends with EIO on a failing disk.
func TestDiskFaultHookGatesRaftLog(t *testing.T) {
	control := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(control, []byte("stall"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(faultFSEnv, control)
	h := startDiskFaultHook(t.Context(), slog.New(slog.DiscardHandler))
	if h == nil {
		t.Fatal("no hook with " + faultFSEnv + " set")
	}
	defer h.stop()
	inner := raft.NewInmemStore()
	if err := inner.StoreLog(&raft.Log{Index: 1, Term: 1}); err != nil {
		t.Fatal(err)
	}
	ls := h.wrapLogStore(inner)
	var got raft.Log
	if err := ls.GetLog(1, &got); err != nil || got.Index != 1 {
		t.Fatalf("read in a stalled disk: %+v, %v", got, err)
	}
	stored := make(chan error, 1)
	go func() { stored <- ls.StoreLogs([]*raft.Log{{Index: 2, Term: 1}}) }()
	deleted := make(chan error, 1)
	go func() { deleted <- ls.DeleteRange(1, 1) }()
	// Nothing may get through while the disk stalls: give the calls far
	// longer than they need when the disk is normal.
	select {
	case err := <-stored:
		t.Fatalf("append went through a stalled disk: %v", err)
	case err := <-deleted:
		t.Fatalf("deletion went through a stalled disk: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if last, _ := inner.LastIndex(); last != 1 {
		t.Fatalf("last index %d during the stall; want 1", last)
	}
	if err := os.WriteFile(control, []byte("normal"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []chan error{stored, deleted} {
		select {
		case err := <-c:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the Raft log stayed stalled after the disk was normal again")
		}
	}
	if first, _ := inner.FirstIndex(); first != 2 {
		t.Fatalf("first index %d after the stall; want 2", first)
	}
	if err := os.WriteFile(control, []byte("fail"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "fail mode", func() bool { return h.fs.Mode().Kind == vfs.DiskFail })
	if err := ls.StoreLogs([]*raft.Log{{Index: 3, Term: 1}}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("append on a failing disk: %v; want EIO", err)
	}
	if last, _ := inner.LastIndex(); last != 2 {
		t.Fatalf("last index %d after a failed append; want 2", last)
	}
}

// TestGatedLogStoreStaysMonotonic: the hook's Raft log wrapper passes on
// the store's raft.MonotonicLogStore answer (raft-wal's is true).
func TestGatedLogStoreStaysMonotonic(t *testing.T) {
	h := &diskFaultHook{fs: vfs.NewDiskFaultFS(vfs.OS())}
	for _, want := range []bool{true, false} {
		m, ok := h.wrapLogStore(monotonicStore{raft.NewInmemStore(), want}).(raft.MonotonicLogStore)
		if !ok || m.IsMonotonic() != want {
			t.Fatalf("wrapped store with IsMonotonic %v: wrapper reports %v (implements it: %v)", want, ok && m.IsMonotonic(), ok)
		}
	}
}

type monotonicStore struct {
	*raft.InmemStore
	monotonic bool
}

func (m monotonicStore) IsMonotonic() bool { return m.monotonic }

// lockedBuffer is a bytes.Buffer safe for the hook's goroutine to write
// while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
