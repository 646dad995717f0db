package daemon

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/store/vfs"
)

// faultFSEnv names the test hook's environment variable: the path of a
// control file holding a vfs.DiskMode (see the package doc). It is a test
// hook for the chaos suite, not a feature.
const faultFSEnv = "RAFTMQ_TEST_FAULTFS"

// faultPoll is how often the control file is re-read.
const faultPoll = 50 * time.Millisecond

// diskFaultHook is the running test hook: a DiskFaultFS under the store
// whose mode follows the control file. Its poller goroutine is owned by
// the hook and ends at stop.
type diskFaultHook struct {
	fs      *vfs.DiskFaultFS
	control string
	log     *slog.Logger
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// startDiskFaultHook starts the hook when $RAFTMQ_TEST_FAULTFS is set and
// returns nil otherwise. The control file's mode is applied before it
// returns, so a node can start with a lazy or stalled disk.
func startDiskFaultHook(ctx context.Context, log *slog.Logger) *diskFaultHook {
	control := os.Getenv(faultFSEnv)
	if control == "" {
		return nil
	}
	h := &diskFaultHook{fs: vfs.NewDiskFaultFS(vfs.OS()), control: control, log: log}
	log.Warn("TEST HOOK ACTIVE: the store's file system is under fault control; never use this in production",
		"env", faultFSEnv, "control", control)
	last := h.apply("")
	ctx, h.cancel = context.WithCancel(ctx)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		tick := time.NewTicker(faultPoll)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				last = h.apply(last)
			}
		}
	}()
	return h
}

// apply reads the control file and, if its text differs from last, sets
// the mode it names (a missing file is "normal"; text that does not parse
// is logged and ignored). It returns the text read.
func (h *diskFaultHook) apply(last string) string {
	b, err := os.ReadFile(h.control)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		h.log.Error("test hook: read disk fault control file", "control", h.control, "err", err)
		return last
	}
	text := strings.TrimSpace(string(b))
	if text == last {
		return last
	}
	m, err := vfs.ParseDiskMode(text)
	if err != nil {
		h.log.Error("test hook: bad disk fault mode", "control", h.control, "err", err)
		return text
	}
	if m != h.fs.Mode() {
		h.fs.SetMode(m)
		h.log.Warn("test hook: disk fault mode set", "mode", m.String())
	}
	return text
}

// wrapLogStore puts the Raft log behind the hook: a disk fault is the
// whole disk's, so appends and deletions wait in the stall and slow modes
// and fail in the fail mode, as the store's writes do (reads go on, as
// the store's do). The lazy mode applies to the store only.
func (h *diskFaultHook) wrapLogStore(ls raft.LogStore) raft.LogStore {
	return &gatedLogStore{LogStore: ls, gate: func() error { return h.fs.Gate("raft log") }}
}

// gatedLogStore calls gate before every write-side call of its log store
// and fails the call with gate's error.
type gatedLogStore struct {
	raft.LogStore
	gate func() error
}

func (g *gatedLogStore) StoreLog(l *raft.Log) error {
	if err := g.gate(); err != nil {
		return err
	}
	return g.LogStore.StoreLog(l)
}

func (g *gatedLogStore) StoreLogs(ls []*raft.Log) error {
	if err := g.gate(); err != nil {
		return err
	}
	return g.LogStore.StoreLogs(ls)
}

// IsMonotonic passes on the store's answer (raft.MonotonicLogStore):
// raft-wal refuses a gap, and only a monotonic store has all its entries
// removed after a snapshot install.
func (g *gatedLogStore) IsMonotonic() bool {
	m, ok := g.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

func (g *gatedLogStore) DeleteRange(lo, hi uint64) error {
	if err := g.gate(); err != nil {
		return err
	}
	return g.LogStore.DeleteRange(lo, hi)
}

// stop ends the poller and leaves the disk normal, so that shutdown
// writes go through. Safe on a nil hook.
func (h *diskFaultHook) stop() {
	if h == nil {
		return
	}
	h.cancel()
	h.wg.Wait()
	h.fs.SetMode(vfs.DiskMode{})
}
