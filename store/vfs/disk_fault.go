package vfs

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DiskFaultFS wraps an FS whose disk can be made slow, stalled, lazy or
// failing at run time (SetMode), for chaos tests of real processes: the
// daemon wraps its store's OS file system in one when its test hook is
// set. Unlike FaultFS it targets no operation or path: it changes when
// bytes reach the inner FS, or (DiskFail) fails every write-side call
// with EIO, as a whole disk does. It is safe for concurrent use.
type DiskFaultFS struct {
	inner FS
	state atomic.Pointer[diskState]

	// mu guards nodes.
	mu sync.Mutex
	// nodes holds the shared state of every path that has open handles,
	// by cleaned path: handles of one path see each other's unsynced bytes.
	nodes map[string]*diskNode
}

// diskState is one mode; changed is closed when the mode is replaced.
type diskState struct {
	mode    DiskMode
	changed chan struct{}
}

var (
	_ FS     = (*DiskFaultFS)(nil)
	_ Locker = (*DiskFaultFS)(nil)
)

// NewDiskFaultFS wraps inner in DiskNormal mode.
func NewDiskFaultFS(inner FS) *DiskFaultFS {
	f := &DiskFaultFS{inner: inner, nodes: map[string]*diskNode{}}
	f.state.Store(&diskState{changed: make(chan struct{})})
	return f
}

// SetMode switches the mode. Calls stalled in DiskStall continue; bytes a
// lazy mode kept stay pending until their file's next Sync, Truncate or
// write, or the close of the handle that wrote them.
func (f *DiskFaultFS) SetMode(m DiskMode) {
	old := f.state.Swap(&diskState{mode: m, changed: make(chan struct{})})
	close(old.changed)
}

// Mode returns the current mode.
func (f *DiskFaultFS) Mode() DiskMode { return f.state.Load().mode }

// gate applies the mode to a write-side call: it sleeps in DiskSlow
// (when slow is set), blocks while DiskStall lasts, and returns the mode
// the call proceeds in.
func (f *DiskFaultFS) gate(slow bool) DiskMode {
	for {
		st := f.state.Load()
		switch st.mode.Kind {
		case DiskStall:
			<-st.changed
			continue
		case DiskSlow:
			if slow {
				sleepOrChange(st)
			}
		}
		return st.mode
	}
}

// sleepOrChange sleeps st's delay, cut short if the mode changes.
func sleepOrChange(st *diskState) {
	t := time.NewTimer(st.mode.Delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-st.changed:
	}
}

// Gate applies the mode to a write-side call made outside this file
// system, such as an append to a Raft log kept on the same disk: it
// sleeps in DiskSlow, blocks while DiskStall lasts and returns EIO in
// DiskFail. DiskLazy and DiskNormal let it through at once.
func (f *DiskFaultFS) Gate(what string) error { return f.check("write", what, true) }

// check gates a write-side call (op on name) and returns the error a
// failing disk gives it, or nil.
func (f *DiskFaultFS) check(op, name string, slow bool) error {
	if f.gate(slow).Kind == DiskFail {
		return &os.PathError{Op: op, Path: name, Err: syscall.EIO}
	}
	return nil
}

// node returns the shared state of name, counting one more handle.
func (f *DiskFaultFS) node(name string) *diskNode {
	name = filepath.Clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.nodes[name]
	if n == nil {
		n = &diskNode{}
		f.nodes[name] = n
	}
	n.refs++
	return n
}

// release drops one handle of n; the last one forgets it.
func (f *DiskFaultFS) release(n *diskNode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n.refs--
	if n.refs == 0 {
		for p, m := range f.nodes {
			if m == n {
				delete(f.nodes, p)
			}
		}
	}
}

// lookup returns the shared state of name if a handle has it open.
func (f *DiskFaultFS) lookup(name string) *diskNode {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nodes[filepath.Clean(name)]
}

// open opens name with openInner and wraps the handle.
func (f *DiskFaultFS) open(name string, openInner func(string) (File, error)) (File, error) {
	file, err := openInner(name)
	if err != nil {
		return nil, err
	}
	return &diskFile{inner: file, fs: f, node: f.node(name)}, nil
}

