package vfs

import (
	"io"
	"os"
	"syscall"
)

// memFile is an open MemFS file. All state it reads is guarded by fs.mu.
type memFile struct {
	fs       *MemFS
	n        *node
	name     string // as passed to open; immutable
	gen      uint64 // fs.gen at open; immutable
	writable bool   // immutable
	closed   bool   // guarded by fs.mu
}

var _ File = (*memFile)(nil)

// checkLocked fails calls on handles from before a crash and closed handles.
func (f *memFile) checkLocked(op string) error {
	if f.gen != f.fs.gen {
		return ErrCrashed
	}
	if f.closed {
		return &os.PathError{Op: op, Path: f.name, Err: os.ErrClosed}
	}
	return nil
}

// ReadAt behaves like (*os.File).ReadAt: n < len(p) comes with an error,
// io.EOF when the file ended.
func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("read"); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &os.PathError{Op: "readat", Path: f.name, Err: errNegativeOffset}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt writes p at off, extending the file with zeros if off is past its
// end. The write is durable only after Sync. If the write would exceed the
// capacity it fails with ENOSPC and changes nothing.
func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	m := f.fs
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := f.checkLocked("write"); err != nil {
		return 0, err
	}
	if !f.writable {
		return 0, &os.PathError{Op: "write", Path: f.name, Err: syscall.EBADF}
	}
	if off < 0 {
		return 0, &os.PathError{Op: "writeat", Path: f.name, Err: errNegativeOffset}
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := f.n
	if err := m.resizeLocked(n, max(int64(len(n.data)), off+int64(len(p)))); err != nil {
		return 0, &os.PathError{Op: "write", Path: f.name, Err: err}
	}
	n.data = writeBytes(n.data, p, off)
	n.log = append(n.log, fileOp{off: off, data: append([]byte(nil), p...)})
	m.bytesWritten += int64(len(p))
	return len(p), nil
}

// Truncate changes the current size; it is durable only after Sync.
func (f *memFile) Truncate(size int64) error {
	m := f.fs
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := f.checkLocked("truncate"); err != nil {
		return err
	}
	if !f.writable || size < 0 {
		return &os.PathError{Op: "truncate", Path: f.name, Err: syscall.EINVAL}
	}
	if err := m.truncateLocked(f.n, size); err != nil {
		return &os.PathError{Op: "truncate", Path: f.name, Err: err}
	}
	return nil
}

// truncateLocked resizes file n and logs it; only growth can fail (ENOSPC).
func (m *MemFS) truncateLocked(n *node, size int64) error {
	if err := m.resizeLocked(n, size); err != nil {
		return err
	}
	n.data = resizeBytes(n.data, size)
	n.log = append(n.log, fileOp{truncate: true, off: size})
	return nil
}

// Sync makes the file's current contents durable. It works on read-only
// handles too, as fsync(2) does.
func (f *memFile) Sync() error {
	m := f.fs
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := f.checkLocked("sync"); err != nil {
		return err
	}
	n := f.n
	// Replaying the log onto the durable bytes costs what was written since
	// the last Sync, not the file size; the result equals n.data.
	for _, op := range n.log {
		n.durable = op.apply(n.durable)
	}
	n.log = nil
	m.syncs++
	return nil
}

// Size reports the current size.
func (f *memFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("stat"); err != nil {
		return 0, err
	}
	return int64(len(f.n.data)), nil
}

// Preallocate does nothing beyond checking the handle.
func (f *memFile) Preallocate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return f.checkLocked("fallocate")
}

// Name is the path the file was opened with.
func (f *memFile) Name() string { return f.name }

// Close releases the handle; later calls fail with os.ErrClosed.
func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("close"); err != nil {
		return err
	}
	f.closed = true
	return nil
}
