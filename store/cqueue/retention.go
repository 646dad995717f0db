package cqueue

import (
	"fmt"
	"io"
)

// DeleteBefore applies retention after the CommitLog deleted everything
// below offset phys. It removes whole files whose every entry points below
// phys, judged by each file's last entry, oldest first, syncing the
// directory after each removal. It never removes the file holding entry
// MaxOffset-1 or any later file, even when every entry points below phys:
// that file is how a reopen finds MaxOffset again. It stops early at a file
// whose last entry is unwritten (a crash hole that re-dispatch will fill).
// Then MinOffset becomes the first queue offset whose entry points at phys
// or later (a binary search, normally within the first remaining file), or
// MaxOffset if none does; MinOffset never moves backwards while the queue
// is open.
//
// It returns how many files it removed. It is idempotent, and the store
// calls it right after Open with the CommitLog's minimum offset to restore
// MinOffset. An empty queue (MaxOffset == 0) is left alone.
func (q *Queue) DeleteBefore(phys int64) (files int, err error) {
	if q.closed.Load() {
		return 0, ErrClosed
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	maxOff := q.max.Load()
	if maxOff == 0 || q.first == q.end {
		return 0, nil
	}
	live := (maxOff - 1) / q.epf
	for q.first < live {
		last, err := q.readEntryLocked(q.first*q.epf + q.epf - 1)
		if err != nil {
			return files, err
		}
		if last.Size == 0 || last.Offset >= phys {
			break
		}
		if err := q.removeFile(q.first); err != nil {
			return files, err
		}
		q.first++
		files++
	}
	minOff, err := q.firstAtOrAfterLocked(phys, max(q.min.Load(), q.first*q.epf), maxOff)
	if err != nil {
		return files, err
	}
	if minOff > q.min.Load() {
		q.min.Store(minOff)
	}
	return files, nil
}

// firstAtOrAfterLocked returns the first queue offset in [lo, hi) whose
// entry points at phys or later, or hi if there is none. It binary-searches
// one file at a time, starting with lo's, and treats an unwritten entry as
// a match, so that MinOffset never passes a hole that re-dispatch must
// still fill. The caller holds q.mu exclusively.
func (q *Queue) firstAtOrAfterLocked(phys int64, lo, hi uint64) (uint64, error) {
	for lo < hi {
		fileHi := min(hi, (lo/q.epf+1)*q.epf)
		a, b := lo, fileHi
		for a < b {
			mid := a + (b-a)/2
			e, err := q.readEntryLocked(mid)
			if err != nil {
				return 0, err
			}
			if e.Size == 0 || e.Offset >= phys {
				b = mid
			} else {
				a = mid + 1
			}
		}
		if a < fileHi {
			return a, nil
		}
		lo = fileHi
	}
	return hi, nil
}

// readEntryLocked reads the entry at queue offset qo; past the end of its
// file it returns the zero Entry (unwritten). The caller holds q.mu or is
// the writer.
func (q *Queue) readEntryLocked(qo uint64) (Entry, error) {
	idx := qo / q.epf
	h, err := q.acquire(idx)
	if err != nil {
		return Entry{}, err
	}
	defer q.hdls.release(h)
	var b [EntrySize]byte
	got, err := h.f.ReadAt(b[:], int64((qo-idx*q.epf)*EntrySize))
	if got < EntrySize {
		if err == nil || err == io.EOF {
			return Entry{}, nil
		}
		return Entry{}, fmt.Errorf("cqueue: read %s: %w", q.path(idx), err)
	}
	return DecodeEntry(b[:]), nil
}
