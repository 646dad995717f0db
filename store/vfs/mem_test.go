package vfs_test

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raftmq/raftmq/store/vfs"
)

// fop is a file operation in the test's own model of a file.
type fop struct {
	truncate bool
	off      int64
	data     string
}

func (o fop) apply(b []byte) []byte {
	if o.truncate {
		if o.off <= int64(len(b)) {
			return b[:o.off]
		}
		return append(b, make([]byte, o.off-int64(len(b)))...)
	}
	if len(o.data) == 0 {
		return b
	}
	if end := o.off + int64(len(o.data)); end > int64(len(b)) {
		b = append(b, make([]byte, end-int64(len(b)))...)
	}
	copy(b[o.off:], o.data)
	return b
}

func (o fop) do(f vfs.File) error {
	if o.truncate {
		return f.Truncate(o.off)
	}
	_, err := f.WriteAt([]byte(o.data), o.off)
	return err
}

func replay(durable string, ops []fop) string {
	b := []byte(durable)
	for _, o := range ops {
		b = o.apply(b)
	}
	return string(b)
}

// tearOutcome says how TearUnsynced can produce a content.
type tearOutcome struct {
	boundary bool // some whole prefix of the ops gives it (no torn write)
	maxK     int  // the longest prefix of ops (a torn last one counted) that gives it
}

// tearOutcomes lists every content TearUnsynced may leave: durable followed
// by ops[:k] for each k, and for a write ending the prefix, that write cut at
// each byte.
func tearOutcomes(durable string, ops []fop) map[string]tearOutcome {
	out := map[string]tearOutcome{}
	add := func(s string, k int, boundary bool) {
		o := out[s]
		o.boundary = o.boundary || boundary
		o.maxK = max(o.maxK, k)
		out[s] = o
	}
	for k := 0; k <= len(ops); k++ {
		add(replay(durable, ops[:k]), k, true)
		if k == 0 || ops[k-1].truncate {
			continue
		}
		last := ops[k-1]
		for cut := 0; cut < len(last.data); cut++ {
			torn := fop{off: last.off, data: last.data[:cut]}
			add(replay(durable, append(slices.Clone(ops[:k-1]), torn)), k, false)
		}
	}
	return out
}

var crashModes = []vfs.CrashMode{vfs.DropUnsynced, vfs.TearUnsynced}

func newSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	return seed
}

func TestMemCrashFileContents(t *testing.T) {
	cases := []struct {
		name     string
		synced   []fop // applied, then File.Sync
		unsynced []fop // applied after the Sync
	}{
		{name: "synced data survives", synced: []fop{{data: "abc"}}},
		{name: "unsynced write dropped", synced: []fop{{data: "abc"}}, unsynced: []fop{{off: 3, data: "defgh"}}},
		{name: "unsynced overwrite dropped", synced: []fop{{data: "abcdef"}}, unsynced: []fop{{off: 1, data: "XY"}}},
		{name: "unsynced truncate reverts", synced: []fop{{data: "abcdef"}}, unsynced: []fop{{truncate: true, off: 2}}},
		{name: "synced truncate survives", synced: []fop{{data: "abcdef"}, {truncate: true, off: 2}}},
		{name: "never synced file is empty", unsynced: []fop{{data: "abc"}, {off: 10, data: "z"}}},
		{name: "several unsynced ops", synced: []fop{{data: "0123456789"}}, unsynced: []fop{
			{off: 2, data: "ab"}, {truncate: true, off: 4}, {off: 6, data: "xyz"}, {off: 0, data: "Q"},
		}},
	}
	seed := newSeed(t)
	for _, tc := range cases {
		for _, mode := range crashModes {
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				mem := vfs.NewMem()
				f, err := mem.Create("/f")
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range tc.synced {
					if err := o.do(f); err != nil {
						t.Fatal(err)
					}
				}
				if err := f.Sync(); err != nil {
					t.Fatal(err)
				}
				if err := mem.SyncDir("/"); err != nil {
					t.Fatal(err)
				}
				for _, o := range tc.unsynced {
					if err := o.do(f); err != nil {
						t.Fatal(err)
					}
				}
				current := replay(replay("", tc.synced), tc.unsynced)
				if got := readFile(t, mem, "/f"); got != current {
					t.Fatalf("before crash %q, want %q", got, current)
				}
				mem.Crash(rand.New(rand.NewPCG(seed, 0)), mode)
				durable := replay("", tc.synced)
				got := readFile(t, mem, "/f")
				if mode == vfs.DropUnsynced && got != durable {
					t.Errorf("after crash %q, want %q", got, durable)
				}
				if _, ok := tearOutcomes(durable, tc.unsynced)[got]; mode == vfs.TearUnsynced && !ok {
					t.Errorf("after crash %q: not synced bytes plus a prefix of the unsynced ops", got)
				}
			})
		}
	}
}

