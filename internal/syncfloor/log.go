package syncfloor

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// blockSize is the unit of an O_DIRECT write and of its buffer's alignment.
const blockSize = 4096

// fillChunk is the size of one zero-filling write.
const fillChunk = 1 << 20

// wal is an append-only log in one preallocated file. Each append writes
// the block(s) holding the new record, the current partial block
// included, then fdatasyncs: what raftmq's Raft log does for a lone
// entry. It is not safe for concurrent use.
type wal struct {
	f      *os.File
	size   int64  // the file's preallocated size; appends wrap around at it
	pos    int64  // where the next record goes
	buf    []byte // block-aligned; buf[:pos%blockSize] is the partial block's content
	direct bool
	// written counts the bytes appended, for tests (which read it while
	// the server runs).
	written atomic.Int64
}

// openLog creates path with size bytes, zero-filled and synced, or
// preallocated with fallocate (unwritten extents) when fallocate is set.
// It opens the file with O_DIRECT where the file system allows it.
func openLog(path string, size int64, fallocate bool) (*wal, error) {
	size = max(size, 2*fillChunk) &^ (fillChunk - 1)
	direct := true
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC|unix.O_DIRECT, 0o644)
	if errors.Is(err, unix.EINVAL) { // tmpfs and some overlay mounts
		direct = false
		f, err = os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	}
	if err != nil {
		return nil, fmt.Errorf("syncfloor: open log: %w", err)
	}
	w := &wal{f: f, size: size, direct: direct, buf: alignedBuf(fillChunk)}
	if err := w.prepare(fallocate); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// prepare preallocates the file and syncs it, so that appends change
// neither its size nor (unless fallocate) its extents.
func (w *wal) prepare(fallocate bool) error {
	if fallocate {
		if err := unix.Fallocate(int(w.f.Fd()), 0, 0, w.size); err != nil {
			return fmt.Errorf("syncfloor: fallocate log: %w", err)
		}
	} else {
		for off := int64(0); off < w.size; off += fillChunk {
			if _, err := w.f.WriteAt(w.buf, off); err != nil {
				return fmt.Errorf("syncfloor: zero-fill log: %w", err)
			}
		}
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("syncfloor: sync log: %w", err)
	}
	return nil
}

// append writes rec after the records before it and makes it durable.
func (w *wal) append(rec []byte) error {
	n := int64(len(rec))
	if n > int64(len(w.buf))-blockSize {
		return fmt.Errorf("syncfloor: record of %d bytes is over the log's limit", n)
	}
	if w.pos+n > w.size {
		w.pos = 0 // wrap: the floor's log only needs to be long enough to measure
	}
	start := w.pos &^ (blockSize - 1)
	end := (w.pos + n + blockSize - 1) &^ (blockSize - 1)
	off := w.pos - start
	copy(w.buf[off:], rec)
	clear(w.buf[off+n : end-start]) // the rest of the last block, as the file holds it
	if _, err := w.f.WriteAt(w.buf[:end-start], start); err != nil {
		return fmt.Errorf("syncfloor: write log: %w", err)
	}
	if err := unix.Fdatasync(int(w.f.Fd())); err != nil {
		return fmt.Errorf("syncfloor: fdatasync log: %w", err)
	}
	w.pos += n
	w.written.Add(n)
	// Keep the new partial block at the front of buf for the next append.
	next := w.pos &^ (blockSize - 1)
	copy(w.buf, w.buf[next-start:w.pos-start])
	return nil
}

// close closes and removes the log file.
func (w *wal) close() error {
	err := w.f.Close()
	if rerr := os.Remove(w.f.Name()); err == nil {
		err = rerr
	}
	return err
}

// alignedBuf returns n bytes starting at a blockSize boundary, as
// O_DIRECT requires of the memory it writes from.
func alignedBuf(n int) []byte {
	b := make([]byte, n+blockSize)
	skip := (blockSize - int(uintptr(unsafe.Pointer(&b[0]))%blockSize)) % blockSize
	return b[skip : skip+n : skip+n]
}
