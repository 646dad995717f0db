package raftfsm

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/types"
	"golang.org/x/sys/unix"
)

// directVFS is raft-wal's file system with the segment being written
// opened with O_DIRECT: its appends go from our buffer to the disk
// without a copy in the page cache.
//
// Why: the Raft log is written once, fsynced, and read back only when a
// follower lags behind the log cache or at recovery; caching it only
// doubles the page cache the CommitLog (which consumers do read back)
// competes with, and a buffered write costs a page cache copy per byte,
// which profiling under the produce benchmark showed as a quarter of the
// leader's CPU (docs/PERFORMANCE.md). Direct I/O also shortens the
// append + fdatasync of a synchronous produce.
//
// raft-wal appends each batch at the end of the segment. O_DIRECT needs
// block-aligned offsets, lengths and buffers, so a write rewrites the
// partial block it starts in (kept in memory from the previous write, or
// read back once after a reopen) and pads its end with zeros up to a block
// boundary: the padding lies past the last frame, in space raft-wal
// treats as unwritten and that a preallocated segment holds as zeros
// anyway. Reads of the tail segment go through O_DIRECT too, so the file
// never has page cache pages that a direct write could leave stale. Sealed
// segments are read as raft-wal does (buffered); they are never written
// again.
//
// A file system that refuses O_DIRECT (tmpfs, some overlay mounts) gets
// raft-wal's own files.
type directVFS struct {
	*fs.FS
}

// directBlock is the alignment of direct I/O: the page size, a multiple of
// every logical block size in use.
const directBlock = 4096

func newDirectVFS() *directVFS { return &directVFS{FS: fs.New()} }

// Create makes a new segment file preallocated to size.
func (v *directVFS) Create(dir, name string, size uint64) (types.WritableFile, error) {
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if size > 0 {
		if err := unix.Fallocate(int(f.Fd()), 0, 0, int64(size)); err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
			f.Close()
			return nil, fmt.Errorf("raftfsm: preallocate %s: %w", path, err)
		}
	}
	d, err := openDirect(path, f, true)
	if err != nil {
		f.Close()
		return nil, err
	}
	if d == nil {
		// No O_DIRECT here: behave as raft-wal's own file system.
		f.Close()
		os.Remove(path)
		return v.FS.Create(dir, name, size)
	}
	return d, nil
}

// OpenWriter reopens the tail segment after a restart.
func (v *directVFS) OpenWriter(dir, name string) (types.WritableFile, error) {
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	d, err := openDirect(path, f, false)
	if err != nil || d == nil {
		f.Close()
		if err != nil {
			return nil, err
		}
		return v.FS.OpenWriter(dir, name)
	}
	return d, nil
}

// openDirect opens path with O_DIRECT beside the plain handle f (kept only
// to learn that the file exists); nil, nil when the file system refuses
// O_DIRECT.
func openDirect(path string, f *os.File, created bool) (*directFile, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EINVAL) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("raftfsm: open %s with O_DIRECT: %w", path, err)
	}
	f.Close()
	return &directFile{fd: fd, path: path, dir: filepath.Dir(path), syncDir: created, end: -1}, nil
}

// directFile is one segment opened with O_DIRECT. raft-wal has one writer
// per segment; ReadAt may run concurrently with WriteAt.
type directFile struct {
	fd      int
	path    string
	dir     string
	syncDir bool // a new file: its directory entry is synced with its first Sync

	wmu  sync.Mutex // serialises writers (raft-wal has one; kept for safety)
	buf  []byte     // aligned write buffer
	tail []byte     // the bytes of the partial block that ends at end
	end  int64      // offset just past the last byte written; -1: unknown

	// wgen counts write starts and ends (odd while a write is in
	// progress); a read-ahead window is used only while wgen is what it
	// was, even, when the window was read.
	wgen   atomic.Uint64
	rmu    sync.Mutex // guards the read-ahead window
	rwin   []byte
	rstart int64
	rgen   uint64

	closeOnce sync.Once
	closeErr  error
}

// readAhead is the window a small read fills: raft-wal's recovery reads
// every frame header of the tail segment one by one.
const readAhead = 256 << 10

// alignedBuf returns a directBlock-aligned slice of n bytes.
func alignedBuf(n int) []byte {
	b := make([]byte, n+directBlock)
	skip := (directBlock - int(uintptr(unsafe.Pointer(&b[0]))%directBlock)) % directBlock
	return b[skip : skip+n : skip+n]
}

func alignUp(n int64) int64 { return (n + directBlock - 1) &^ (directBlock - 1) }