// TestMemTearIsPrefix checks over many random runs that TearUnsynced leaves
// each file as its synced bytes followed by a prefix of its unsynced ops,
// and that it does tear (it is neither DropUnsynced nor keep-everything).
func TestMemTearIsPrefix(t *testing.T) {
	seed := newSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	var sawEarly, sawAll, sawTorn int
	for run := range 400 {
		mem := vfs.NewMem()
		names := []string{"/a", "/b"}
		durable := map[string]string{}
		pending := map[string][]fop{}
		files := map[string]vfs.File{}
		for _, n := range names {
			f, err := mem.Create(n)
			if err != nil {
				t.Fatal(err)
			}
			files[n] = f
		}
		if err := mem.SyncDir("/"); err != nil {
			t.Fatal(err)
		}
		for range 1 + rng.IntN(20) {
			n := names[rng.IntN(len(names))]
			switch r := rng.IntN(10); {
			case r == 0:
				if err := files[n].Sync(); err != nil {
					t.Fatal(err)
				}
				durable[n] = replay(durable[n], pending[n])
				pending[n] = nil
			default:
				o := fop{off: rng.Int64N(40)}
				if r == 1 {
					o.truncate = true
				} else {
					o.data = randString(rng, 1+rng.IntN(12))
				}
				if err := o.do(files[n]); err != nil {
					t.Fatal(err)
				}
				pending[n] = append(pending[n], o)
			}
		}
		mem.Crash(rng, vfs.TearUnsynced)
		for _, n := range names {
			got := readFile(t, mem, n)
			out, ok := tearOutcomes(durable[n], pending[n])[got]
			if !ok {
				t.Fatalf("run %d file %s: %q is not %q plus a prefix of %+v", run, n, got, durable[n], pending[n])
			}
			if got == replay(durable[n], pending[n]) {
				sawAll++
			}
			if out.maxK <= len(pending[n])-2 {
				sawEarly++ // at least two whole ops were lost
			}
			if !out.boundary {
				sawTorn++
			}
			// The torn result is the new durable state.
			mem.Crash(nil, vfs.DropUnsynced)
			if again := readFile(t, mem, n); again != got {
				t.Fatalf("run %d file %s: second crash changed %q to %q", run, n, got, again)
			}
		}
	}
	t.Logf("outcomes: two or more ops lost %d, everything kept %d, torn write %d", sawEarly, sawAll, sawTorn)
	if sawEarly == 0 || sawAll == 0 || sawTorn == 0 {
		t.Errorf("TearUnsynced does not vary its outcome")
	}
}

func randString(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	return string(b)
}

