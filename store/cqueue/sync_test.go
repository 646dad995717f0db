package cqueue

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/raftmq/raftmq/store/vfs"
)

// countingFS records file and directory syncs.
type countingFS struct {
	vfs.FS
	mu        sync.Mutex // guards the fields below
	fileSyncs map[string]int
	dirSyncs  map[string]int
}

var _ vfs.FS = (*countingFS)(nil)

type countingFile struct {
	vfs.File
	fs *countingFS
}

func newCountingFS() *countingFS {
	return &countingFS{FS: vfs.OS(), fileSyncs: map[string]int{}, dirSyncs: map[string]int{}}
}

func (c *countingFS) OpenReadWrite(name string) (vfs.File, error) {
	f, err := c.FS.OpenReadWrite(name)
	if err != nil {
		return nil, err
	}
	return countingFile{File: f, fs: c}, nil
}

func (c *countingFS) SyncDir(dir string) error {
	c.mu.Lock()
	c.dirSyncs[dir]++
	c.mu.Unlock()
	return c.FS.SyncDir(dir)
}

func (f countingFile) Sync() error {
	f.fs.mu.Lock()
	f.fs.fileSyncs[filepath.Base(f.Name())]++
	f.fs.mu.Unlock()
	return f.File.Sync()
}

// take returns and resets the counts.
func (c *countingFS) take() (files map[string]int, dirs map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	files, dirs = c.fileSyncs, c.dirSyncs
	c.fileSyncs, c.dirSyncs = map[string]int{}, map[string]int{}
	return files, dirs
}

func TestSyncContract(t *testing.T) {
	fs := newCountingFS()
	parent := t.TempDir()
	dir := filepath.Join(parent, "q")
	q, err := Open(fs, dir, Options{EntriesPerFile: testEPF})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, dirs := fs.take(); dirs[parent] != 1 {
		t.Errorf("Open of a new queue synced the parent %d times, want 1", dirs[parent])
	}

	steps := []struct {
		name      string
		do        func() error
		wantFiles map[string]int // file syncs expected from the step
		wantDir   int            // syncs of dir expected from the step
	}{
		{"put creates two files", func() error { return q.Put(0, entriesFor(0, 10)) }, nil, 0},
		{"sync", q.Sync, map[string]int{fileName(0): 1, fileName(7): 1}, 1},
		{"sync again is free", q.Sync, nil, 0},
		{"put inside a file", func() error { return q.Put(10, entriesFor(10, 2)) }, nil, 0},
		{"sync without new files", q.Sync, map[string]int{fileName(7): 1}, 0},
		{"put across a boundary", func() error { return q.Put(12, entriesFor(12, 4)) }, nil, 0},
		{"sync with a new file", q.Sync, map[string]int{fileName(7): 1, fileName(14): 1}, 1},
		{"delete before syncs dir at once", func() error { _, err := q.DeleteBefore(entryFor(8).Offset); return err }, nil, 1},
		{"truncate removes a file", func() error { return q.Truncate(12) }, nil, 1},
		{"sync after truncate", q.Sync, map[string]int{fileName(7): 1}, 0},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		files, dirs := fs.take()
		if len(files) != len(st.wantFiles) {
			t.Errorf("%s: file syncs %v, want %v", st.name, files, st.wantFiles)
		}
		for name, n := range st.wantFiles {
			if files[name] != n {
				t.Errorf("%s: file syncs %v, want %v", st.name, files, st.wantFiles)
			}
		}
		if dirs[dir] != st.wantDir {
			t.Errorf("%s: %d dir syncs, want %d", st.name, dirs[dir], st.wantDir)
		}
	}
}
