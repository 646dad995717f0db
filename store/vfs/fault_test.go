package vfs_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/raftmq/raftmq/store/vfs"
)

// faultWorld is a MemFS with synced and unsynced state, seen through a
// FaultFS, with open handles on /dir/target and /dir/other.
type faultWorld struct {
	mem   *vfs.MemFS
	ffs   *vfs.FaultFS
	files map[string]vfs.File // by "target" / "other"
}

func newFaultWorld(t *testing.T) *faultWorld {
	t.Helper()
	w := &faultWorld{mem: vfs.NewMem(), files: map[string]vfs.File{}}
	w.ffs = vfs.NewFaultFS(w.mem)
	for _, d := range []string{"/dir/targetdir", "/dir/otherdir"} {
		if err := w.mem.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"target", "other", "x"} {
		writeFile(t, w.mem, "/dir/"+n, n+"-synced", true)
	}
	for _, d := range []string{"/", "/dir", "/dir/targetdir", "/dir/otherdir"} {
		if err := w.mem.SyncDir(d); err != nil {
			t.Fatal(err)
		}
	}
	// Unsynced state, so that Sync and SyncDir would have an effect.
	writeFile(t, w.mem, "/dir/targetdir/new", "n", false)
	writeFile(t, w.mem, "/dir/otherdir/new", "n", false)
	for _, n := range []string{"target", "other"} {
		f, err := w.ffs.OpenReadWrite("/dir/" + n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("+unsynced"), 13); err != nil {
			t.Fatal(err)
		}
		w.files[n] = f
	}
	return w
}

// dump renders the current tree, contents and counters of a MemFS.
func dump(t *testing.T, m *vfs.MemFS) string {
	t.Helper()
	var b strings.Builder
	var walk func(dir string)
	walk = func(dir string) {
		names, err := m.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			p := filepath.Join(dir, n)
			if st, _ := m.Stat(p); st.IsDir {
				fmt.Fprintf(&b, "%s/\n", p)
				walk(p)
			} else {
				fmt.Fprintf(&b, "%s %q\n", p, readFile(t, m, p))
			}
		}
	}
	walk("/")
	fmt.Fprintf(&b, "syncs %d written %d\n", m.SyncCount(), m.BytesWritten())
	return b.String()
}

func TestFaultInjectsByOpAndPathWithoutEffect(t *testing.T) {
	cases := []struct {
		op   vfs.Op
		desc string
		call func(w *faultWorld, which string) error
	}{
		{vfs.OpCreate, "Create", func(w *faultWorld, which string) error {
			_, err := w.ffs.Create("/dir/" + which)
			return err
		}},
		{vfs.OpOpen, "Open", func(w *faultWorld, which string) error {
			_, err := w.ffs.Open("/dir/" + which)
			return err
		}},
		{vfs.OpOpen, "OpenReadWrite creating", func(w *faultWorld, which string) error {
			_, err := w.ffs.OpenReadWrite("/dir/" + which + "dir/created")
			return err
		}},
		{vfs.OpRead, "ReadAt", func(w *faultWorld, which string) error {
			_, err := w.files[which].ReadAt(make([]byte, 4), 0)
			return err
		}},
		{vfs.OpWrite, "WriteAt", func(w *faultWorld, which string) error {
			_, err := w.files[which].WriteAt([]byte("OVERWRITE"), 0)
			return err
		}},
		{vfs.OpSync, "Sync", func(w *faultWorld, which string) error { return w.files[which].Sync() }},
		{vfs.OpTruncate, "Truncate", func(w *faultWorld, which string) error { return w.files[which].Truncate(1) }},
		{vfs.OpRemove, "Remove", func(w *faultWorld, which string) error { return w.ffs.Remove("/dir/" + which) }},
		{vfs.OpRemove, "RemoveAll", func(w *faultWorld, which string) error { return w.ffs.RemoveAll("/dir/" + which + "dir") }},
		{vfs.OpRename, "Rename oldname", func(w *faultWorld, which string) error {
			return w.ffs.Rename("/dir/"+which, "/dir/renamed")
		}},
		{vfs.OpRename, "Rename newname", func(w *faultWorld, which string) error {
			return w.ffs.Rename("/dir/x", "/dir/"+which+"-new")
		}},
		{vfs.OpMkdir, "MkdirAll", func(w *faultWorld, which string) error {
			return w.ffs.MkdirAll("/dir/"+which+"dir/a/b", 0o755)
		}},
		{vfs.OpReadDir, "ReadDir", func(w *faultWorld, which string) error {
			_, err := w.ffs.ReadDir("/dir/" + which + "dir")
			return err
		}},
		{vfs.OpStat, "Stat", func(w *faultWorld, which string) error {
			_, err := w.ffs.Stat("/dir/" + which)
			return err
		}},
		{vfs.OpStat, "DiskUsage", func(w *faultWorld, which string) error {
			_, err := w.ffs.DiskUsage("/dir/" + which)
			return err
		}},
		{vfs.OpSyncDir, "SyncDir", func(w *faultWorld, which string) error {
			return w.ffs.SyncDir("/dir/" + which + "dir")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			hit, ref := newFaultWorld(t), newFaultWorld(t)
			hit.ffs.SetInjector(vfs.FailAlways(tc.op, "target", vfs.ErrIO))
			err := tc.call(hit, "target")
			var pe *os.PathError
			if !errors.Is(err, syscall.EIO) || !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *os.PathError wrapping EIO", err)
			}
			if pe.Op != tc.op.String() || !strings.Contains(pe.Path, "target") {
				t.Errorf("PathError{Op: %q, Path: %q}", pe.Op, pe.Path)
			}
			if got, want := dump(t, hit.mem), dump(t, ref.mem); got != want {
				t.Errorf("failed call changed the inner FS:\n%s\nwant\n%s", got, want)
			}
			// Durable state too: crash both and compare again.
			hit.mem.Crash(nil, vfs.DropUnsynced)
			ref.mem.Crash(nil, vfs.DropUnsynced)
			if got, want := dump(t, hit.mem), dump(t, ref.mem); got != want {
				t.Errorf("failed call changed durable state:\n%s\nwant\n%s", got, want)
			}
			other := newFaultWorld(t)
			other.ffs.SetInjector(vfs.FailAlways(tc.op, "target", vfs.ErrIO))
			if err := tc.call(other, "other"); err != nil {
				t.Errorf("same op on another path failed: %v", err)
			}
		})
	}
}

