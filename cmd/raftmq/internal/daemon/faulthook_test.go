package daemon

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
