package vfs

import (
	"errors"
	"io"
	"maps"
	"os"
	"slices"
	"sync"
	"syscall"
)

// diskPage is the unit in which DiskLazy keeps unsynced bytes, like the
// page cache: a page holds the file's bytes as of its first lazy write
// plus every later write to it.
const diskPage = 4096

// diskNode is what every open handle of one path shares: the pages
// written in DiskLazy and not yet written through.
type diskNode struct {
	// refs counts open handles; guarded by DiskFaultFS.mu.
	refs int

	// mu guards pages, size and writer. Readers and write-through
	// writers take it shared; lazy writes, flushes and truncates take it
	// exclusively.
	mu sync.RWMutex
	// pages are the pending pages by page index; nil or empty when
	// nothing is pending.
	pages map[int64][]byte
	// size is the file's logical size while pages are pending.
	size int64
	// writer is the inner handle that wrote the pending pages; they are
	// written through it.
	writer File
}

// pendingSize returns the logical size if bytes are pending.
func (n *diskNode) pendingSize() (int64, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.size, len(n.pages) > 0
}

// discard drops the pending bytes (the file was removed or truncated by
// Create).
func (n *diskNode) discard() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pages, n.writer = nil, nil
}

// flushLocked writes the pending pages through to the inner file, in
// offset order, without syncing; n.mu is held exclusively.
func (n *diskNode) flushLocked() error {
	if len(n.pages) == 0 {
		return nil
	}
	for _, i := range slices.Sorted(maps.Keys(n.pages)) {
		start := i * diskPage
		end := min(diskPage, n.size-start)
		if end <= 0 {
			continue
		}
		if _, err := n.writer.WriteAt(n.pages[i][:end], start); err != nil {
			return err
		}
	}
	n.pages, n.writer = nil, nil
	return nil
}

// diskFile is a handle of a DiskFaultFS.
type diskFile struct {
	inner File
	fs    *DiskFaultFS
	node  *diskNode
}

var _ File = (*diskFile)(nil)

// ReadAt sees the pending bytes of every handle of the path.
func (f *diskFile) ReadAt(p []byte, off int64) (int, error) {
	n := f.node
	n.mu.RLock()
	defer n.mu.RUnlock()
	if len(n.pages) == 0 || off < 0 {
		return f.inner.ReadAt(p, off)
	}
	if off >= n.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), n.size-off)
	buf := p[:want]
	got, err := f.inner.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return got, err
	}
	clear(buf[got:]) // past the inner file's end: zeros unless pending
	for pg := off / diskPage; pg*diskPage < off+want; pg++ {
		page, ok := n.pages[pg]
		if !ok {
			continue
		}
		ps := pg * diskPage
		lo, hi := max(off, ps), min(off+want, ps+diskPage)
		copy(buf[lo-off:hi-off], page[lo-ps:hi-ps])
	}
	if int(want) < len(p) {
		return int(want), io.EOF
	}
	return int(want), nil
}

// WriteAt is delayed in DiskSlow, stalled in DiskStall, kept in memory in
// DiskLazy and fails in DiskFail. In the other modes pending pages are
// written through first, so the file's bytes stay in write order.
func (f *DiskFaultFS) writeAt(fl *diskFile, p []byte, off int64) (int, error) {
	n := fl.node
	m := f.gate(true)
	if m.Kind == DiskFail {
		return 0, &os.PathError{Op: "write", Path: fl.Name(), Err: syscall.EIO}
	}
	if m.Kind != DiskLazy || off < 0 {
		n.mu.RLock()
		if len(n.pages) == 0 {
			defer n.mu.RUnlock()
			return fl.inner.WriteAt(p, off)
		}
		n.mu.RUnlock()
		n.mu.Lock()
		defer n.mu.Unlock()
		if err := n.flushLocked(); err != nil {
			return 0, err
		}
		return fl.inner.WriteAt(p, off)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.pages) == 0 {
		size, err := fl.inner.Size()
		if err != nil {
			return 0, err
		}
		n.size, n.pages = size, map[int64][]byte{}
	}
	end := off + int64(len(p))
	for pos := off; pos < end; {
		pg := pos / diskPage
		ps := pg * diskPage
		page := n.pages[pg]
		if page == nil {
			page = make([]byte, diskPage)
			if ps < n.size {
				if _, err := fl.inner.ReadAt(page[:min(diskPage, n.size-ps)], ps); err != nil && !errors.Is(err, io.EOF) {
					return 0, err
				}
			}
			n.pages[pg] = page
		}
		pos += int64(copy(page[pos-ps:], p[pos-off:]))
	}
	n.size = max(n.size, end)
	if n.writer == nil {
		n.writer = fl.inner
	}
	return len(p), nil
}

func (f *diskFile) WriteAt(p []byte, off int64) (int, error) { return f.fs.writeAt(f, p, off) }

// Sync writes the pending pages through and syncs; it is delayed in
// DiskSlow, stalled in DiskStall and fails in DiskFail (the pending pages
// stay pending).
func (f *diskFile) Sync() error {
	if err := f.fs.check("fsync", f.Name(), true); err != nil {
		return err
	}
	f.node.mu.Lock()
	err := f.node.flushLocked()
	f.node.mu.Unlock()
	if err != nil {
		return err
	}
	return f.inner.Sync()
}

// Truncate writes the pending pages through, then truncates the inner
// file (not synced); it is delayed in DiskSlow, stalled in DiskStall and
// fails in DiskFail.
func (f *diskFile) Truncate(size int64) error {
	if err := f.fs.check("truncate", f.Name(), true); err != nil {
		return err
	}
	f.node.mu.Lock()
	defer f.node.mu.Unlock()
	if err := f.node.flushLocked(); err != nil {
		return err
	}
	return f.inner.Truncate(size)
}

// Size includes the pending bytes.
func (f *diskFile) Size() (int64, error) {
	if size, ok := f.node.pendingSize(); ok {
		return size, nil
	}
	return f.inner.Size()
}

func (f *diskFile) Preallocate(size int64) error { return f.inner.Preallocate(size) }
func (f *diskFile) Name() string                 { return f.inner.Name() }

// Close writes through (without syncing) the pending pages this handle
// wrote: they then survive a crash of the process, as bytes in the page
// cache do, though not a power cut.
func (f *diskFile) Close() error {
	n := f.node
	n.mu.Lock()
	var err error
	if n.writer == f.inner {
		err = n.flushLocked()
	}
	n.mu.Unlock()
	f.fs.release(n)
	return errors.Join(err, f.inner.Close())
}
