package vfs_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/raftmq/raftmq/store/vfs"
)

func TestParseDiskMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want vfs.DiskMode
		err  bool
	}{
		{"", vfs.DiskMode{}, false},
		{"normal\n", vfs.DiskMode{}, false},
		{" stall ", vfs.DiskMode{Kind: vfs.DiskStall}, false},
		{"lazy", vfs.DiskMode{Kind: vfs.DiskLazy}, false},
		{"fail", vfs.DiskMode{Kind: vfs.DiskFail}, false},
		{"fail now", vfs.DiskMode{}, true},
		{"full", vfs.DiskMode{Kind: vfs.DiskFull}, false},
		{"slow 20ms", vfs.DiskMode{Kind: vfs.DiskSlow, Delay: 20 * time.Millisecond}, false},
		{"slow", vfs.DiskMode{}, true},
		{"slow -1s", vfs.DiskMode{}, true},
		{"stall 1s", vfs.DiskMode{}, true},
		{"fast", vfs.DiskMode{}, true},
	} {
		got, err := vfs.ParseDiskMode(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseDiskMode(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil {
			if again, err := vfs.ParseDiskMode(got.String()); err != nil || again != got {
				t.Errorf("ParseDiskMode(%q.String()) = %v, %v", got, again, err)
			}
		}
	}
}

// onDisk reads what a crash of the process would leave of path: the
// bytes the operating system has.
func onDisk(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustWrite(t *testing.T, f vfs.File, s string, off int64) {
	t.Helper()
	if n, err := f.WriteAt([]byte(s), off); err != nil || n != len(s) {
		t.Fatalf("WriteAt(%q, %d) = %d, %v", s, off, n, err)
	}
}

// TestDiskLazyKeepsUnsyncedInMemory: in DiskLazy the process sees its
// writes (every handle, Size, Stat) while the OS has only what was
// synced; Sync writes through; a rename carries the pending bytes.
func TestDiskLazyKeepsUnsyncedInMemory(t *testing.T) {
	dir := t.TempDir()
	fs := vfs.NewDiskFaultFS(vfs.OS())
	path := filepath.Join(dir, "seg")
	w, err := fs.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w, "synced|", 0)
	fs.SetMode(vfs.DiskMode{Kind: vfs.DiskLazy})
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w, "lazy-bytes", 7)
	r, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	n, err := r.ReadAt(buf, 0)
	if err != io.EOF || string(buf[:n]) != "synced|lazy-bytes" {
		t.Fatalf("read through another handle = %q, %v", buf[:n], err)
	}
	if sz, err := w.Size(); err != nil || sz != 17 {
		t.Fatalf("Size = %d, %v; want 17", sz, err)
	}
	if fi, err := fs.Stat(path); err != nil || fi.Size != 17 {
		t.Fatalf("Stat = %+v, %v; want size 17", fi, err)
	}
	if got := onDisk(t, path); string(got) != "synced|" {
		t.Fatalf("the OS has %q before Sync; want only the synced bytes", got)
	}
	moved := filepath.Join(dir, "seg2")
	if err := fs.Rename(path, moved); err != nil {
		t.Fatal(err)
	}
	if fi, err := fs.Stat(moved); err != nil || fi.Size != 17 {
		t.Fatalf("Stat after rename = %+v, %v; want size 17", fi, err)
	}
	if err := r.Sync(); err != nil { // any handle's Sync writes through
		t.Fatal(err)
	}
	if got := onDisk(t, moved); string(got) != "synced|lazy-bytes" {
		t.Fatalf("the OS has %q after Sync", got)
	}
	for _, f := range []vfs.File{w, r} {
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDiskLazyMatchesModel: random writes, reads, syncs, truncates and
// mode switches on one file agree with a plain byte slice, and the OS
// holds the model as of the last write-through.
func TestDiskLazyMatchesModel(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	fs := vfs.NewDiskFaultFS(vfs.OS())
	path := filepath.Join(t.TempDir(), "f")
	f, err := fs.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var model, durable []byte
	lazy := false
	for step := range 2000 {
		switch op := rng.IntN(10); {
		case op < 5:
			off := int64(rng.IntN(len(model) + 3*4096))
			if rng.IntN(2) == 0 {
				off = int64(len(model)) // append, like the CommitLog
			}
			p := make([]byte, 1+rng.IntN(6000))
			for i := range p {
				p[i] = byte('a' + rng.IntN(26))
			}
			mustWrite(t, f, string(p), off)
			if end := off + int64(len(p)); end > int64(len(model)) {
				model = append(model, make([]byte, end-int64(len(model)))...)
			}
			copy(model[off:], p)
			if !lazy {
				durable = bytes.Clone(model)
			}
		case op < 7:
			off := int64(rng.IntN(len(model) + 10))
			buf := make([]byte, rng.IntN(9000))
			n, err := f.ReadAt(buf, off)
			want := []byte{}
			if off < int64(len(model)) {
				want = model[off:min(int64(len(model)), off+int64(len(buf)))]
			}
			if !bytes.Equal(buf[:n], want) || (n < len(buf)) != (err == io.EOF) {
				t.Fatalf("step %d: ReadAt(%d, %d) = %d, %v; want %d bytes", step, len(buf), off, n, err, len(want))
			}
		case op < 8:
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			durable = bytes.Clone(model)
		case op < 9:
			size := int64(rng.IntN(len(model) + 100))
			if err := f.Truncate(size); err != nil {
				t.Fatal(err)
			}
			if size <= int64(len(model)) {
				model = model[:size]
			} else {
				model = append(model, make([]byte, size-int64(len(model)))...)
			}
			durable = bytes.Clone(model)
		default:
			lazy = !lazy
			if lazy {
				fs.SetMode(vfs.DiskMode{Kind: vfs.DiskLazy})
			} else {
				fs.SetMode(vfs.DiskMode{})
			}
		}
		if sz, err := f.Size(); err != nil || sz != int64(len(model)) {
			t.Fatalf("step %d: Size = %d, %v; want %d", step, sz, err, len(model))
		}
		if got := onDisk(t, path); !bytes.Equal(got, durable) {
			t.Fatalf("step %d: the OS has %d bytes, want %d (last write-through)", step, len(got), len(durable))
		}
	}
}

// TestDiskStallBlocksWritesUntilModeChanges: a WriteAt and a Sync block
// in DiskStall while reads go on, and finish once the mode is normal.
func TestDiskStallBlocksWritesUntilModeChanges(t *testing.T) {
	fs := vfs.NewDiskFaultFS(vfs.OS())
	f, err := fs.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mustWrite(t, f, "before", 0)
	fs.SetMode(vfs.DiskMode{Kind: vfs.DiskStall})
	done := make(chan error, 1)
	go func() {
		_, err := f.WriteAt([]byte("during"), 6)
		if err == nil {
			err = f.Sync()
		}
		done <- err
	}()
	buf := make([]byte, 6)
	if _, err := f.ReadAt(buf, 0); err != nil || string(buf) != "before" {
		t.Fatalf("read while stalled = %q, %v", buf, err)
	}
	select {
	case err := <-done:
		t.Fatalf("write finished while stalled: %v", err)
	case <-time.After(100 * time.Millisecond): // the stall must hold for this long
	}
	fs.SetMode(vfs.DiskMode{})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if sz, _ := f.Size(); sz != 12 {
		t.Fatalf("size %d after the stall; want 12", sz)
	}
}

// TestDiskFailFailsWritesWithEIO: in DiskFail every write-side call fails
// with EIO and changes nothing, reads go on, and the disk works again once
// the mode is normal.
func TestDiskFailFailsWritesWithEIO(t *testing.T) {
	fs := vfs.NewDiskFaultFS(vfs.OS())
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mustWrite(t, f, "before", 0)
	fs.SetMode(vfs.DiskMode{Kind: vfs.DiskFail})
	eio := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, syscall.EIO) {
			t.Errorf("%s on a failing disk: %v; want EIO", what, err)
		}
	}
	_, err = f.WriteAt([]byte("during"), 6)
	eio("WriteAt", err)
	eio("Sync", f.Sync())
	eio("Truncate", f.Truncate(0))
	_, err = fs.Create(filepath.Join(dir, "g"))
	eio("Create", err)
	eio("Rename", fs.Rename(name, filepath.Join(dir, "h")))
	eio("Remove", fs.Remove(name))
	eio("RemoveAll", fs.RemoveAll(name))
	eio("MkdirAll", fs.MkdirAll(filepath.Join(dir, "d"), 0o755))
	eio("SyncDir", fs.SyncDir(dir))
	eio("Gate", fs.Gate("raft log"))
	buf := make([]byte, 16)
	if n, err := f.ReadAt(buf, 0); string(buf[:n]) != "before" || !errors.Is(err, io.EOF) {
		t.Fatalf("read on a failing disk = %q, %v", buf[:n], err)
	}
	if names, err := fs.ReadDir(dir); err != nil || len(names) != 1 {
		t.Fatalf("directory after the failed calls: %v, %v; want only f", names, err)
	}
	fs.SetMode(vfs.DiskMode{})
	mustWrite(t, f, "after", 6)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := fs.Gate("raft log"); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.ReadAt(buf, 0); string(buf[:n]) != "beforeafter" {
		t.Fatalf("read after the failure = %q", buf[:n])
	}
}