func TestFaultOtherOpsPass(t *testing.T) {
	w := newFaultWorld(t)
	w.ffs.SetInjector(vfs.FailAlways(vfs.OpSync, "", vfs.ErrIO))
	f := w.files["target"]
	if _, err := f.WriteAt([]byte("w"), 0); err != nil {
		t.Errorf("WriteAt with a Sync injector: %v", err)
	}
	if _, err := f.ReadAt(make([]byte, 1), 0); err != nil {
		t.Errorf("ReadAt with a Sync injector: %v", err)
	}
	if err := f.Sync(); !errors.Is(err, vfs.ErrIO) {
		t.Errorf("Sync = %v", err)
	}
	w.ffs.SetInjector(nil)
	if err := f.Sync(); err != nil {
		t.Errorf("Sync after clearing the injector: %v", err)
	}
	if n := f.Name(); n != "/dir/target" {
		t.Errorf("Name = %q", n)
	}
}

func TestFailOnce(t *testing.T) {
	w := newFaultWorld(t)
	w.ffs.SetInjector(vfs.FailOnce(vfs.OpWrite, "target", vfs.ErrNoSpace))
	steps := []struct {
		name    string
		call    func() error
		wantErr bool
	}{
		{"other path does not fire", func() error { _, err := w.files["other"].WriteAt([]byte("a"), 0); return err }, false},
		{"other op does not fire", func() error { return w.files["target"].Sync() }, false},
		{"first match fires", func() error { _, err := w.files["target"].WriteAt([]byte("a"), 0); return err }, true},
		{"second match passes", func() error { _, err := w.files["target"].WriteAt([]byte("a"), 0); return err }, false},
		{"third match passes", func() error { _, err := w.files["target"].WriteAt([]byte("a"), 0); return err }, false},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			err := s.call()
			if s.wantErr != (err != nil) || (err != nil && !errors.Is(err, syscall.ENOSPC)) {
				t.Errorf("err = %v, want error %v", err, s.wantErr)
			}
		})
	}
}