// Create is stalled in DiskStall and fails in DiskFail.
func (f *DiskFaultFS) Create(name string) (File, error) {
	if err := f.check("create", name, false); err != nil {
		return nil, err
	}
	if n := f.lookup(name); n != nil {
		n.discard() // truncated: pending bytes of the old contents are gone
	}
	return f.open(name, f.inner.Create)
}

// OpenReadWrite forwards.
func (f *DiskFaultFS) OpenReadWrite(name string) (File, error) {
	return f.open(name, f.inner.OpenReadWrite)
}

// Open forwards.
func (f *DiskFaultFS) Open(name string) (File, error) {
	return f.open(name, f.inner.Open)
}

// Remove is stalled in DiskStall and fails in DiskFail; the pending bytes
// of name are dropped.
func (f *DiskFaultFS) Remove(name string) error {
	if err := f.check("remove", name, false); err != nil {
		return err
	}
	if err := f.inner.Remove(name); err != nil {
		return err
	}
	f.forget(name)
	return nil
}

// RemoveAll is stalled in DiskStall and fails in DiskFail; pending bytes
// under name are dropped.
func (f *DiskFaultFS) RemoveAll(name string) error {
	if err := f.check("remove", name, false); err != nil {
		return err
	}
	if err := f.inner.RemoveAll(name); err != nil {
		return err
	}
	f.forget(name)
	return nil
}

// forget unlinks name and every open path under it from their shared
// state (handles keep theirs, as a removed file stays readable).
func (f *DiskFaultFS) forget(name string) {
	name = filepath.Clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, n := range f.nodes {
		if under(p, name) {
			n.discard()
			delete(f.nodes, p)
		}
	}
}

// Rename is stalled in DiskStall and fails in DiskFail; pending bytes
// follow the file.
func (f *DiskFaultFS) Rename(oldname, newname string) error {
	if err := f.check("rename", oldname, false); err != nil {
		return err
	}
	if err := f.inner.Rename(oldname, newname); err != nil {
		return err
	}
	oldname, newname = filepath.Clean(oldname), filepath.Clean(newname)
	f.mu.Lock()
	defer f.mu.Unlock()
	for p := range f.nodes {
		if under(p, newname) {
			delete(f.nodes, p) // replaced
		}
	}
	for p, n := range f.nodes {
		if under(p, oldname) {
			delete(f.nodes, p)
			f.nodes[newname+p[len(oldname):]] = n
		}
	}
	return nil
}

// under reports whether p is dir or a path below it.
func under(p, dir string) bool {
	return p == dir || len(p) > len(dir) && p[:len(dir)] == dir && p[len(dir)] == filepath.Separator
}

// MkdirAll is stalled in DiskStall and fails in DiskFail.
func (f *DiskFaultFS) MkdirAll(dir string, perm os.FileMode) error {
	if err := f.check("mkdir", dir, false); err != nil {
		return err
	}
	return f.inner.MkdirAll(dir, perm)
}

// ReadDir forwards.
func (f *DiskFaultFS) ReadDir(dir string) ([]string, error) { return f.inner.ReadDir(dir) }

// Stat reports the size including bytes pending in memory.
func (f *DiskFaultFS) Stat(name string) (FileInfo, error) {
	fi, err := f.inner.Stat(name)
	if err != nil || fi.IsDir {
		return fi, err
	}
	if n := f.lookup(name); n != nil {
		if size, ok := n.pendingSize(); ok {
			fi.Size = size
		}
	}
	return fi, nil
}

// SyncDir is delayed in DiskSlow, stalled in DiskStall and fails in
// DiskFail.
func (f *DiskFaultFS) SyncDir(dir string) error {
	if err := f.check("fsync", dir, true); err != nil {
		return err
	}
	return f.inner.SyncDir(dir)
}

// DiskUsage forwards; in DiskFull it reports no free bytes.
func (f *DiskFaultFS) DiskUsage(path string) (DiskUsage, error) {
	u, err := f.inner.DiskUsage(path)
	if err == nil && f.Mode().Kind == DiskFull {
		u.FreeBytes = 0
		u.TotalBytes = max(u.TotalBytes, 1)
	}
	return u, err
}

// Lock forwards to the inner FS when it is a Locker; otherwise the lock
// is a no-op (one process).
func (f *DiskFaultFS) Lock(name string) (io.Closer, error) {
	if l, ok := f.inner.(Locker); ok {
		return l.Lock(name)
	}
	return io.NopCloser(nil), nil
}