// TestDiskFullReportsNoFreeBytes: in DiskFull the file system reports no
// free bytes and writes go on; normal reports the inner FS's usage again.
func TestDiskFullReportsNoFreeBytes(t *testing.T) {
	fs := vfs.NewDiskFaultFS(vfs.OS())
	dir := t.TempDir()
	before, err := fs.DiskUsage(dir)
	if err != nil || before.FreeBytes == 0 {
		t.Fatalf("usage before: %+v, %v; want free bytes", before, err)
	}
	fs.SetMode(vfs.DiskMode{Kind: vfs.DiskFull})
	u, err := fs.DiskUsage(dir)
	if err != nil || u.FreeBytes != 0 || u.UsedRatio() != 1 {
		t.Fatalf("usage when full: %+v (used %v), %v; want no free bytes", u, u.UsedRatio(), err)
	}
	f, err := fs.Create(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mustWrite(t, f, "still written", 0)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	fs.SetMode(vfs.DiskMode{})
	if u, err := fs.DiskUsage(dir); err != nil || u.FreeBytes == 0 {
		t.Fatalf("usage after: %+v, %v; want free bytes again", u, err)
	}
}

// TestDiskSlowDelaysWrites: each WriteAt and Sync waits the delay.
func TestDiskSlowDelaysWrites(t *testing.T) {
	fs := vfs.NewDiskFaultFS(vfs.OS())
	f, err := fs.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fs.SetMode(vfs.DiskMode{Kind: vfs.DiskSlow, Delay: 30 * time.Millisecond})
	start := time.Now()
	mustWrite(t, f, "x", 0)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 60*time.Millisecond {
		t.Fatalf("write+sync took %v in slow 30ms; want at least 60ms", took)
	}
}

// TestDiskLazyCloseRemoveCreate: closing the handle that wrote pending
// bytes writes them through (a closed file survives a process crash);
// Remove and a truncating Create drop them; the store's directory lock
// still excludes a second locker.
func TestDiskLazyCloseRemoveCreate(t *testing.T) {
	dir := t.TempDir()
	fs := vfs.NewDiskFaultFS(vfs.OS())
	fs.SetMode(vfs.DiskMode{Kind: vfs.DiskLazy})
	a := filepath.Join(dir, "a")
	f, err := fs.Create(a)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, f, "closed", 0)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(t, a); string(got) != "closed" {
		t.Fatalf("after Close the OS has %q", got)
	}

	b := filepath.Join(dir, "b")
	keep, err := fs.Create(b)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	mustWrite(t, keep, "pending", 0)
	if err := fs.Remove(b); err != nil {
		t.Fatal(err)
	}
	again, err := fs.Create(b)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if sz, err := again.Size(); err != nil || sz != 0 {
		t.Fatalf("a new file where a removed one had pending bytes: size %d, %v", sz, err)
	}
	mustWrite(t, again, "x", 0)
	c2, err := fs.Create(b) // truncates: the pending "x" is gone
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if fi, err := fs.Stat(b); err != nil || fi.Size != 0 {
		t.Fatalf("Stat after a truncating Create = %+v, %v", fi, err)
	}

	lock, err := fs.Lock(filepath.Join(dir, "LOCK"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if l2, err := vfs.OS().(vfs.Locker).Lock(filepath.Join(dir, "LOCK")); err == nil {
		l2.Close()
		t.Fatal("a second lock was granted through the OS")
	}
}
