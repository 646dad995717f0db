package cqueue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/raftmq/raftmq/store/vfs"
)

// Queue is the ConsumeQueue of one topic queue, stored in its own directory.
//
// Goroutines: one writer calls Put, Truncate, DeleteBefore, Sync, Close and
// Remove, never two of them at once (the store serialises them); any number
// of readers call Get, Search, SearchPhys, MinOffset and MaxOffset at the
// same time as the writer and each other.
type Queue struct {
	fs   vfs.FS
	dir  string
	epf  uint64 // entries per file
	hdls *handleCache

	// mu keeps files from changing shape under readers: Get holds it
	// shared across its reads; Truncate, DeleteBefore and Close hold it
	// exclusively while they cut, remove or close files and move
	// MinOffset or lower MaxOffset. Put does not take it (see doc.go).
	mu sync.RWMutex

	min    atomic.Uint64 // first readable queue offset; written under mu
	max    atomic.Uint64 // next queue offset to write; raised by Put after its writes
	closed atomic.Bool   // set by Close under mu

	// Owned by the writer goroutine; readers never touch them.
	first, end uint64             // file indices present: [first, end)
	dirty      map[uint64]*handle // files written or cut since Sync; each holds one ref
	dirDirty   bool               // files created or removed since the last SyncDir
	wbuf       []byte             // Put's encode buffer
}

// Open opens the queue stored in dir, creating dir (and syncing its parent)
// if it does not exist. MinOffset starts at the first file's first entry;
// the store calls DeleteBefore with the CommitLog's minimum offset right
// after Open to restore the exact minimum. MaxOffset is found by scanning
// the last file(s) for the first unwritten entry, and the tail past it is
// cut off (see the package doc).
func Open(fs vfs.FS, dir string, opts Options) (*Queue, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	names, err := fs.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := fs.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cqueue: create %s: %w", dir, err)
		}
		if err := fs.SyncDir(filepath.Dir(dir)); err != nil {
			return nil, fmt.Errorf("cqueue: sync parent of %s: %w", dir, err)
		}
		names = nil
	} else if err != nil {
		return nil, fmt.Errorf("cqueue: list %s: %w", dir, err)
	}
	q := &Queue{
		fs:    fs,
		dir:   dir,
		epf:   uint64(opts.EntriesPerFile),
		dirty: make(map[uint64]*handle),
	}
	q.hdls = newHandleCache(fs, q.path)
	idxs, err := q.parseNames(names)
	if err != nil {
		return nil, err
	}
	if len(idxs) > 0 {
		q.first, q.end = idxs[0], idxs[len(idxs)-1]+1
	}
	if err := q.recover(); err != nil {
		q.unpinAll()
		return nil, errors.Join(err, q.hdls.retireAll())
	}
	return q, nil
}

// MinOffset is the first queue offset Get can read. It only moves forward
// while the queue is open (DeleteBefore); after a reopen it starts at the
// first file's first entry until DeleteBefore restores it.
func (q *Queue) MinOffset() uint64 { return q.min.Load() }

// MaxOffset is the queue offset the next appended entry gets: the exclusive
// end of the readable entries.
func (q *Queue) MaxOffset() uint64 { return q.max.Load() }

// Sync makes every entry written and every file cut since the last Sync
// durable (fdatasync per file), then syncs the directory if files were
// created or removed. The store may checkpoint the queue's MaxOffset only
// after Sync returns. On error the unsynced files stay pending and a later
// Sync retries them.
func (q *Queue) Sync() error {
	if q.closed.Load() {
		return ErrClosed
	}
	return q.syncWriter()
}

func (q *Queue) syncWriter() error {
	for idx, h := range q.dirty {
		if err := h.f.Sync(); err != nil {
			return fmt.Errorf("cqueue: sync %s: %w", q.path(idx), err)
		}
		delete(q.dirty, idx)
		q.hdls.release(h)
	}
	if q.dirDirty {
		if err := q.fs.SyncDir(q.dir); err != nil {
			return fmt.Errorf("cqueue: sync dir %s: %w", q.dir, err)
		}
		q.dirDirty = false
	}
	return nil
}