func TestMemCrashNamespace(t *testing.T) {
	const missing = "<missing>"
	mustOK := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Every case starts from a durable /d holding a synced file /d/a = "A".
	cases := []struct {
		name     string
		do       func(t *testing.T, m *vfs.MemFS)
		want     map[string]string // path -> content, or missing
		dropOnly bool              // contents were left unsynced: TearUnsynced may keep some
	}{
		{"create without SyncDir disappears", func(t *testing.T, m *vfs.MemFS) {
			writeFile(t, m, "/d/new", "N", true)
		}, map[string]string{"/d/new": missing, "/d/a": "A"}, false},
		{"create with SyncDir survives", func(t *testing.T, m *vfs.MemFS) {
			writeFile(t, m, "/d/new", "N", true)
			mustOK(t, m.SyncDir("/d"))
		}, map[string]string{"/d/new": "N"}, false},
		{"SyncDir without file Sync keeps an empty file", func(t *testing.T, m *vfs.MemFS) {
			writeFile(t, m, "/d/new", "N", false)
			mustOK(t, m.SyncDir("/d"))
		}, map[string]string{"/d/new": ""}, true},
		{"rename reverts without SyncDir", func(t *testing.T, m *vfs.MemFS) {
			mustOK(t, m.Rename("/d/a", "/d/b"))
		}, map[string]string{"/d/a": "A", "/d/b": missing}, false},
		{"rename with SyncDir moves the contents", func(t *testing.T, m *vfs.MemFS) {
			mustOK(t, m.Rename("/d/a", "/d/b"))
			mustOK(t, m.SyncDir("/d"))
		}, map[string]string{"/d/a": missing, "/d/b": "A"}, false},
		{"rename over a file reverts without SyncDir", func(t *testing.T, m *vfs.MemFS) {
			writeFile(t, m, "/d/b", "B", true)
			mustOK(t, m.SyncDir("/d"))
			mustOK(t, m.Rename("/d/a", "/d/b"))
		}, map[string]string{"/d/a": "A", "/d/b": "B"}, false},
		{"rename keeps identity: later syncs follow the file", func(t *testing.T, m *vfs.MemFS) {
			f, err := m.OpenReadWrite("/d/a")
			mustOK(t, err)
			mustOK(t, m.Rename("/d/a", "/d/b"))
			mustOK(t, m.SyncDir("/d"))
			_, err = f.WriteAt([]byte("Z"), 1)
			mustOK(t, err)
			mustOK(t, f.Sync())
		}, map[string]string{"/d/a": missing, "/d/b": "AZ"}, false},
		{"remove reverts without SyncDir", func(t *testing.T, m *vfs.MemFS) {
			mustOK(t, m.Remove("/d/a"))
		}, map[string]string{"/d/a": "A"}, false},
		{"remove with SyncDir is durable", func(t *testing.T, m *vfs.MemFS) {
			mustOK(t, m.Remove("/d/a"))
			mustOK(t, m.SyncDir("/d"))
		}, map[string]string{"/d/a": missing}, false},
		{"RemoveAll reverts without SyncDir", func(t *testing.T, m *vfs.MemFS) {
			mustOK(t, m.RemoveAll("/d"))
		}, map[string]string{"/d/a": "A"}, false},
		{"MkdirAll without parent SyncDir disappears", func(t *testing.T, m *vfs.MemFS) {
			mustOK(t, m.MkdirAll("/x/y", 0o755))
			mustOK(t, m.SyncDir("/x"))
			writeFile(t, m, "/x/y/f", "F", true)
			mustOK(t, m.SyncDir("/x/y"))
		}, map[string]string{"/x": missing}, false},
		{"MkdirAll with parents synced survives", func(t *testing.T, m *vfs.MemFS) {
			mustOK(t, m.MkdirAll("/x/y", 0o755))
			writeFile(t, m, "/x/y/f", "F", true)
			for _, d := range []string{"/", "/x", "/x/y"} {
				mustOK(t, m.SyncDir(d))
			}
		}, map[string]string{"/x/y/f": "F"}, false},
		{"relative and absolute paths are one namespace", func(t *testing.T, m *vfs.MemFS) {
			writeFile(t, m, "d/rel", "R", true)
			mustOK(t, m.SyncDir("./d/../d"))
		}, map[string]string{"/d/rel": "R", "d/rel": "R"}, false},
		{"directory moved under a synced sibling", func(t *testing.T, m *vfs.MemFS) {
			mustOK(t, m.MkdirAll("/e", 0o755))
			mustOK(t, m.SyncDir("/"))
			mustOK(t, m.Rename("/d", "/e/d"))
			mustOK(t, m.SyncDir("/e"))
		}, map[string]string{"/d/a": "A", "/e/d": missing}, false},
	}
	seed := newSeed(t)
	for _, tc := range cases {
		for _, mode := range crashModes {
			if tc.dropOnly && mode != vfs.DropUnsynced {
				continue
			}
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				m := vfs.NewMem()
				mustOK(t, m.MkdirAll("/d", 0o755))
				mustOK(t, m.SyncDir("/"))
				writeFile(t, m, "/d/a", "A", true)
				mustOK(t, m.SyncDir("/d"))
				tc.do(t, m)
				m.Crash(rand.New(rand.NewPCG(seed, 2)), mode)
				for path, want := range tc.want {
					_, err := m.Stat(path)
					switch {
					case want == missing && !errors.Is(err, os.ErrNotExist):
						t.Errorf("%s survived the crash (err %v)", path, err)
					case want != missing && err != nil:
						t.Errorf("%s lost: %v", path, err)
					case want != missing:
						if got := readFile(t, m, path); got != want {
							t.Errorf("%s = %q, want %q", path, got, want)
						}
					}
				}
			})
		}
	}
}