func TestFailOnceConcurrent(t *testing.T) {
	inject := vfs.FailOnce(vfs.OpSync, "seg", vfs.ErrIO)
	var fired atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 10 {
				if inject(vfs.OpSync, "/d/seg-1") != nil {
					fired.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := fired.Load(); got != 1 {
		t.Errorf("fired %d times, want 1", got)
	}
}

func TestFailAlways(t *testing.T) {
	inject := vfs.FailAlways(vfs.OpCreate, "seg", vfs.ErrNoSpace)
	cases := []struct {
		op   vfs.Op
		path string
		want error
	}{
		{vfs.OpCreate, "/d/seg-1", syscall.ENOSPC},
		{vfs.OpCreate, "/d/seg-2", syscall.ENOSPC},
		{vfs.OpCreate, "/d/index", nil},
		{vfs.OpOpen, "/d/seg-1", nil},
	}
	for _, tc := range cases {
		t.Run(tc.op.String()+tc.path, func(t *testing.T) {
			if got := inject(tc.op, tc.path); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestFaultOpMapping records which Op and path every method reports, through
// the latency hook, and checks that the latency is applied.
func TestFaultOpMapping(t *testing.T) {
	const delay = 20 * time.Millisecond
	var mu sync.Mutex
	var seen []string
	ffs := vfs.NewFaultFS(vfs.NewMem())
	ffs.SetLatency(func(op vfs.Op, path string) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, op.String()+" "+path)
		if op == vfs.OpSync {
			return delay
		}
		return 0
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ffs.MkdirAll("/d", 0o755))
	f, err := ffs.Create("/d/f")
	must(err)
	_, err = f.WriteAt([]byte("abc"), 0)
	must(err)
	_, err = f.ReadAt(make([]byte, 3), 0)
	must(err)
	start := time.Now()
	must(f.Sync())
	if took := time.Since(start); took < delay {
		t.Errorf("Sync took %v, want at least %v", took, delay)
	}
	must(f.Truncate(1))
	_, err = f.Size()
	must(err)
	must(f.Preallocate(10))
	must(f.Close())
	g, err := ffs.OpenReadWrite("/d/g")
	must(err)
	must(g.Close())
	g, err = ffs.Open("/d/g")
	must(err)
	must(g.Close())
	_, err = ffs.ReadDir("/d")
	must(err)
	_, err = ffs.Stat("/d/f")
	must(err)
	_, err = ffs.DiskUsage("/d")
	must(err)
	must(ffs.SyncDir("/d"))
	must(ffs.Rename("/d/f", "/d/h"))
	must(ffs.Remove("/d/h"))
	must(ffs.RemoveAll("/d"))
	want := []string{
		"mkdir /d", "create /d/f", "write /d/f", "read /d/f", "sync /d/f", "truncate /d/f",
		"open /d/g", "open /d/g", "readdir /d", "stat /d/f", "stat /d", "syncdir /d",
		"rename /d/f", "rename /d/h", "remove /d/h", "remove /d",
	}
	if !equalStrings(seen, want) {
		t.Errorf("ops seen:\n%q\nwant\n%q", seen, want)
	}
	ffs.SetLatency(nil)
	ffs.SetInjector(nil)
	if _, err := ffs.Stat("/"); err != nil {
		t.Errorf("Stat with nothing set: %v", err)
	}
}

func TestOpString(t *testing.T) {
	ops := []vfs.Op{
		vfs.OpCreate, vfs.OpOpen, vfs.OpRead, vfs.OpWrite, vfs.OpSync, vfs.OpTruncate,
		vfs.OpRemove, vfs.OpRename, vfs.OpMkdir, vfs.OpReadDir, vfs.OpStat, vfs.OpSyncDir,
	}
	names := map[string]bool{}
	for _, op := range ops {
		s := op.String()
		if s == "" || strings.HasPrefix(s, "Op(") || names[s] {
			t.Errorf("Op %d has name %q", int(op), s)
		}
		names[s] = true
	}
	if got := vfs.Op(99).String(); got != "Op(99)" {
		t.Errorf("Op(99).String() = %q", got)
	}
	if got := vfs.CrashMode(7).String(); got != "CrashMode(7)" {
		t.Errorf("CrashMode(7).String() = %q", got)
	}
}

func TestFaultOverOS(t *testing.T) {
	dir := t.TempDir()
	ffs := vfs.NewFaultFS(vfs.OS())
	name := filepath.Join(dir, "seg-0")
	f, err := ffs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	ffs.SetInjector(vfs.FailAlways(vfs.OpWrite, "seg-", vfs.ErrNoSpace))
	if _, err := f.WriteAt([]byte("world"), 5); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("WriteAt = %v, want ENOSPC", err)
	}
	if st, err := vfs.OS().Stat(name); err != nil || st.Size != 5 {
		t.Errorf("on disk after failed write: %+v, %v", st, err)
	}
	ffs.SetInjector(vfs.FailOnce(vfs.OpRename, "seg-1", vfs.ErrIO))
	if err := ffs.Rename(name, filepath.Join(dir, "seg-1")); !errors.Is(err, syscall.EIO) {
		t.Errorf("Rename = %v, want EIO", err)
	}
	if _, err := vfs.OS().Stat(name); err != nil {
		t.Errorf("failed rename moved the file: %v", err)
	}
	if err := ffs.Rename(name, filepath.Join(dir, "seg-1")); err != nil {
		t.Errorf("second Rename = %v", err)
	}
}

// TestFaultRandomCrashRecovery is a small end-to-end use: writes that fail
// at random, then a crash; what was synced before the failure survives.
func TestFaultRandomCrashRecovery(t *testing.T) {
	seed := newSeed(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	for run := range 50 {
		mem := vfs.NewMem()
		ffs := vfs.NewFaultFS(mem)
		f, err := ffs.Create("/log")
		if err != nil {
			t.Fatal(err)
		}
		if err := ffs.SyncDir("/"); err != nil {
			t.Fatal(err)
		}
		var durable, off int64
		var failRate = rng.IntN(4) + 2
		ffs.SetInjector(func(op vfs.Op, path string) error {
			if (op == vfs.OpWrite || op == vfs.OpSync) && rng.IntN(failRate) == 0 {
				return vfs.ErrIO
			}
			return nil
		})
		for range 30 {
			if _, err := f.WriteAt([]byte("0123456789"), off); err != nil {
				break // a real writer stops at the first error
			}
			off += 10
			if err := f.Sync(); err != nil {
				break
			}
			durable = off
		}
		mem.Crash(rng, vfs.TearUnsynced)
		st, err := mem.Stat("/log")
		if err != nil || st.Size < durable || st.Size > off {
			t.Fatalf("run %d: size %d (%v), want within [%d, %d]", run, st.Size, err, durable, off)
		}
	}
}
