package cqueue

import "fmt"

// Put writes entries at queue offsets queueOffset, queueOffset+1, ... It
// appends when queueOffset == MaxOffset and overwrites in place when it is
// lower (crash recovery re-dispatching from its checkpoint); queueOffset
// must be in [MinOffset, MaxOffset], else ErrOffset. Every entry must have
// Size > 0, else ErrInvalidEntry and nothing is written. Put creates files
// as needed, issues one write per file touched and raises MaxOffset to
// queueOffset+len(entries) once the writes completed. It does not sync.
//
// After an I/O error MaxOffset is unchanged, but some of the entries may
// have reached the files; calling Put again at the same offset is safe.
func (q *Queue) Put(queueOffset uint64, entries []Entry) error {
	if q.closed.Load() {
		return ErrClosed
	}
	for i, e := range entries {
		if e.Size == 0 {
			return fmt.Errorf("%w: entry for queue offset %d has size 0", ErrInvalidEntry, queueOffset+uint64(i))
		}
	}
	lo, hi := q.min.Load(), q.max.Load()
	if queueOffset < lo || queueOffset > hi {
		return fmt.Errorf("%w: put at %d outside [%d, %d]", ErrOffset, queueOffset, lo, hi)
	}
	end := queueOffset + uint64(len(entries))
	for off := queueOffset; off < end; {
		idx := off / q.epf
		stop := min(end, (idx+1)*q.epf)
		if err := q.writeChunk(idx, off, entries[off-queueOffset:stop-queueOffset]); err != nil {
			return err
		}
		off = stop
	}
	if end > hi {
		q.max.Store(end)
	}
	return nil
}

// writeChunk writes entries that all fall in file idx, starting at queue
// offset off, with one WriteAt.
func (q *Queue) writeChunk(idx, off uint64, entries []Entry) error {
	if idx > q.end || (q.first != q.end && idx < q.first) {
		return fmt.Errorf("%w: write to file %d outside files [%d, %d)", ErrCorrupt, idx, q.first, q.end)
	}
	h, err := q.acquire(idx)
	if err != nil {
		return err
	}
	if idx == q.end { // acquire created it
		if q.first == q.end {
			q.first = idx
		}
		q.end = idx + 1
		q.dirDirty = true
	}
	q.wbuf = q.wbuf[:0]
	for _, e := range entries {
		q.wbuf = e.AppendTo(q.wbuf)
	}
	if _, err := h.f.WriteAt(q.wbuf, int64((off-idx*q.epf)*EntrySize)); err != nil {
		q.hdls.release(h)
		return fmt.Errorf("cqueue: write %s: %w", q.path(idx), err)
	}
	q.markDirty(idx, h)
	return nil
}

// Truncate drops every entry at or after queueOffset: it cuts the file
// holding queueOffset just before it, removes every later file (newest
// first) and sets MaxOffset to queueOffset. The store calls it when the
// CommitLog's torn tail is cut off. queueOffset is clamped to [MinOffset,
// MaxOffset]: offsets below MinOffset were already handed out and deleted
// by retention, so cutting there leaves an empty queue positioned at
// MinOffset (MinOffset == MaxOffset) rather than moving the queue back.
// The cut is durable after the next Sync; the removals are durable at once.
func (q *Queue) Truncate(queueOffset uint64) error {
	if q.closed.Load() {
		return ErrClosed
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	qo := min(max(queueOffset, q.min.Load()), q.max.Load())
	// Lower MaxOffset first: once the lock is released readers must not
	// read what is cut, and a failure part way leaves nothing visible that
	// may be gone.
	q.max.Store(qo)
	return q.cutTail(qo)
}

// Filler is the entry Reset writes for queue offsets below a queue's first
// real entry: a queue rebuilt on a replica whose CommitLog starts after
// retention deleted the queue's first messages has no entries for them.
// Its Offset of -1 lies below every CommitLog offset, so DeleteBefore moves
// MinOffset past fillers and readers never see them. Format: must not
// change.
var Filler = Entry{Offset: -1, Size: 1}

// Reset positions a queue that never had an entry so that its first entry
// goes to queue offset start: MinOffset = MaxOffset = start. Offsets from
// the start of start's file up to start are filled with Filler entries
// (files are indexed by queue offset). It fails with ErrOffset if the
// queue has or had entries.
func (q *Queue) Reset(start uint64) error {
	if q.closed.Load() {
		return ErrClosed
	}
	if q.max.Load() != 0 || q.first != q.end {
		return fmt.Errorf("%w: reset to %d of a queue that has entries (max %d)", ErrOffset, start, q.max.Load())
	}
	base := start / q.epf * q.epf
	q.first, q.end = base/q.epf, base/q.epf // no files yet; the first one is base's
	q.mu.Lock()
	q.min.Store(base)
	q.max.Store(base)
	q.mu.Unlock()
	if start > base {
		fill := make([]Entry, start-base)
		for i := range fill {
			fill[i] = Filler
		}
		if err := q.Put(base, fill); err != nil {
			return err
		}
	}
	q.mu.Lock()
	q.min.Store(start)
	q.mu.Unlock()
	return nil
}