func TestMemHandlesFailAfterCrash(t *testing.T) {
	m := vfs.NewMem()
	writeFile(t, m, "/f", "abc", true)
	if err := m.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	direct, err := m.OpenReadWrite("/f")
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := vfs.NewFaultFS(m).Open("/f")
	if err != nil {
		t.Fatal(err)
	}
	m.Crash(nil, vfs.DropUnsynced)
	calls := map[string]func(f vfs.File) error{
		"ReadAt":      func(f vfs.File) error { _, err := f.ReadAt(make([]byte, 1), 0); return err },
		"WriteAt":     func(f vfs.File) error { _, err := f.WriteAt([]byte("x"), 0); return err },
		"Sync":        func(f vfs.File) error { return f.Sync() },
		"Truncate":    func(f vfs.File) error { return f.Truncate(0) },
		"Size":        func(f vfs.File) error { _, err := f.Size(); return err },
		"Preallocate": func(f vfs.File) error { return f.Preallocate(10) },
		"Close":       func(f vfs.File) error { return f.Close() },
	}
	for _, h := range []struct {
		name string
		f    vfs.File
	}{{"MemFS", direct}, {"FaultFS over MemFS", wrapped}} {
		for _, name := range slices.Sorted(maps.Keys(calls)) {
			t.Run(h.name+"/"+name, func(t *testing.T) {
				if err := calls[name](h.f); !errors.Is(err, vfs.ErrCrashed) {
					t.Errorf("err = %v, want ErrCrashed", err)
				}
			})
		}
	}
	if got := readFile(t, m, "/f"); got != "abc" {
		t.Errorf("reopened after crash: %q", got)
	}
	if vfs.ErrCrashed.Error() != "vfs: file system crashed" {
		t.Errorf("ErrCrashed = %q", vfs.ErrCrashed)
	}
}

func TestMemClosedAndReadOnlyHandles(t *testing.T) {
	m := vfs.NewMem()
	writeFile(t, m, "/f", "abc", false)
	ro, err := m.Open("/f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.WriteAt([]byte("x"), 0); err == nil {
		t.Error("WriteAt on read-only handle succeeded")
	}
	if err := ro.Truncate(0); err == nil {
		t.Error("Truncate on read-only handle succeeded")
	}
	if err := ro.Sync(); err != nil {
		t.Errorf("Sync on read-only handle: %v", err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ro.ReadAt(make([]byte, 1), 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("ReadAt after Close = %v", err)
	}
	if err := ro.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	if got := readFile(t, m, "/f"); got != "abc" {
		t.Errorf("content %q", got)
	}
}

func TestMemCapacity(t *testing.T) {
	m := vfs.NewMem()
	m.SetCapacity(100)
	open := func(name string) vfs.File {
		f, err := m.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f1, f2 := open("/f1"), open("/f2")
	steps := []struct {
		name     string
		do       func() error
		noSpace  bool
		wantFree uint64
		wantSize map[vfs.File]int64
	}{
		{"write 60", func() error { _, err := f1.WriteAt(make([]byte, 60), 0); return err }, false, 40, map[vfs.File]int64{f1: 60}},
		{"write 50 more fails", func() error { _, err := f2.WriteAt(make([]byte, 50), 0); return err }, true, 40, map[vfs.File]int64{f2: 0}},
		{"extend past capacity fails", func() error { _, err := f1.WriteAt([]byte("xy"), 99); return err }, true, 40, map[vfs.File]int64{f1: 60}},
		{"overwrite in place fits", func() error { _, err := f1.WriteAt(bytes.Repeat([]byte("o"), 60), 0); return err }, false, 40, nil},
		{"truncate past capacity fails", func() error { return f1.Truncate(101) }, true, 40, map[vfs.File]int64{f1: 60}},
		{"fill exactly", func() error { _, err := f2.WriteAt(make([]byte, 40), 0); return err }, false, 0, map[vfs.File]int64{f2: 40}},
		{"full: one more byte fails", func() error { _, err := f2.WriteAt([]byte("x"), 40); return err }, true, 0, map[vfs.File]int64{f2: 40}},
		{"remove frees", func() error { return m.Remove("/f2") }, false, 40, nil},
		{"truncate frees", func() error { return f1.Truncate(10) }, false, 90, map[vfs.File]int64{f1: 10}},
		{"sync", f1.Sync, false, 90, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			written := m.BytesWritten()
			err := s.do()
			var pe *os.PathError
			switch {
			case s.noSpace && (!errors.Is(err, syscall.ENOSPC) || !errors.As(err, &pe) || !errors.Is(err, vfs.ErrNoSpace)):
				t.Errorf("err = %v, want *os.PathError wrapping ENOSPC", err)
			case s.noSpace && m.BytesWritten() != written:
				t.Errorf("failed write counted")
			case !s.noSpace && err != nil:
				t.Errorf("err = %v", err)
			}
			du, err := m.DiskUsage("/")
			if err != nil || du.TotalBytes != 100 || du.FreeBytes != s.wantFree {
				t.Errorf("DiskUsage = %+v, %v; want free %d", du, err, s.wantFree)
			}
			for f, want := range s.wantSize {
				if got, _ := f.Size(); got != want {
					t.Errorf("%s size %d, want %d", f.Name(), got, want)
				}
			}
		})
	}
	if got := readFile(t, m, "/f1"); got != "oooooooooo" {
		t.Errorf("f1 = %q: a failed write changed it", got)
	}
	// After a crash the use is what survived: /f1 was synced at 10 bytes but
	// the root was never synced, so nothing survives.
	m.Crash(nil, vfs.DropUnsynced)
	if du, _ := m.DiskUsage("/"); du.FreeBytes != 100 {
		t.Errorf("free after crash %d, want 100", du.FreeBytes)
	}
	if du, _ := vfs.NewMem().DiskUsage("/"); du.TotalBytes != 1<<40 {
		t.Errorf("default capacity %d, want 1 TiB", du.TotalBytes)
	}
}

func TestMemPaths(t *testing.T) {
	m := vfs.NewMem()
	if err := m.MkdirAll("a/b", 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, m, "/a/b/f", "x", false)
	for _, alias := range []string{"a/b/f", "./a/b/f", "/a/../a/b//f", "../a/b/f"} {
		if got := readFile(t, m, alias); got != "x" {
			t.Errorf("%s = %q", alias, got)
		}
	}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"Remove root", m.Remove("/"), syscall.EBUSY},
		{"Rename dir into itself", m.Rename("/a", "/a/b/c"), syscall.EINVAL},
		{"file as directory", func() error { _, err := m.Create("/a/b/f/g"); return err }(), syscall.ENOTDIR},
		{"Open a directory", func() error { _, err := m.Open("/a"); return err }(), syscall.EISDIR},
		{"SyncDir on a file", m.SyncDir("/a/b/f"), syscall.ENOTDIR},
		{"Rename dir over file", m.Rename("/a/b", "/a/b/f"), syscall.EINVAL},
		{"DiskUsage of missing path", func() error { _, err := m.DiskUsage("/nope"); return err }(), syscall.ENOENT},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) {
				t.Errorf("err = %v, want %v", tc.err, tc.want)
			}
		})
	}
	if names, err := m.ReadDir(""); err != nil || !equalStrings(names, []string{"a"}) {
		t.Errorf("ReadDir(root) = %v, %v", names, err)
	}
}