// Close syncs the queue (as Sync) and closes its files. It waits for
// readers in flight; later calls get ErrClosed. The files are closed even
// when the sync fails, and the error is returned.
func (q *Queue) Close() error {
	if q.closed.Load() {
		return ErrClosed
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	err := q.syncWriter()
	q.unpinAll()
	q.closed.Store(true)
	return errors.Join(err, q.hdls.retireAll())
}

// Remove closes the queue if it is open and deletes its directory with
// every file in it, then syncs the parent directory. It is how the store
// drops a queue or rebuilds a corrupt one.
func (q *Queue) Remove() error {
	var errs []error
	if err := q.Close(); err != nil && !errors.Is(err, ErrClosed) {
		errs = append(errs, err)
	}
	if err := q.fs.RemoveAll(q.dir); err != nil {
		errs = append(errs, fmt.Errorf("cqueue: remove %s: %w", q.dir, err))
	} else if err := q.fs.SyncDir(filepath.Dir(q.dir)); err != nil {
		errs = append(errs, fmt.Errorf("cqueue: sync parent of %s: %w", q.dir, err))
	}
	return errors.Join(errs...)
}

// path is the name of file idx: its first byte offset in the stream as 20
// zero-padded digits.
func (q *Queue) path(idx uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%020d", idx*q.epf*EntrySize))
}

// acquire returns the handle of file idx; the caller releases it.
func (q *Queue) acquire(idx uint64) (*handle, error) {
	h, err := q.hdls.acquire(idx)
	if err != nil {
		return nil, fmt.Errorf("cqueue: open %s: %w", q.path(idx), err)
	}
	return h, nil
}

// markDirty records that file idx was changed; it keeps the caller's
// reference to h as the pin that Sync releases.
func (q *Queue) markDirty(idx uint64, h *handle) {
	if _, ok := q.dirty[idx]; ok {
		q.hdls.release(h)
		return
	}
	q.dirty[idx] = h
}

// unpinAll drops the writer's pins without syncing.
func (q *Queue) unpinAll() {
	for idx, h := range q.dirty {
		delete(q.dirty, idx)
		q.hdls.release(h)
	}
}

// removeFile deletes file idx and syncs the directory, so that removals
// reach the disk in the order they are made.
func (q *Queue) removeFile(idx uint64) error {
	if h, ok := q.dirty[idx]; ok {
		delete(q.dirty, idx)
		q.hdls.release(h)
	}
	if err := q.hdls.retire(idx); err != nil {
		return fmt.Errorf("cqueue: close %s: %w", q.path(idx), err)
	}
	if err := q.fs.Remove(q.path(idx)); err != nil {
		return fmt.Errorf("cqueue: remove %s: %w", q.path(idx), err)
	}
	if err := q.fs.SyncDir(q.dir); err != nil {
		return fmt.Errorf("cqueue: sync dir %s: %w", q.dir, err)
	}
	return nil
}

// SyncBatch is what one Sync would make durable, taken from the writer by
// TakeDirty so that the fsyncs can run without holding up appends.
type SyncBatch struct {
	q     *Queue
	files map[uint64]*handle
	dir   bool
}

// TakeDirty hands the files written since the last Sync (and whether the
// directory changed) to a SyncBatch. It is a writer operation (serialised
// with Put); the returned batch's Sync may then run concurrently with Put.
// Entries written after TakeDirty are not covered by the batch.
func (q *Queue) TakeDirty() *SyncBatch {
	b := &SyncBatch{q: q, files: q.dirty, dir: q.dirDirty}
	q.dirty, q.dirDirty = make(map[uint64]*handle), false
	return b
}

// Sync fsyncs the batch's files and, if needed, the directory, then
// releases the files. It must be called exactly once.
func (b *SyncBatch) Sync() error {
	var first error
	for idx, h := range b.files {
		if first == nil {
			if err := h.f.Sync(); err != nil {
				first = fmt.Errorf("cqueue: sync %s: %w", b.q.path(idx), err)
			}
		}
		b.q.hdls.release(h)
	}
	b.files = nil
	if first == nil && b.dir {
		if err := b.q.fs.SyncDir(b.q.dir); err != nil {
			first = fmt.Errorf("cqueue: sync dir %s: %w", b.q.dir, err)
		}
	}
	return first
}