// WriteAt writes p at off: the partial block before off is rewritten with
// its current bytes, and the rest of the last block is zeroed (raft-wal
// only appends, and past its last frame it expects zeros or garbage).
func (d *directFile) WriteAt(p []byte, off int64) (int, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if off != d.end {
		// First write since open, or not where the last one ended: read
		// the partial block back from the disk.
		start := off &^ (directBlock - 1)
		head := make([]byte, off-start)
		if len(head) > 0 {
			if _, err := d.readDirect(head, start); err != nil && !errors.Is(err, io.EOF) {
				return 0, fmt.Errorf("raftfsm: %s: read block at %d: %w", d.path, start, err)
			}
		}
		d.tail, d.end = head, off
	}
	start := off - int64(len(d.tail))
	total := int64(len(d.tail) + len(p))
	alen := alignUp(total)
	if int64(len(d.buf)) < alen {
		d.buf = alignedBuf(int(alignUp(alen + alen/4)))
	}
	b := d.buf[:alen]
	n := copy(b, d.tail)
	copy(b[n:], p)
	clear(b[total:])
	d.wgen.Add(1)
	err := d.pwriteAll(b, start)
	d.wgen.Add(1)
	if err != nil {
		d.end = -1
		return 0, err
	}
	last := total &^ (directBlock - 1)
	d.tail = append(d.tail[:0], b[last:total]...)
	d.end = off + int64(len(p))
	return len(p), nil
}

func (d *directFile) pwriteAll(b []byte, off int64) error {
	for w := 0; w < len(b); {
		k, err := d.retryBuffered(func() (int, error) { return unix.Pwrite(d.fd, b[w:], off+int64(w)) })
		if err != nil {
			return fmt.Errorf("raftfsm: %s: direct write at %d: %w", d.path, off+int64(w), err)
		}
		if k == 0 {
			return fmt.Errorf("raftfsm: %s: direct write at %d: %w", d.path, off+int64(w), io.ErrShortWrite)
		}
		w += k
	}
	return nil
}

// retryBuffered runs one read or write; if the device refuses it with
// EINVAL (an alignment stricter than directBlock), the file leaves direct
// I/O (O_DIRECT is cleared on the descriptor) and the call is made again.
func (d *directFile) retryBuffered(op func() (int, error)) (int, error) {
	k, err := op()
	if !errors.Is(err, unix.EINVAL) {
		return k, err
	}
	flags, ferr := unix.FcntlInt(uintptr(d.fd), unix.F_GETFL, 0)
	if ferr != nil || flags&unix.O_DIRECT == 0 {
		return k, err
	}
	if _, ferr := unix.FcntlInt(uintptr(d.fd), unix.F_SETFL, flags&^unix.O_DIRECT); ferr != nil {
		return k, err
	}
	return op()
}

// ReadAt reads p at off. Like os.File, it returns io.EOF with fewer bytes
// when p reaches past the end of the file. Small reads are served from a
// read-ahead window.
func (d *directFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("raftfsm: %s: negative offset %d", d.path, off)
	}
	if len(p) > readAhead/2 {
		return d.readDirect(p, off)
	}
	d.rmu.Lock()
	if d.rwin != nil && d.rgen == d.wgen.Load() && off >= d.rstart && off+int64(len(p)) <= d.rstart+int64(len(d.rwin)) {
		n := copy(p, d.rwin[off-d.rstart:])
		d.rmu.Unlock()
		return n, nil
	}
	d.rmu.Unlock()
	gen := d.wgen.Load()
	start := off &^ (directBlock - 1)
	win := make([]byte, readAhead)
	n, err := d.readDirect(win, start)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	win = win[:n]
	if gen%2 == 0 && d.wgen.Load() == gen {
		d.rmu.Lock()
		d.rwin, d.rstart, d.rgen = win, start, gen
		d.rmu.Unlock()
	}
	if off-start >= int64(n) {
		return 0, io.EOF
	}
	k := copy(p, win[off-start:])
	if k < len(p) {
		return k, io.EOF
	}
	return k, nil
}

// readDirect reads through an aligned bounce buffer, with ReadAt's EOF
// semantics.
func (d *directFile) readDirect(p []byte, off int64) (int, error) {
	start := off &^ (directBlock - 1)
	alen := alignUp(off + int64(len(p)) - start)
	b := alignedBuf(int(alen))
	got := int64(0)
	for got < alen {
		k, err := d.retryBuffered(func() (int, error) { return unix.Pread(d.fd, b[got:], start+got) })
		if err != nil {
			return 0, fmt.Errorf("raftfsm: %s: direct read at %d: %w", d.path, start+got, err)
		}
		got += int64(k)
		if k == 0 || got%directBlock != 0 {
			break // end of file (a direct read is short only there)
		}
	}
	skip := off - start
	if got <= skip {
		return 0, io.EOF
	}
	n := copy(p, b[skip:got])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Sync makes the written blocks durable (fdatasync: the size of a
// preallocated segment does not change), and the directory entry of a new
// file once.
func (d *directFile) Sync() error {
	if err := unix.Fdatasync(d.fd); err != nil {
		return fmt.Errorf("raftfsm: %s: fdatasync: %w", d.path, err)
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.syncDir {
		dir, err := os.Open(d.dir)
		if err != nil {
			return err
		}
		err = dir.Sync()
		if cerr := dir.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("raftfsm: sync directory %s: %w", d.dir, err)
		}
		d.syncDir = false
	}
	return nil
}

// Close closes the file once; later calls return the first result.
func (d *directFile) Close() error {
	d.closeOnce.Do(func() { d.closeErr = unix.Close(d.fd) })
	return d.closeErr
}