func TestMemCounters(t *testing.T) {
	m := vfs.NewMem()
	f, err := m.Create("/f")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := f.WriteAt([]byte("12345"), int64(i*5)); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Preallocate(1 << 20); err != nil {
		t.Errorf("Preallocate: %v", err)
	}
	if got := m.SyncCount(); got != 3 {
		t.Errorf("SyncCount = %d, want 3", got)
	}
	if got := m.BytesWritten(); got != 15 {
		t.Errorf("BytesWritten = %d, want 15", got)
	}
	if size, _ := f.Size(); size != 15 {
		t.Errorf("Size after Preallocate = %d", size)
	}
}

func TestMemConcurrentWriteRead(t *testing.T) {
	seed := newSeed(t)
	m := vfs.NewMem()
	f, err := m.Create("/f")
	if err != nil {
		t.Fatal(err)
	}
	const workers, span, rounds = 8, 256, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			base := int64(w * span)
			for r := range rounds {
				p := []byte(randString(rng, 1+rng.IntN(span)))
				off := base + rng.Int64N(int64(span-len(p)+1))
				if _, err := f.WriteAt(p, off); err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				got := make([]byte, len(p))
				if n, err := f.ReadAt(got, off); n != len(p) || (err != nil && err != io.EOF) || !bytes.Equal(got, p) {
					t.Errorf("worker %d round %d: read %d, %v, equal %v", w, r, n, err, bytes.Equal(got, p))
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range rounds {
			if err := f.Sync(); err != nil {
				t.Error(err)
				return
			}
			if _, err := m.DiskUsage("/"); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	if size, _ := f.Size(); size > workers*span {
		t.Errorf("size %d past the written ranges", size)
	}
	t.Logf("syncs %d, bytes %d", m.SyncCount(), m.BytesWritten())
}
