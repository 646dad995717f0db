package vfs

import (
	"os"
	"sync"
	"time"
)

// FaultFS wraps an FS and injects errors and latency per operation and
// path. With no injector and no latency set it only forwards calls. It is
// safe for concurrent use; the injector and latency functions may be called
// from several goroutines at once.
type FaultFS struct {
	inner FS

	// mu guards inject and latency.
	mu      sync.RWMutex
	inject  func(op Op, path string) error
	latency func(op Op, path string) time.Duration
}

var _ FS = (*FaultFS)(nil)

// NewFaultFS wraps inner.
func NewFaultFS(inner FS) *FaultFS { return &FaultFS{inner: inner} }

// SetInjector sets the function consulted before every operation; a non-nil
// error fails the operation, wrapped in *os.PathError, without touching the
// inner FS. nil clears it.
func (f *FaultFS) SetInjector(fn func(op Op, path string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inject = fn
}

// SetLatency sets a function whose result is slept before every operation
// (before the injector is consulted). nil clears it.
func (f *FaultFS) SetLatency(fn func(op Op, path string) time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = fn
}

// before applies latency and the injector for op on path.
func (f *FaultFS) before(op Op, path string) error {
	f.mu.RLock()
	inject, latency := f.inject, f.latency
	f.mu.RUnlock()
	if latency != nil {
		if d := latency(op, path); d > 0 {
			time.Sleep(d)
		}
	}
	if inject != nil {
		if err := inject(op, path); err != nil {
			return &os.PathError{Op: op.String(), Path: path, Err: err}
		}
	}
	return nil
}

func (f *FaultFS) wrap(file File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return &faultFile{inner: file, fs: f}, nil
}

// Create consults OpCreate.
func (f *FaultFS) Create(name string) (File, error) {
	if err := f.before(OpCreate, name); err != nil {
		return nil, err
	}
	return f.wrap(f.inner.Create(name))
}

// OpenReadWrite consults OpOpen.
func (f *FaultFS) OpenReadWrite(name string) (File, error) {
	if err := f.before(OpOpen, name); err != nil {
		return nil, err
	}
	return f.wrap(f.inner.OpenReadWrite(name))
}

// Open consults OpOpen.
func (f *FaultFS) Open(name string) (File, error) {
	if err := f.before(OpOpen, name); err != nil {
		return nil, err
	}
	return f.wrap(f.inner.Open(name))
}

// Remove consults OpRemove.
func (f *FaultFS) Remove(name string) error {
	if err := f.before(OpRemove, name); err != nil {
		return err
	}
	return f.inner.Remove(name)
}

// RemoveAll consults OpRemove with name (not with each path below it).
func (f *FaultFS) RemoveAll(name string) error {
	if err := f.before(OpRemove, name); err != nil {
		return err
	}
	return f.inner.RemoveAll(name)
}

// Rename consults OpRename with oldname, then with newname.
func (f *FaultFS) Rename(oldname, newname string) error {
	if err := f.before(OpRename, oldname); err != nil {
		return err
	}
	if err := f.before(OpRename, newname); err != nil {
		return err
	}
	return f.inner.Rename(oldname, newname)
}

// MkdirAll consults OpMkdir with dir.
func (f *FaultFS) MkdirAll(dir string, perm os.FileMode) error {
	if err := f.before(OpMkdir, dir); err != nil {
		return err
	}
	return f.inner.MkdirAll(dir, perm)
}

// ReadDir consults OpReadDir.
func (f *FaultFS) ReadDir(dir string) ([]string, error) {
	if err := f.before(OpReadDir, dir); err != nil {
		return nil, err
	}
	return f.inner.ReadDir(dir)
}

// Stat consults OpStat.
func (f *FaultFS) Stat(name string) (FileInfo, error) {
	if err := f.before(OpStat, name); err != nil {
		return FileInfo{}, err
	}
	return f.inner.Stat(name)
}

// SyncDir consults OpSyncDir.
func (f *FaultFS) SyncDir(dir string) error {
	if err := f.before(OpSyncDir, dir); err != nil {
		return err
	}
	return f.inner.SyncDir(dir)
}

// DiskUsage consults OpStat.
func (f *FaultFS) DiskUsage(path string) (DiskUsage, error) {
	if err := f.before(OpStat, path); err != nil {
		return DiskUsage{}, err
	}
	return f.inner.DiskUsage(path)
}

// faultFile wraps a File of the inner FS; ReadAt, WriteAt, Sync and Truncate
// consult the FaultFS with the file's name. The other methods forward.
type faultFile struct {
	inner File
	fs    *FaultFS
}

var _ File = (*faultFile)(nil)

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.before(OpRead, f.inner.Name()); err != nil {
		return 0, err
	}
	return f.inner.ReadAt(p, off)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.before(OpWrite, f.inner.Name()); err != nil {
		return 0, err
	}
	return f.inner.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	if err := f.fs.before(OpSync, f.inner.Name()); err != nil {
		return err
	}
	return f.inner.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.before(OpTruncate, f.inner.Name()); err != nil {
		return err
	}
	return f.inner.Truncate(size)
}

func (f *faultFile) Size() (int64, error)         { return f.inner.Size() }
func (f *faultFile) Preallocate(size int64) error { return f.inner.Preallocate(size) }
func (f *faultFile) Name() string                 { return f.inner.Name() }
func (f *faultFile) Close() error                 { return f.inner.Close() }
